"""Both CSV exports of the activity log (the API's and the dashboard's), on SQLite and
PostgreSQL: a value a spreadsheet would run as a formula is exported as text (OWASP "CSV
Injection": a leading single quote, the cell quoted)."""

from __future__ import annotations

import csv
import io

import pytest

from tests.tether.web.conftest import World
from tests.tether.web.test_dashboard_auth import ADMIN, sign_in
from tests.tether.web.test_events_api import batch, email_sent, planned, post
from tether.store.db import make_engine, session_factory
from tether.store.models import ActivityRow, new_id, utcnow

LEADING = ["=", "+", "-", "@", "\t", "\r"]
EXPORTS = ["api", "dashboard"]


def export(world: World, which: str) -> str:
    if which == "api":
        r = world.client.get("/api/v1/activity-log.csv", headers=world.as_admin())
    else:
        sign_in(world.client, ADMIN)
        r = world.client.get("/app/activity.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    text: str = r.text
    return text


def records(text: str) -> list[dict[str, str]]:
    header, *rows = list(csv.reader(io.StringIO(text, newline="")))
    return [dict(zip(header, row, strict=True)) for row in rows]


def store_activity(world: World, recipient: str, reason: str = "no connection",
                   error_message: str | None = None) -> None:
    """An activity as the planner stores it, with whatever recipient the test needs (the API
    trims an address's whitespace, so a leading tab or CR only gets in this way)."""
    engine = make_engine(world.url)
    try:
        with session_factory(engine)() as db:
            db.add(ActivityRow(id=new_id(), workspace_id=world.workspace_id, event_id="e1",
                               membership_id=world.member_id, recipient=recipient,
                               type="email.sent", status="ignored", reason=reason,
                               error_message=error_message, occurred_at=utcnow(),
                               salesforce_ids=[], attempts=0))
            db.commit()
    finally:
        engine.dispose()


@pytest.mark.parametrize("which", EXPORTS)
def test_an_event_recipient_that_is_a_formula_is_exported_as_text(world: World,
                                                                   which: str) -> None:
    """End to end: posted as an event, planned by the embedded worker, exported."""
    probe = "=1+2@csv-probe.example"
    assert post(world, batch(email_sent("f-1", message={
        "id": "<f-1@acme.example>", "thread_id": "t1", "subject": "Intro", "to": [probe],
        "cc": [], "bcc": [], "is_reply": False, "sent_via": "tether"}))).status_code == 202
    planned(world, 1)
    text = export(world, which)
    assert [x["recipient"] for x in records(text)] == ["'" + probe]
    assert f',"\'{probe}",' in text  # quoted, as the csv module quotes
    assert f",{probe}," not in text


@pytest.mark.parametrize("which", EXPORTS)
@pytest.mark.parametrize("lead", LEADING, ids=["eq", "plus", "minus", "at", "tab", "cr"])
def test_every_leading_formula_character_is_neutralised(world: World, which: str,
                                                        lead: str) -> None:
    value = f"{lead}1+2@csv-probe.example"
    store_activity(world, value, error_message=f"{lead}HYPERLINK(\"x\")")
    [row] = records(export(world, which))
    assert row["recipient"] == "'" + value
    assert row["error_message"] == f"'{lead}HYPERLINK(\"x\")"


@pytest.mark.parametrize("which", EXPORTS)
def test_ordinary_values_are_exported_as_they_are(world: World, which: str) -> None:
    store_activity(world, "a=b@csv-probe.example", reason="refused; =1+2, try later")
    text = export(world, which)
    [row] = records(text)
    assert row["recipient"] == "a=b@csv-probe.example"
    assert row["reason"] == "refused; =1+2, try later"
    assert row["attempts"] == "0"
    # A separator inside a value stays inside its quoted cell (no new cell starting "=").
    assert '"refused; =1+2, try later"' in text
    assert text.startswith("created_at,occurred_at,")

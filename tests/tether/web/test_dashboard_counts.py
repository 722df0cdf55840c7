"""The dashboard's counts, on SQLite and PostgreSQL: members without a role of their own, and
their activity, count in the default role (Members & Roles, the role page, the activity API's
role_id and the role filter); activity planned before that carries it after migration 0008.

The app here runs without its worker: the test plans events itself, when it chooses."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from tests.tether.web.conftest import World, db_of, make_world
from tests.tether.web.test_dashboard_auth import ADMIN, sign_in
from tether.services import planning
from tether.store.db import make_engine, session_factory
from tether.store.migrate import upgrade
from tether.store.models import ActivityRow, Workspace, new_id, utcnow
from tether.web.app import create_app


@pytest.fixture
def quiet(migrated_url: str, tmp_path: Path) -> Iterator[World]:
    """A world whose app plans nothing by itself."""
    w, settings = make_world(migrated_url, tmp_path)
    w.client = TestClient(create_app(settings, embedded_worker=False))
    with w.client:
        yield w


def default_role(world: World) -> str:
    with db_of(world) as db:
        workspace = db.get(Workspace, world.workspace_id)
        assert workspace is not None and workspace.default_role_id
        return workspace.default_role_id


def plan(world: World) -> None:
    with db_of(world) as db:
        planning.plan_new_events(db)
        db.commit()


def email_sent(ident: str, to: str, user: str = "rep@acme.example") -> dict[str, Any]:
    return {"id": ident, "type": "email.sent", "occurred_at": "2026-11-28T10:00:00Z",
            "user": user, "message": {"id": f"<{ident}@acme.example>", "subject": "Intro",
                                      "to": [to]}}


def stat(page: str, label: str) -> int:
    """The number of a stat card whose label has ``label``."""
    found = re.search(r'<div class="n">([\d,]+)</div><div class="l">(?:(?!</div>).)*'
                      + re.escape(label), page)
    assert found, f"no stat {label}"
    return int(found.group(1).replace(",", ""))


def test_members_without_a_role_are_in_the_default_role(quiet: World) -> None:
    role_id = default_role(quiet)
    sign_in(quiet.client, ADMIN)
    page = quiet.client.get("/app/members").text
    row = re.search(rf'href="/app/roles/{role_id}">Default</a>.*?<td>(\d+)</td>', page, re.S)
    assert row and row.group(1) == "2"  # the admin and the rep: neither has a role of theirs
    page = quiet.client.get(f"/app/roles/{role_id}").text
    assert stat(page, "Members in this role") == 2
    assert "admin@acme.example, rep@acme.example" in page
    # A member given a role of their own leaves the default one.
    r = quiet.client.post("/api/v1/roles", json={"name": "Reps"}, headers=quiet.as_admin())
    reps = r.json()["id"]
    assert quiet.client.patch(f"/api/v1/members/{quiet.member_id}", json={"role_id": reps},
                              headers=quiet.as_admin()).status_code == 200
    assert stat(quiet.client.get(f"/app/roles/{role_id}").text, "Members in this role") == 1
    assert stat(quiet.client.get(f"/app/roles/{reps}").text, "Members in this role") == 1


def test_their_activity_carries_the_default_role(quiet: World) -> None:
    role_id = default_role(quiet)
    headers = quiet.as_admin()
    assert quiet.client.post("/api/v1/exclusions", json={"kind": "domain",
                                                          "value": "rivals.example"},
                             headers=headers).status_code == 201
    r = quiet.client.post("/api/v1/events", headers=headers, json={"events": [
        email_sent("e-1", "spy@rivals.example"), email_sent("e-2", "jane@globex.example")]})
    assert r.status_code == 202, r.text
    plan(quiet)
    items = quiet.client.get("/api/v1/activity-log", headers=headers).json()["items"]
    assert {i["event_id"]: i["role_id"] for i in items} == {"e-1": role_id, "e-2": role_id}
    in_role = quiet.client.get(f"/api/v1/activity-log?role={role_id}", headers=headers).json()
    assert len(in_role["items"]) == 2 and in_role["counts"]["ignored"] == 1
    sign_in(quiet.client, ADMIN)
    page = quiet.client.get(f"/app/roles/{role_id}").text
    assert stat(page, "Ignored") == 1 and stat(page, "Synced") == 0


def test_activity_planned_before_0008_gets_the_default_role(database_url: str) -> None:
    upgrade(database_url, "0007")
    engine = make_engine(database_url)
    with engine.begin() as conn:
        now = utcnow()
        for ws_id, role in (("w1", "r1"), ("w2", None)):
            conn.execute(text("INSERT INTO workspace (id, name, plan, default_role_id, "
                              "salesforce_is_sandbox, interval_minutes, api_budget_percent, "
                              "pending_window_hours, created_at) VALUES (:id, 'W', 'growth', "
                              ":role, false, 30, 70, 24, :now)"),
                         {"id": ws_id, "role": role, "now": now})
        for ws_id, role in (("w1", None), ("w1", "kept"), ("w2", None)):
            conn.execute(text(
                "INSERT INTO activity (id, workspace_id, event_id, membership_id, role_id, "
                "type, recipient, status, reason, priority, salesforce_ids, attempts, "
                "occurred_at, created_at, updated_at) VALUES (:id, :ws, :id, 'm', :role, "
                "'email.sent', '', 'synced', '', 0, '[]', 0, :now, :now, :now)"),
                {"id": new_id(), "ws": ws_id, "role": role, "now": now})
    upgrade(database_url)
    with session_factory(engine)() as db:
        roles = sorted((a.workspace_id, a.role_id or "") for a in db.scalars(
            select(ActivityRow)))
    engine.dispose()
    # The default role where the workspace has one; a role already set is kept.
    assert roles == [("w1", "kept"), ("w1", "r1"), ("w2", "")]


def test_an_accepted_event_shows_at_once_as_received(quiet: World) -> None:
    r = quiet.client.post("/api/v1/events", json=email_sent("e-9", "jane@globex.example"),
                          headers=quiet.as_member())
    assert r.status_code == 202, r.text
    sign_in(quiet.client, ADMIN)
    rows = quiet.client.get("/app/activity/rows").text
    assert stat(rows, "Pending") == 1 and rows.count("<tr>") == 2  # the head, and e-9
    line = re.search(r"<tr>\s*<td[^>]*>(?:(?!</tr>).)*e-9(?:(?!</tr>).)*</tr>", rows, re.S)
    assert line is not None
    assert "jane@globex.example" in line.group(0) and ">received<" in line.group(0)
    assert "Tether plans it in a moment" in line.group(0)
    assert 'href="/app/activity/' not in line.group(0)  # no detail yet: nothing planned
    # The filters apply to it as to the rest of the log.
    assert "e-9" not in quiet.client.get("/app/activity/rows?status=synced").text
    assert "e-9" in quiet.client.get(f"/app/activity/rows?role={default_role(quiet)}").text
    assert "e-9" not in quiet.client.get("/app/activity/rows?type=email.opened").text
    assert "e-9" not in quiet.client.get("/app/activity/rows?user=admin@acme.example").text
    # The JSON API's log is the planned activity only, as before.
    assert quiet.client.get("/api/v1/activity-log", headers=quiet.as_admin()).json()[
        "items"] == []

    plan(quiet)  # once planned, its activity takes its place: never both
    rows = quiet.client.get("/app/activity/rows").text
    assert ">received<" not in rows and rows.count("<tr>") == 2
    assert stat(rows, "Pending") == 1 and 'href="/app/activity/' in rows


def test_a_rep_sees_only_their_own_received_events(quiet: World) -> None:
    for ident, user, key in (("mine", "rep@acme.example", quiet.as_member()),
                             ("admins", ADMIN, quiet.as_admin())):
        r = quiet.client.post("/api/v1/events", json=email_sent(ident, "jane@globex.example",
                                                                user=user), headers=key)
        assert r.status_code == 202, r.text
    sign_in(quiet.client, "rep@acme.example")
    rows = quiet.client.get("/app/activity/rows").text
    assert "mine" in rows and "admins" not in rows and stat(rows, "Pending") == 1


def nav(page: str) -> list[str]:
    found = re.search(r'<nav class="side"[^>]*>(.*?)</nav>', page, re.S)
    assert found is not None
    return re.findall(r'href="([^"]+)"', found.group(1))


def test_a_rep_is_shown_only_the_pages_they_may_open(quiet: World) -> None:
    rep = TestClient(quiet.client.app)
    sign_in(rep, "rep@acme.example")
    links = nav(rep.get("/app/activity").text)
    assert "/app/members" not in links
    assert all(rep.get(href).status_code == 200 for href in links)
    sign_in(quiet.client, ADMIN)
    assert nav(quiet.client.get("/app/activity").text) == [
        "/app/people", "/app/compose", "/app/outbox", "/app/sequences", "/app/tasks",
        "/app/templates", "/app/mailbox",
        "/app/integrations", "/app/members", "/app/settings", "/app/activity", "/app/usage",
        "/app/syncs"]


def test_an_admin_is_sent_to_the_role_page_not_to_an_administrator(quiet: World) -> None:
    sign_in(quiet.client, ADMIN)
    page = quiet.client.get("/app/settings").text
    assert "reach out to your administrator" not in page
    assert f'<a href="/app/roles/{default_role(quiet)}">the role\'s page</a>' in page
    rep = TestClient(quiet.client.app)
    sign_in(rep, "rep@acme.example")
    page = rep.get("/app/settings").text
    assert "reach out to your administrator" in page and "/app/roles/" not in page

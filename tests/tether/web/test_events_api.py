"""POST /api/v1/events and the activity log (CONTRACTS "Tether HTTP API v1"), on SQLite and
PostgreSQL: all of a request stored or none of it, idempotent on the event id, each key
posting for whom it may; the log scoped to the member, with its counts and a CSV export."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.tether.web.conftest import World
from tether.store.db import make_engine, session_factory
from tether.store.models import EventRow

ADMIN = "admin@acme.example"
REP = "rep@acme.example"
WAITING = "has no Salesforce connection yet: logged once they connect"


def email_sent(ident: str, user: str = REP, **kw: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": ident, "type": "email.sent", "occurred_at": "2026-11-28T10:00:00Z", "user": user,
        "message": {"id": f"<{ident}@acme.example>", "thread_id": "t1", "subject": "Intro",
                    "to": ["jane@globex.example"], "cc": [], "bcc": [], "is_reply": False,
                    "sent_via": "tether"}}
    event.update(kw)
    return event


def batch(*events: dict[str, Any]) -> dict[str, Any]:
    return {"events": list(events)}


def post(world: World, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    r: httpx.Response = world.client.post(
        "/api/v1/events", json=body, headers=headers if headers is not None else world.as_member())
    return r


def stored(world: World) -> dict[str, EventRow]:
    """The workspace's events, read from the database itself."""
    engine = make_engine(world.url)
    try:
        with session_factory(engine)() as db:
            rows = db.scalars(select(EventRow).where(
                EventRow.workspace_id == world.workspace_id)).all()
            return {r.id: r for r in rows}
    finally:
        engine.dispose()


def assert_invalid(r: httpx.Response, field: str) -> None:
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and r.json()["detail"]


# posting events

def test_one_event_is_accepted_and_stored(world: World) -> None:
    r = post(world, email_sent("e-1"))
    assert r.status_code == 202 and r.json() == {"accepted": ["e-1"]}
    row = stored(world)["e-1"]
    assert row.type == "email.sent" and row.membership_id == world.member_id
    assert row.payload["message"]["subject"] == "Intro"


def test_a_batch_of_1000_is_accepted(world: World) -> None:
    r = post(world, batch(*(email_sent(f"b-{i}") for i in range(1000))))
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == [f"b-{i}" for i in range(1000)]
    assert len(stored(world)) == 1000


def test_a_batch_of_1001_is_refused(world: World) -> None:
    r = post(world, batch(*(email_sent(f"b-{i}") for i in range(1001))))
    assert r.status_code == 422 and r.json()["field"] == "events"
    assert stored(world) == {}


def test_an_empty_batch_is_refused(world: World) -> None:
    assert post(world, batch()).json()["field"] == "events"


def test_one_bad_event_refuses_the_whole_batch_naming_its_field(world: World) -> None:
    events = [email_sent(f"b-{i}") for i in range(5)]
    events[3]["message"]["to"] = ["not-an-email"]
    assert_invalid(post(world, batch(*events)), "events[3].message.to[0]")
    assert stored(world) == {}


def test_a_lone_event_is_named_without_a_prefix(world: World) -> None:
    bad = email_sent("e-1")
    bad["message"]["cc"] = ["jane@globex.example", "nobody"]
    assert_invalid(post(world, bad), "message.cc[1]")


def test_missing_parts_are_named(world: World) -> None:
    no_message_id = email_sent("b-1")
    del no_message_id["message"]["id"]
    assert_invalid(post(world, batch(email_sent("b-0"), no_message_id)),
                   "events[1].message.id")
    clicked = email_sent("b-1", type="email.clicked", recipient="jane@globex.example")
    assert_invalid(post(world, batch(email_sent("b-0"), clicked)), "events[1].url")
    naive = email_sent("b-2", occurred_at="2026-11-28T10:00:00")
    assert_invalid(post(world, batch(email_sent("b-0"), email_sent("b-1"), naive)),
                   "events[2].occurred_at")
    assert stored(world) == {}


def test_a_meeting_with_one_naive_time_is_a_422_not_a_500(world: World) -> None:
    meeting = {"id": "e-m", "type": "meeting.confirmed", "occurred_at": "2026-11-28T10:00:00Z",
               "user": REP, "meeting": {"id": "mt1", "title": "Demo",
                                        "start": "2026-12-01T10:00:00",
                                        "end": "2026-12-01T11:00:00Z", "organizer": REP,
                                        "attendees": ["jane@globex.example"]}}
    assert_invalid(post(world, meeting), "meeting.start")


def test_missing_or_unknown_type(world: World) -> None:
    untyped = email_sent("b-1")
    del untyped["type"]
    assert_invalid(post(world, batch(email_sent("b-0"), untyped)), "events[1].type")
    assert_invalid(post(world, batch(email_sent("b-0"), email_sent("b-1"),
                                     email_sent("b-2", type="email.forwarded"))),
                   "events[2].type")
    assert stored(world) == {}


def test_not_json_or_not_a_list(world: World) -> None:
    r = world.client.post("/api/v1/events", content=b"{nope", headers=world.as_member())
    assert r.status_code == 422 and r.json()["field"] == "events"
    assert post(world, {"events": {"id": "x"}}).status_code == 422


def test_the_same_id_twice_is_stored_once_and_unchanged(world: World) -> None:
    first = post(world, email_sent("same"))
    changed = email_sent("same")
    changed["message"]["subject"] = "Changed"
    again = post(world, changed)
    assert first.status_code == again.status_code == 202
    assert again.json() == {"accepted": ["same"]}
    rows = stored(world)
    assert list(rows) == ["same"]
    assert rows["same"].payload["message"]["subject"] == "Intro"
    # Twice in one request: once too.
    both = post(world, batch(email_sent("pair"), email_sent("pair")))
    assert both.status_code == 202 and sorted(stored(world)) == ["pair", "same"]


def test_an_event_for_a_non_member_is_refused(world: World) -> None:
    lone = post(world, email_sent("e-1", user="stranger@acme.example"), world.as_admin())
    assert_invalid(lone, "user")
    assert "stranger@acme.example" in lone.json()["detail"]
    r = post(world, batch(email_sent("b-0", user=ADMIN),
                          email_sent("b-1", user="stranger@acme.example")), world.as_admin())
    assert_invalid(r, "events[1].user")
    assert stored(world) == {}


def test_the_field_names_the_events_position_in_the_request(world: World) -> None:
    # A repeated id earlier in the batch must not shift the index the error names.
    r = post(world, batch(email_sent("b-0", user=ADMIN), email_sent("b-0", user=ADMIN),
                          email_sent("b-2", user="stranger@acme.example")), world.as_admin())
    assert_invalid(r, "events[2].user")


def test_a_members_key_posts_only_its_own_events(world: World) -> None:
    r = post(world, email_sent("e-1", user=ADMIN))
    assert r.status_code == 403 and ADMIN in r.json()["detail"]
    # Not even the member's own events of that request are stored.
    mixed = post(world, batch(email_sent("b-0"), email_sent("b-1", user=ADMIN)))
    assert mixed.status_code == 403
    assert stored(world) == {}
    # Addresses compare case-insensitively: the member's own, in capitals, is fine.
    assert post(world, email_sent("e-2", user=REP.upper())).status_code == 202


def test_the_admins_key_posts_for_a_member(world: World) -> None:
    r = post(world, batch(email_sent("b-0", user=REP), email_sent("b-1", user=ADMIN)),
             world.as_admin())
    assert r.status_code == 202
    rows = stored(world)
    assert rows["b-0"].membership_id == world.member_id
    assert rows["b-1"].membership_id != world.member_id


def test_posting_needs_a_key(world: World) -> None:
    assert post(world, email_sent("e-1"), {}).status_code == 401
    assert stored(world) == {}


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                  "1999-12-31T23:59:59Z", "2999-01-01T00:00:00Z"])
def test_an_occurred_at_outside_the_window_is_a_422_and_stores_nothing(world: World,
                                                                       when: str) -> None:
    """Such a date used to be stored and stop planning for every workspace."""
    r = post(world, batch(email_sent("ok"), email_sent("far", occurred_at=when)))
    assert_invalid(r, "events[1].occurred_at")
    assert "2000-01-01" in r.json()["detail"] and when[:19] in r.json()["detail"]
    assert stored(world) == {}


def test_scheduled_dates_may_be_ahead_but_not_absurdly(world: World) -> None:
    meeting = {"id": "m1", "title": "Demo", "start": "2027-03-01T10:00:00Z",
               "end": "2027-03-01T11:00:00Z", "organizer": REP,
               "attendees": ["jane@globex.example"]}
    ok = {"id": "mt", "type": "meeting.confirmed", "occurred_at": "2026-11-28T10:00:00Z",
          "user": REP, "meeting": meeting}
    assert post(world, ok).status_code == 202  # next quarter's meeting
    far = {**ok, "id": "mt2", "meeting": {**meeting, "end": "9999-12-31T23:59:59-14:00"}}
    assert_invalid(post(world, far), "meeting.end")
    task = {"id": "t1", "type": "task.created", "occurred_at": "2026-11-28T10:00:00Z",
            "user": REP, "task": {"id": "k1", "kind": "todo", "subject": "Call back",
                                  "due": "0001-01-01"}}
    assert_invalid(post(world, task), "task.due")


def test_an_unknown_field_is_named_not_dropped(world: World) -> None:
    r = post(world, email_sent("typo", sequnce={"name": "Q4", "stage": 1}))
    assert_invalid(r, "sequnce")
    assert "unknown field" in r.json()["detail"]
    nested = email_sent("typo2")
    nested["message"]["subjct"] = "Intro"
    assert_invalid(post(world, batch(email_sent("ok"), nested)), "events[1].message.subjct")
    assert stored(world) == {}


@pytest.mark.parametrize(("change", "field"), [
    ({"recipient": "x" * (1024 * 1024) + "@globex.example", "type": "email.opened"},
     "recipient"),
    ({"message": {"id": "<m@a.example>", "to": ["a" * 65 + "@globex.example"]}},
     "message.to[0]"),
    ({"message": {"id": "<m@a.example>", "to": ["j@" + "d" * 250 + ".example"]}},
     "message.to[0]"),
    ({"message": {"id": "<m@a.example>", "subject": "s" * 1001, "to": ["j@g.example"]}},
     "message.subject"),
    ({"message": {"id": "<" + "m" * 300 + ">", "to": ["j@g.example"]}}, "message.id"),
    ({"url": "https://a.example/" + "p" * 9000}, "url"),
])
def test_strings_have_bounds(world: World, change: dict[str, Any], field: str) -> None:
    assert_invalid(post(world, email_sent("long", **change)), field)
    assert stored(world) == {}


# the activity log

def log(world: World, headers: dict[str, str], query: str = "") -> dict[str, Any]:
    r = world.client.get(f"/api/v1/activity-log{query}", headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def planned(world: World, total: int, timeout: float = 30) -> dict[str, Any]:
    """The admin's view of the log once the embedded worker has planned ``total`` items."""
    deadline = time.monotonic() + timeout
    while True:
        body = log(world, world.as_admin(), "?limit=1000")
        # Items and counts are two queries; on SQLite each reads the latest commit, so wait
        # until a planning transaction that landed between them is in both.  Nobody here is
        # connected: planned items wait for that (pending, never dropped).
        if (sum(body["counts"].values()) >= total
                and all(WAITING in i["reason"] for i in body["items"])
                and len(body["items"]) == sum(body["counts"].values())):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


def post_three(world: World) -> None:
    assert post(world, batch(email_sent("a-1", user=ADMIN), email_sent("r-1", user=REP)),
                world.as_admin()).status_code == 202
    two = email_sent("r-2")
    two["message"]["cc"] = ["bob@globex.example"]
    assert post(world, two).status_code == 202


def test_log_without_a_connection_waits_and_is_scoped_to_the_member(world: World) -> None:
    post_three(world)  # four recipients: r-2 went to two people
    everyone = planned(world, 4)
    assert everyone["counts"] == {"synced": 0, "ignored": 0, "pending": 4, "errored": 0}
    assert len(everyone["items"]) == 4
    by_event = {(i["event_id"], i["recipient"]): i for i in everyone["items"]}
    assert set(by_event) == {("a-1", "jane@globex.example"), ("r-1", "jane@globex.example"),
                             ("r-2", "jane@globex.example"), ("r-2", "bob@globex.example")}
    for (event_id, _), item in by_event.items():
        owner = ADMIN if event_id == "a-1" else REP
        assert item["status"] == "pending" and item["type"] == "email.sent"
        assert item["reason"] == f"{owner} {WAITING}"
        assert item["salesforce_ids"] == [] and item["error_code"] is None
        assert item["user"] == owner

    mine = log(world, world.as_member())
    assert {i["event_id"] for i in mine["items"]} == {"r-1", "r-2"}
    assert all(i["user"] == REP for i in mine["items"])
    assert mine["counts"] == {"synced": 0, "ignored": 0, "pending": 3, "errored": 0}
    assert sum(mine["counts"].values()) == len(mine["items"])
    # Asking for another member's log gives a member their own.
    assert log(world, world.as_member(), f"?user={ADMIN}")["items"] == mine["items"]


def test_log_filters_by_status_and_refuses_unknown_ones(world: World) -> None:
    post_three(world)
    planned(world, 4)
    assert len(log(world, world.as_admin(), "?status=pending")["items"]) == 4
    assert log(world, world.as_admin(), "?status=synced")["items"] == []
    assert len(log(world, world.as_admin(), "?status=pending&limit=1")["items"]) == 1
    bad = world.client.get("/api/v1/activity-log?status=bogus", headers=world.as_admin())
    assert bad.status_code == 422 and bad.json()["field"] == "status"


def test_log_as_csv(world: World) -> None:
    post_three(world)
    planned(world, 4)
    r = world.client.get("/api/v1/activity-log.csv", headers=world.as_admin())
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    header, *rows = list(csv.reader(io.StringIO(r.text)))
    for column in ("event_id", "type", "recipient", "status", "reason", "user"):
        assert column in header
    records = [dict(zip(header, row, strict=True)) for row in rows]
    assert sorted((x["event_id"], x["recipient"]) for x in records) == [
        ("a-1", "jane@globex.example"), ("r-1", "jane@globex.example"),
        ("r-2", "bob@globex.example"), ("r-2", "jane@globex.example")]
    assert {x["status"] for x in records} == {"pending"}
    assert all("no Salesforce connection" in x["reason"] for x in records)
    # A member exports their own only.
    own = world.client.get("/api/v1/activity-log.csv", headers=world.as_member())
    assert len(list(csv.reader(io.StringIO(own.text)))) == 1 + 3


def _datetimes(value: Any) -> list[str]:
    """Every string in a JSON value that reads as a datetime."""
    if isinstance(value, dict):
        return [d for v in value.values() for d in _datetimes(v)]
    if isinstance(value, list):
        return [d for v in value for d in _datetimes(v)]
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        return [value]
    return []


def test_every_datetime_out_carries_its_offset(world: World) -> None:
    """occurred_at came back as 2026-11-28T10:00:00 (no zone) on SQLite."""
    post_three(world)
    body = planned(world, 4)
    item = body["items"][0]
    assert item["occurred_at"] == "2026-11-28T10:00:00Z"
    detail = world.client.get(f"/api/v1/activity-log/{item['id']}",
                              headers=world.as_admin()).json()
    found = _datetimes(body) + _datetimes(detail)
    for path in ("/api/v1/api-keys", "/api/v1/workspace", "/api/v1/salesforce/usage",
                 "/api/v1/salesforce/sync-runs"):
        r = world.client.get(path, headers=world.as_admin())
        assert r.status_code == 200, (path, r.text)
        found += _datetimes(r.json())
    csv_rows = list(csv.DictReader(io.StringIO(world.client.get(
        "/api/v1/activity-log.csv", headers=world.as_admin()).text)))
    found += [row[c] for row in csv_rows for c in ("created_at", "occurred_at")]
    assert len(found) > 10
    assert all(d.endswith("Z") for d in found), [d for d in found if not d.endswith("Z")]


def test_an_extreme_filter_date_is_a_422(world: World) -> None:
    for field in ("since", "until"):
        r = world.client.get("/api/v1/activity-log", headers=world.as_admin(),
                             params={field: "0001-01-01T00:00:00+14:00"})
        assert_invalid(r, field)

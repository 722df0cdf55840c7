"""The primary calendar end to end: a real CalDAV server (Radicale), the calendar watcher in
Tether's worker, and the Salesforce Events in sfemu (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.calendar_fixtures import event_ics
from tests.conftest import Sfemu
from tests.e2e.activity_env import Env, make_env
from tests.e2e.conftest import WATCH, Tether, serve
from tests.e2e.test_watch_mail import eventually
from tether.calendar.local_server import LocalCalendarServer

PASSWORD = "cal-secret-1"


@pytest.fixture
def cal_tether(migrated_url: str, sfemu: Sfemu, tmp_path: Path) -> Iterator[Tether]:
    with serve(migrated_url, sfemu, tmp_path, calendar_poll_seconds=1.0, **WATCH) as server:
        yield server


@pytest.fixture
def env(cal_tether: Tether) -> Env:
    return make_env(cal_tether)


@pytest.fixture
def calendar(env: Env, local_calendar: LocalCalendarServer) -> LocalCalendarServer:
    user = env.org["admin"]
    url = local_calendar.add_user(user, PASSWORD)
    with env.tether.client(env.key) as c:
        r = c.put("/api/v1/calendar", json={"url": url, "username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return local_calendar


def sf_events(env: Env, title: str) -> list[dict[str, Any]]:
    return env.soql("SELECT Id, Subject, StartDateTime, EndDateTime, WhoId FROM Event "
                    f"WHERE Subject = 'Meeting Confirmed: {title}'")


def test_a_calendar_is_checked_before_it_is_saved(env: Env,
                                                   local_calendar: LocalCalendarServer) -> None:
    user = env.org["admin"]
    url = local_calendar.add_user(user, PASSWORD)
    with env.tether.client(env.key) as c:
        wrong = c.put("/api/v1/calendar", json={"url": url, "username": user,
                                                "password": "not-it"})
        assert wrong.status_code == 422, wrong.text
        assert "authentication" in wrong.json()["detail"]
        assert c.get("/api/v1/calendar").status_code == 404  # nothing saved
        ok = c.put("/api/v1/calendar", json={"url": url, "username": user,
                                             "password": PASSWORD})
        assert ok.status_code == 200 and "password" not in ok.text
        assert c.get("/api/v1/calendar").json()["url"] == url


def test_an_event_created_moved_and_cancelled_in_the_calendar(env: Env,
                                                              calendar: LocalCalendarServer
                                                              ) -> None:
    user = env.org["admin"]
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).replace(microsecond=0, second=0,
                                                                     minute=0)
    def put(begin: dt.datetime, sequence: int = 0, status: str | None = None) -> None:
        calendar.put_event(user, "demo-1", event_ics(
            "demo-1", "Globex review", begin, begin + dt.timedelta(hours=1), organizer=user,
            attendees=["jane@globex.example"], sequence=sequence, status=status))

    put(start)
    [created] = eventually(lambda: sf_events(env, "Globex review"), what="the Event created")
    assert created["WhoId"] == env.records["contact"]
    put(start + dt.timedelta(days=1), sequence=1)
    moved_to = (start + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    [moved] = eventually(lambda: [e for e in sf_events(env, "Globex review")
                                  if e["StartDateTime"].startswith(moved_to)],
                         what="the Event moved")
    assert moved["Id"] == created["Id"]  # updated, not another one
    put(start + dt.timedelta(days=1), sequence=2, status="CANCELLED")
    eventually(lambda: not sf_events(env, "Globex review") or None,
               what="the cancelled meeting's Event deleted")


def test_an_event_organized_by_someone_else_is_ignored(env: Env,
                                                       calendar: LocalCalendarServer) -> None:
    user = env.org["admin"]
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    calendar.put_event(user, "theirs", event_ics(
        "theirs", "Their meeting", start, start + dt.timedelta(hours=1),
        organizer="colleague@acme.example", attendees=[user, "jane@globex.example"]))
    items = eventually(lambda: [i for i in env.log(status="ignored")["items"]
                                if i["type"] == "calendar.event"], what="the ignored meeting")
    assert "organizer" in items[0]["reason"]
    assert not sf_events(env, "Their meeting")


def test_a_removed_attendee_loses_their_event_and_a_series_is_expanded(
        env: Env, calendar: LocalCalendarServer) -> None:
    user = env.org["admin"]
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(microsecond=0, second=0)

    def put(attendees: list[str]) -> None:
        calendar.put_event(user, "weekly", event_ics(
            "weekly", "Weekly sync", start, start + dt.timedelta(minutes=30), organizer=user,
            attendees=attendees, rrule="FREQ=WEEKLY;COUNT=3"))

    put(["jane@globex.example", "lee@initech.example"])
    found = eventually(lambda: [e for e in sf_events(env, "Weekly sync")] if len(
        sf_events(env, "Weekly sync")) == 6 else None, what="3 occurrences x 2 attendees")
    assert {e["WhoId"] for e in found} == {env.records["contact"], env.records["lead"]}
    put(["jane@globex.example"])
    left = eventually(lambda: sf_events(env, "Weekly sync") if len(
        sf_events(env, "Weekly sync")) == 3 else None, what="Lee's Events deleted")
    assert {e["WhoId"] for e in left} == {env.records["contact"]}
    calendar.delete_event(user, "weekly")  # the series deleted from the calendar
    eventually(lambda: not sf_events(env, "Weekly sync") or None, what="its Events deleted")

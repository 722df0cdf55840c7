"""The local CalDAV server: quick to start, users with email addresses, events put and
deleted over CalDAV, stopped cleanly, its folder kept or removed."""

from __future__ import annotations

import datetime as dt
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.calendar_fixtures import event_ics
from tether.calendar.local_server import LocalCalendarServer

UTC = dt.UTC
USER = "admin@acme.example"


def _refused(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


def test_starts_quickly_and_stops_cleanly(tmp_path: Path) -> None:
    begun = time.monotonic()
    server = LocalCalendarServer(tmp_path / "caldav")
    server.start()
    try:
        assert time.monotonic() - begun < 2
        url = server.url
        assert url.startswith("http://127.0.0.1:") and server.port > 0
        assert httpx.request("OPTIONS", url + "/").status_code == 200
    finally:
        begun = time.monotonic()
        server.stop()
    assert time.monotonic() - begun < 2
    assert _refused(url)
    assert (tmp_path / "caldav" / "collections").is_dir()  # a given folder is kept
    with pytest.raises(RuntimeError, match="not running"):
        server.url  # noqa: B018


def test_without_a_folder_it_uses_a_temporary_one_removed_at_stop() -> None:
    with LocalCalendarServer() as server:
        root = server.root
        server.add_user("rep", "secret")
        assert root.is_dir()
    assert not root.exists()


def test_a_user_named_by_email_owns_a_calendar(local_calendar: LocalCalendarServer) -> None:
    url = local_calendar.add_user(USER, "s3cret")
    assert url == f"{local_calendar.url}/admin@acme.example/calendar/"
    ics = event_ics("kickoff@acme.example", "Kickoff", dt.datetime(2026, 3, 5, 15, tzinfo=UTC),
                    dt.datetime(2026, 3, 5, 16, tzinfo=UTC))
    local_calendar.put_event(USER, "kickoff@acme.example", ics)
    [stored] = local_calendar.events(USER)
    assert "UID:kickoff@acme.example" in stored and "SUMMARY:Kickoff" in stored
    with httpx.Client(auth=(USER, "s3cret")) as client:
        response = client.get(url + "kickoff@acme.example.ics")
        assert response.status_code == 200 and "Kickoff" in response.text
        assert client.request("PROPFIND", url, headers={"Depth": "0"}).status_code == 207
    with httpx.Client(auth=(USER, "wrong")) as client:
        assert client.request("PROPFIND", url, headers={"Depth": "0"}).status_code == 401
    local_calendar.delete_event(USER, "kickoff@acme.example")
    assert local_calendar.events(USER) == []


def test_users_own_only_their_own_collections(local_calendar: LocalCalendarServer) -> None:
    mine = local_calendar.add_user("ann@acme.example", "a")
    local_calendar.add_user("bob@acme.example", "b")
    with httpx.Client(auth=("bob@acme.example", "b")) as client:
        assert client.request("PROPFIND", mine, headers={"Depth": "0"}).status_code == 403


def test_uids_that_make_no_file_name_are_stored_by_their_hash(
        local_calendar: LocalCalendarServer) -> None:
    local_calendar.add_user(USER, "pw")
    uid = "040000008200E00074C5B7101A82E008/with slash"
    ics = event_ics(uid, "Outlook", dt.datetime(2026, 3, 5, 15, tzinfo=UTC),
                    dt.datetime(2026, 3, 5, 16, tzinfo=UTC))
    local_calendar.put_event(USER, uid, ics)
    assert len(local_calendar.events(USER)) == 1
    local_calendar.delete_event(USER, uid)
    assert local_calendar.events(USER) == []


def test_a_restart_on_the_same_folder_keeps_calendars_and_events(tmp_path: Path) -> None:
    ics = event_ics("e1", "Call", dt.datetime(2026, 3, 5, 15, tzinfo=UTC),
                    dt.datetime(2026, 3, 5, 16, tzinfo=UTC))
    with LocalCalendarServer(tmp_path) as server:
        server.add_user(USER, "pw")
        server.put_event(USER, "e1", ics)
    with LocalCalendarServer(tmp_path) as server:
        url = server.add_user(USER, "pw")  # its calendar is there already
        assert len(server.events(USER)) == 1
        with httpx.Client(auth=(USER, "pw")) as client:
            assert client.get(url + "e1.ics").status_code == 200


def test_bad_user_names_are_refused(local_calendar: LocalCalendarServer) -> None:
    for name in ("a:b", "a/b", "a b", ""):
        with pytest.raises(ValueError):
            local_calendar.add_user(name, "pw")
    with pytest.raises(KeyError):
        local_calendar.add_calendar("nobody", "calendar")

"""changes(): a full listing first, then only what changed, counted in requests; WebDAV sync
with its token, a token the server forgot, and a server without sync (CTag and ETags)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.calendar_fixtures import Override, event_ics
from tether.calendar.caldav_client import (
    Account,
    CalendarCheckError,
    Changes,
    SyncState,
    changes,
)
from tether.calendar.ical import occurrences
from tether.calendar.local_server import LocalCalendarServer

UTC = dt.UTC
USER = "rep@acme.example"
MARCH = (dt.datetime(2026, 3, 1, tzinfo=UTC), dt.datetime(2026, 4, 1, tzinfo=UTC))


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


class Recorder:
    """What the client asked, as "METHOD report-or-propfind" lines, through an httpx client
    it is given; a server without WebDAV sync when told to, answering sync-collection 501."""

    def __init__(self, *, sync: bool = True) -> None:
        self.sync = sync
        self.requests: list[str] = []
        self.client = httpx.Client(transport=httpx.MockTransport(self._handle))
        self._real = httpx.HTTPTransport()

    def _handle(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        match = re.search(rb"<\w+:([\w-]+)", body.split(b"?>", 1)[-1])
        what = match.group(1).decode() if match else ""
        self.requests.append(f"{request.method} {what}".strip())
        if not self.sync and what == "sync-collection":
            return httpx.Response(501, request=request)
        response = self._real.handle_request(request)
        response.read()
        return response

    def take(self) -> list[str]:
        taken, self.requests = self.requests, []
        return taken

    def close(self) -> None:
        self.client.close()
        self._real.close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recorder = Recorder()
    yield recorder
    recorder.close()


@pytest.fixture
def account(local_calendar: LocalCalendarServer) -> Account:
    return Account(local_calendar.add_user(USER, "pw"), USER, "pw")


def put(server: LocalCalendarServer, uid: str, start: dt.datetime, **kw: Any) -> str:
    """An hour's meeting `uid` put into the rep's calendar; its href."""
    server.put_event(USER, uid, event_ics(uid, f"Meeting {uid}", start,
                                          start + dt.timedelta(hours=1), **kw))
    return server.event_href(USER, uid)


def look(account: Account, state: SyncState | None, recorder: Recorder,
         window: tuple[dt.datetime, dt.datetime] = MARCH) -> Changes:
    found = changes(account, state, window_start=window[0], window_end=window[1],
                    client=recorder.client)
    # What a caller stores between looks is the JSON.
    assert SyncState.from_json(found.state.to_json()) == found.state
    return found


def hrefs(found: Changes) -> list[str]:
    return [obj.href for obj in found.changed]


def test_first_a_full_listing_then_nothing_fetched_without_a_change(
        local_calendar: LocalCalendarServer, account: Account, recorder: Recorder) -> None:
    a = put(local_calendar, "a", at(2026, 3, 5, 10))
    b = put(local_calendar, "b", at(2026, 3, 20, 10))
    put(local_calendar, "later", at(2026, 6, 1, 10))  # outside the window: not fetched

    first = look(account, None, recorder)
    assert first.full and first.removed == []
    assert hrefs(first) == [a, b]
    assert recorder.take() == ["REPORT sync-collection", "REPORT calendar-query",
                               "REPORT calendar-multiget"]
    assert first.state.sync_token and first.state.sync_token.startswith(
        "http://radicale.org/ns/sync/")
    assert set(first.state.etags) == {a, b}
    by_href = {obj.href: obj for obj in first.changed}
    [meeting] = occurrences(by_href[a].ics, *MARCH)
    assert (meeting.uid, meeting.title, meeting.start) == ("a", "Meeting a", at(2026, 3, 5, 10))

    again = look(account, first.state, recorder)
    assert (again.changed, again.removed, again.full) == ([], [], False)
    assert recorder.take() == ["REPORT sync-collection"]  # no object fetched
    assert again.state == first.state


def test_a_moved_event_comes_with_its_new_etag_and_a_deleted_one_as_removed(
        local_calendar: LocalCalendarServer, account: Account, recorder: Recorder) -> None:
    a = put(local_calendar, "a", at(2026, 3, 5, 10))
    b = put(local_calendar, "b", at(2026, 3, 20, 10))
    state = look(account, None, recorder).state
    recorder.take()

    put(local_calendar, "a", at(2026, 3, 6, 14), sequence=1)
    moved = look(account, state, recorder)
    assert not moved.full and moved.removed == []
    [obj] = moved.changed
    assert obj.href == a and obj.etag != state.etags[a]
    assert moved.state.etags[a] == obj.etag
    assert [o.start for o in occurrences(obj.ics, *MARCH)] == [at(2026, 3, 6, 14)]
    assert recorder.take() == ["REPORT sync-collection", "REPORT calendar-multiget"]

    local_calendar.delete_event(USER, "b")
    deleted = look(account, moved.state, recorder)
    assert (deleted.changed, deleted.removed) == ([], [b])
    assert set(deleted.state.etags) == {a}
    assert recorder.take() == ["REPORT sync-collection"]

    c = put(local_calendar, "c", at(2026, 3, 30, 9))
    added = look(account, deleted.state, recorder)
    assert (hrefs(added), added.removed) == ([c], [])
    assert set(added.state.etags) == {a, c}
    assert recorder.take() == ["REPORT sync-collection", "REPORT calendar-multiget"]


def test_a_forgotten_sync_token_falls_back_to_a_full_listing(
        local_calendar: LocalCalendarServer, account: Account, recorder: Recorder) -> None:
    a = put(local_calendar, "a", at(2026, 3, 5, 10))
    b = put(local_calendar, "b", at(2026, 3, 20, 10))
    c = put(local_calendar, "c", at(2026, 3, 25, 10))
    state = look(account, None, recorder).state
    recorder.take()

    local_calendar.expire_sync_tokens(USER)
    put(local_calendar, "b", at(2026, 3, 21, 10), sequence=1)
    local_calendar.delete_event(USER, "c")
    found = look(account, state, recorder)
    # Listed in full, but what is handed out is still only what changed.
    assert found.full
    assert (hrefs(found), found.removed) == ([b], [c])
    assert set(found.state.etags) == {a, b} and found.state.sync_token != state.sync_token
    assert recorder.take() == ["REPORT sync-collection", "REPORT sync-collection",
                               "REPORT calendar-query", "REPORT calendar-multiget"]

    assert look(account, found.state, recorder).changed == []
    assert recorder.take() == ["REPORT sync-collection"]


def test_a_token_the_server_never_gave_is_refused_the_same_way(
        local_calendar: LocalCalendarServer, account: Account, recorder: Recorder) -> None:
    a = put(local_calendar, "a", at(2026, 3, 5, 10))
    state = look(account, None, recorder).state
    forged = SyncState(sync_token="http://radicale.org/ns/sync/" + "0" * 64,
                       etags=state.etags, window_start=state.window_start,
                       window_end=state.window_end)
    found = look(account, forged, recorder)
    assert found.full and found.changed == [] and found.removed == []
    assert set(found.state.etags) == {a}


def test_events_leaving_and_entering_the_window(
        local_calendar: LocalCalendarServer, account: Account, recorder: Recorder) -> None:
    a = put(local_calendar, "a", at(2026, 3, 5, 10))
    state = look(account, None, recorder).state

    # Moved out of the window: handed out once more (its meetings can be dropped), then
    # forgotten.
    put(local_calendar, "a", at(2026, 4, 10, 10), sequence=1)
    moved_out = look(account, state, recorder)
    assert hrefs(moved_out) == [a] and occurrences(moved_out.changed[0].ics, *MARCH) == []
    assert moved_out.state.etags == {}

    # New, and outside the window: looked at, not handed out.
    later = put(local_calendar, "later", at(2026, 4, 20, 10))
    recorder.take()
    quiet = look(account, moved_out.state, recorder)
    assert (quiet.changed, quiet.state.etags) == ([], {})
    assert recorder.take() == ["REPORT sync-collection", "REPORT calendar-multiget"]

    # The window moves on to April: both come into it unchanged, found by asking about the
    # part newly covered.
    april = (at(2026, 3, 15), at(2026, 5, 1))
    entered = look(account, quiet.state, recorder, april)
    assert hrefs(entered) == [a, later] and not entered.full
    assert recorder.take() == ["REPORT sync-collection", "REPORT calendar-query",
                               "REPORT calendar-multiget"]
    assert look(account, entered.state, recorder, april).changed == []
    assert recorder.take() == ["REPORT sync-collection"]


def test_a_recurring_series_is_one_object(local_calendar: LocalCalendarServer,
                                          account: Account, recorder: Recorder) -> None:
    weekly = put(local_calendar, "weekly", at(2026, 2, 2, 15), rrule="FREQ=WEEKLY",
                 exdates=[at(2026, 3, 9, 15)],
                 overrides=[Override(at(2026, 3, 16, 15), at(2026, 3, 17, 9),
                                     at(2026, 3, 17, 10))])
    window = (at(2026, 3, 1), at(2026, 3, 29))
    found = look(account, None, recorder, window)
    [obj] = found.changed
    assert obj.href == weekly
    # As Radicale stored it (rewritten, not byte for byte what was put).
    assert [o.start for o in occurrences(obj.ics, *window)] == [
        at(2026, 3, 2, 15), at(2026, 3, 17, 9), at(2026, 3, 23, 15)]
    recorder.take()

    # A day later the window covers 30 March too: the series, unchanged, is handed out again
    # for the occurrence there; the part of the window seen before is not asked about.
    window = (at(2026, 3, 2), at(2026, 3, 31))
    moved_on = look(account, found.state, recorder, window)
    assert hrefs(moved_on) == [weekly] and moved_on.changed[0].etag == obj.etag
    assert recorder.take() == ["REPORT sync-collection", "REPORT calendar-query",
                               "REPORT calendar-multiget"]
    assert occurrences(moved_on.changed[0].ics, *window)[-1].start == at(2026, 3, 30, 15)
    # Moved on into time without any of its events (a Tuesday morning): nothing handed out.
    window = (at(2026, 3, 3), at(2026, 3, 31, 12))
    quiet = look(account, moved_on.state, recorder, window)
    assert quiet.changed == []
    assert recorder.take() == ["REPORT sync-collection", "REPORT calendar-query"]
    # A window that shrank covers nothing new.
    assert look(account, quiet.state, recorder, (at(2026, 3, 4), at(2026, 3, 31))).changed == []
    assert recorder.take() == ["REPORT sync-collection"]


def test_without_webdav_sync_the_ctag_then_etags_say_what_changed(
        local_calendar: LocalCalendarServer, account: Account) -> None:
    recorder = Recorder(sync=False)
    try:
        a = put(local_calendar, "a", at(2026, 3, 5, 10))
        b = put(local_calendar, "b", at(2026, 3, 20, 10))
        first = look(account, None, recorder)
        assert first.full and hrefs(first) == [a, b]
        assert first.state.sync_token is None and first.state.ctag
        assert recorder.take() == ["REPORT sync-collection", "PROPFIND propfind",
                                   "PROPFIND propfind", "REPORT calendar-query",
                                   "REPORT calendar-multiget"]

        again = look(account, first.state, recorder)
        assert (again.changed, again.removed) == ([], [])
        assert recorder.take() == ["PROPFIND propfind"]  # the CTag, nothing more

        put(local_calendar, "a", at(2026, 3, 6, 10), sequence=1)
        local_calendar.delete_event(USER, "b")
        changed = look(account, again.state, recorder)
        assert (hrefs(changed), changed.removed) == ([a], [b])
        assert changed.changed[0].etag != first.state.etags[a]
        assert recorder.take() == ["PROPFIND propfind", "PROPFIND propfind",
                                   "REPORT calendar-query", "REPORT calendar-multiget"]
    finally:
        recorder.close()


def test_a_wrong_password_is_a_check_error(account: Account) -> None:
    with pytest.raises(CalendarCheckError) as caught:
        changes(Account(account.url, USER, "wrong"), None, window_start=MARCH[0],
                window_end=MARCH[1])
    assert caught.value.stage == "authentication"


def test_the_window_must_be_aware_and_in_order(account: Account) -> None:
    with pytest.raises(ValueError, match="aware"):
        changes(account, None, window_start=dt.datetime(2026, 3, 1), window_end=MARCH[1])
    with pytest.raises(ValueError, match="before it starts"):
        changes(account, None, window_start=MARCH[1], window_end=MARCH[0])


def test_a_stored_state_is_checked_when_read() -> None:
    state = SyncState(sync_token="t", etags={"/a.ics": '"1"'}, window_start="x")
    assert SyncState.from_json(state.to_json()) == state
    for text in ("[]", '{"etags": []}', '{"sync_token": 3}', '{"etags": {"/a": 1}}'):
        with pytest.raises(ValueError):
            SyncState.from_json(text)

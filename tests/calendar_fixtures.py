"""Calendar fixtures: a real local CalDAV server (Radicale), and iCalendar text for events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import icalendar
import pytest

from tether.calendar.local_server import LocalCalendarServer

MakeLocalCalendar = Callable[..., LocalCalendarServer]
When = dt.datetime | dt.date
# An attendee: an address, or an address and its parameters ({"PARTSTAT": "DECLINED"}).
Attendee = str | tuple[str, Mapping[str, str]]


@pytest.fixture
def make_local_calendar(tmp_path_factory: pytest.TempPathFactory
                        ) -> Iterator[MakeLocalCalendar]:
    """Starts LocalCalendarServers (each on a folder of its own), stopped after the test."""
    started: list[LocalCalendarServer] = []

    def make(*, tls: bool = False) -> LocalCalendarServer:
        server = LocalCalendarServer(tmp_path_factory.mktemp("caldav"), tls=tls)
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def local_calendar(make_local_calendar: MakeLocalCalendar) -> LocalCalendarServer:
    """A started LocalCalendarServer on a fresh folder (plain HTTP, no users yet)."""
    return make_local_calendar()


@dataclass(frozen=True)
class Override:
    """One occurrence of a series changed: moved to start-end, retitled, or cancelled."""

    recurrence_id: When
    start: When
    end: When
    title: str | None = None
    status: str | None = None


def event_ics(uid: str, title: str, start: When, end: When, *, organizer: str | None = None,
              attendees: Sequence[Attendee] = (), rrule: str | None = None,
              status: str | None = None, sequence: int = 0, tzid: str | None = None,
              location: str | None = None, exdates: Sequence[When] = (),
              overrides: Sequence[Override] = ()) -> str:
    """A VCALENDAR of one event (or series, with `rrule` like "FREQ=WEEKLY;COUNT=4").  Times
    are written as given: aware ones in UTC, naive ones floating, dates as all-day; with
    `tzid`, naive times are wall-clock times there, written with TZID and its VTIMEZONE."""
    zone = ZoneInfo(tzid) if tzid else None

    def when(value: When) -> When:
        if zone is not None and isinstance(value, dt.datetime) and value.tzinfo is None:
            return value.replace(tzinfo=zone)
        if isinstance(value, dt.datetime) and value.tzinfo is not None and zone is None:
            return value.astimezone(dt.UTC)
        return value

    def vevent(summary: str, begin: When, finish: When, state: str | None) -> icalendar.Event:
        event = icalendar.Event()
        event.add("uid", uid)
        event.add("dtstamp", dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        event.add("summary", summary)
        event.add("dtstart", when(begin))
        event.add("dtend", when(finish))
        event.add("sequence", sequence)
        if state:
            event.add("status", state)
        if location:
            event.add("location", location)
        if organizer:
            event.add("organizer", icalendar.vCalAddress(f"mailto:{organizer}"))
        for attendee in attendees:
            address, params = (attendee, {}) if isinstance(attendee, str) else attendee
            value = icalendar.vCalAddress(f"mailto:{address}")
            for key, param in params.items():
                value.params[key] = param
            event.add("attendee", value)
        return event

    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Tether tests//EN")
    calendar.add("version", "2.0")
    master = vevent(title, start, end, status)
    if rrule:
        master.add("rrule", icalendar.vRecur.from_ical(rrule))
    for exdate in exdates:
        master.add("exdate", when(exdate))
    calendar.add_component(master)
    for override in overrides:
        event = vevent(override.title or title, override.start, override.end, override.status)
        event.add("recurrence-id", when(override.recurrence_id))
        calendar.add_component(event)
    if zone is not None:
        calendar.add_missing_timezones()
    text: str = calendar.to_ical().decode()
    return text

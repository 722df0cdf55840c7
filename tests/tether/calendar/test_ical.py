"""iCalendar objects as occurrences: recurrence, time zones, people, status, bad input."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.calendar_fixtures import Override, event_ics
from tether.calendar.ical import Occurrence, occurrences

UTC = dt.UTC


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_a_single_event_in_utc() -> None:
    ics = event_ics("one@acme.example", "  Demo   call ", at(2026, 3, 5, 15), at(2026, 3, 5, 16),
                    location="Zoom", sequence=3)
    [occurrence] = occurrences(ics, at(2026, 3, 1), at(2026, 4, 1))
    assert occurrence == Occurrence(
        uid="one@acme.example", recurrence_id=None, title="Demo call", start=at(2026, 3, 5, 15),
        end=at(2026, 3, 5, 16), organizer="", attendees=(), location="Zoom",
        status="confirmed", sequence=3, all_day=False)
    assert occurrence.key == "one@acme.example"


def test_the_window_is_half_open() -> None:
    ics = event_ics("one", "Call", at(2026, 3, 5, 10), at(2026, 3, 5, 11))
    assert occurrences(ics, at(2026, 3, 5, 11), at(2026, 3, 5, 12)) == []
    assert occurrences(ics, at(2026, 3, 5, 9), at(2026, 3, 5, 10)) == []
    assert len(occurrences(ics, at(2026, 3, 5, 10, 59), at(2026, 3, 5, 12))) == 1
    assert len(occurrences(ics, at(2026, 3, 5, 9), at(2026, 3, 5, 10, 1))) == 1


def test_a_weekly_series_with_an_exdate_and_a_moved_occurrence() -> None:
    ics = event_ics(
        "weekly@acme.example", "Pipeline review", dt.datetime(2026, 3, 3, 16),
        dt.datetime(2026, 3, 3, 16, 30), tzid="Europe/Berlin", rrule="FREQ=WEEKLY;COUNT=10",
        exdates=[dt.datetime(2026, 3, 10, 16)],
        overrides=[Override(dt.datetime(2026, 3, 17, 16), dt.datetime(2026, 3, 19, 9),
                            dt.datetime(2026, 3, 19, 10), title="Pipeline review (moved)")])
    found = occurrences(ics, at(2026, 3, 1), at(2026, 3, 29))
    # Berlin is UTC+1 until 29 March 2026.
    assert [(o.start, o.end, o.title) for o in found] == [
        (at(2026, 3, 3, 15), at(2026, 3, 3, 15, 30), "Pipeline review"),
        (at(2026, 3, 19, 8), at(2026, 3, 19, 9), "Pipeline review (moved)"),
        (at(2026, 3, 24, 15), at(2026, 3, 24, 15, 30), "Pipeline review"),
    ]
    # The moved one keeps the key of its original start.
    assert [o.key for o in found] == [
        "weekly@acme.example/2026-03-03T15:00:00+00:00",
        "weekly@acme.example/2026-03-17T15:00:00+00:00",
        "weekly@acme.example/2026-03-24T15:00:00+00:00",
    ]
    assert {o.uid for o in found} == {"weekly@acme.example"}


def test_a_series_across_a_dst_change_keeps_its_wall_clock_time() -> None:
    ics = event_ics("ny", "Standup", dt.datetime(2026, 3, 2, 9), dt.datetime(2026, 3, 2, 9, 15),
                    tzid="America/New_York", rrule="FREQ=WEEKLY;COUNT=3")
    found = occurrences(ics, at(2026, 3, 1), at(2026, 4, 1))
    # 9:00 in New York is 14:00 UTC in EST, 13:00 UTC from 8 March (EDT).
    assert [o.start for o in found] == [at(2026, 3, 2, 14), at(2026, 3, 9, 13),
                                        at(2026, 3, 16, 13)]
    assert all(o.start.tzinfo is UTC and o.end - o.start == dt.timedelta(minutes=15)
               for o in found)


def test_a_single_event_in_a_time_zone() -> None:
    ics = event_ics("ny1", "Lunch", dt.datetime(2026, 11, 2, 12), dt.datetime(2026, 11, 2, 13),
                    tzid="America/New_York")
    [occurrence] = occurrences(ics, at(2026, 11, 1), at(2026, 11, 3))
    assert (occurrence.start, occurrence.end) == (at(2026, 11, 2, 17), at(2026, 11, 2, 18))


def test_people_are_lower_cased_addresses_without_the_organizer_or_who_declined() -> None:
    ics = event_ics(
        "people", "Kickoff", at(2026, 3, 5, 15), at(2026, 3, 5, 16),
        organizer="Rep@Tether.example",
        attendees=["Buyer@Customer.example", "rep@tether.example", "buyer@customer.example",
                   ("cfo@customer.example", {"PARTSTAT": "DECLINED"}),
                   ("maybe@customer.example", {"PARTSTAT": "TENTATIVE"}),
                   ("room-4@tether.example", {"CUTYPE": "ROOM"})])
    [occurrence] = occurrences(ics, at(2026, 3, 1), at(2026, 4, 1))
    assert occurrence.organizer == "rep@tether.example"
    assert occurrence.attendees == ("buyer@customer.example", "maybe@customer.example")


def test_addresses_without_mailto_and_from_the_email_parameter() -> None:
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:p2\r\n"
           "DTSTAMP:20260101T000000Z\r\nDTSTART:20260305T150000Z\r\nDTEND:20260305T160000Z\r\n"
           "ORGANIZER;CN=Rep:MAILTO:Rep@Tether.example\r\n"
           "ATTENDEE;EMAIL=Ann@Customer.example:urn:uuid:1234\r\n"
           "ATTENDEE:bob@customer.example\r\n"
           "ATTENDEE:urn:uuid:5678\r\n"
           "END:VEVENT\r\nEND:VCALENDAR\r\n")
    [occurrence] = occurrences(ics, at(2026, 3, 1), at(2026, 4, 1))
    assert occurrence.organizer == "rep@tether.example"
    assert occurrence.attendees == ("ann@customer.example", "bob@customer.example")
    assert occurrence.title == "" and occurrence.location is None


def test_cancelled_events_and_cancelled_occurrences() -> None:
    cancelled = event_ics("c1", "Call", at(2026, 3, 5, 15), at(2026, 3, 5, 16),
                          status="CANCELLED")
    assert [o.status for o in occurrences(cancelled, at(2026, 3, 1), at(2026, 4, 1))] == [
        "cancelled"]
    tentative = event_ics("c2", "Call", at(2026, 3, 5, 15), at(2026, 3, 5, 16),
                          status="TENTATIVE")
    assert [o.status for o in occurrences(tentative, at(2026, 3, 1), at(2026, 4, 1))] == [
        "confirmed"]
    series = event_ics("c3", "Weekly", at(2026, 3, 2, 10), at(2026, 3, 2, 11),
                       rrule="FREQ=WEEKLY;COUNT=3",
                       overrides=[Override(at(2026, 3, 9, 10), at(2026, 3, 9, 10),
                                           at(2026, 3, 9, 11), status="CANCELLED")])
    found = occurrences(series, at(2026, 3, 1), at(2026, 4, 1))
    assert [(o.start.day, o.status) for o in found] == [
        (2, "confirmed"), (9, "cancelled"), (16, "confirmed")]


def test_all_day_and_floating_times_are_read_as_utc() -> None:
    all_day = event_ics("d", "Offsite", dt.date(2026, 3, 6), dt.date(2026, 3, 8))
    [occurrence] = occurrences(all_day, at(2026, 3, 7, 12), at(2026, 3, 7, 13))
    assert (occurrence.start, occurrence.end, occurrence.all_day) == (
        at(2026, 3, 6), at(2026, 3, 8), True)
    floating = event_ics("f", "Call", dt.datetime(2026, 3, 5, 23, 30),
                         dt.datetime(2026, 3, 5, 23, 45))
    [occurrence] = occurrences(floating, at(2026, 3, 5, 23), at(2026, 3, 6))
    assert (occurrence.start, occurrence.all_day) == (at(2026, 3, 5, 23, 30), False)
    assert occurrences(floating, at(2026, 3, 5, 23, 46), at(2026, 3, 6)) == []


def test_a_window_in_another_zone_is_the_same_instants() -> None:
    ics = event_ics("one", "Call", at(2026, 3, 5, 10), at(2026, 3, 5, 11))
    tokyo = dt.timezone(dt.timedelta(hours=9))
    assert len(occurrences(ics, dt.datetime(2026, 3, 5, 19, 30, tzinfo=tokyo),
                           dt.datetime(2026, 3, 5, 20, tzinfo=tokyo))) == 1
    with pytest.raises(ValueError, match="aware"):
        occurrences(ics, dt.datetime(2026, 3, 5), at(2026, 3, 6))


@pytest.mark.parametrize("text", [
    "",
    "garbage",
    "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:2026030\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n",
    "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:20260305T100000Z\r\n"
    "RRULE:FREQ=SOMETIMES\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    # Expanding this over a month would be 2.6 million occurrences.
    "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:20260305T100000Z\r\n"
    "RRULE:FREQ=SECONDLY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    # Without a UID an occurrence has no key.
    "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20260305T100000Z\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n",
])
def test_a_malformed_object_has_no_occurrences(text: str) -> None:
    assert occurrences(text, at(2026, 3, 1), at(2026, 4, 1)) == []


def test_tasks_are_not_meetings() -> None:
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VTODO\r\nUID:t\r\n"
           "DTSTAMP:20260101T000000Z\r\nDTSTART:20260305T150000Z\r\nDUE:20260305T160000Z\r\n"
           "END:VTODO\r\nEND:VCALENDAR\r\n")
    assert occurrences(ics, at(2026, 3, 1), at(2026, 4, 1)) == []

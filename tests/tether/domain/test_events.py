"""The event shape's type-dependent rules (CONTRACTS "Event shape (v1)") and who an event is
about."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from tether.domain.events import (
    Bounce,
    Call,
    Event,
    EventType,
    Meeting,
    Message,
    TaskInfo,
    problems,
    recipients,
)

WHEN = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
MESSAGE = Message(id="<m1@acme.example>", subject="Intro", to=["jane@globex.example"])
MEETING = Meeting(id="mt1", title="Demo", start=WHEN, end=WHEN + dt.timedelta(hours=1),
                  organizer="rep@acme.example",
                  attendees=["rep@acme.example", "jane@globex.example"])
TASK = TaskInfo(id="t1", kind="todo", subject="Follow up", who="jane@globex.example")
CALL = Call(to="jane@globex.example", duration_s=60)


def event(kind: EventType, **kw: Any) -> Event:
    """A complete, valid event of ``kind``; keywords replace parts of it."""
    parts: dict[str, Any] = {"id": "e1", "type": kind, "occurred_at": WHEN,
                             "user": "rep@acme.example"}
    if kind.value.startswith("email."):
        parts["message"] = MESSAGE
    if kind in (EventType.EMAIL_OPENED, EventType.EMAIL_CLICKED, EventType.EMAIL_DOWNLOADED,
                EventType.EMAIL_REPLIED, EventType.EMAIL_RECEIVED, EventType.EMAIL_BOUNCED):
        parts["recipient"] = "jane@globex.example"
    if kind is EventType.EMAIL_BOUNCED:
        parts["bounce"] = Bounce("5.1.1", True, "550 5.1.1 User unknown")
    if kind is EventType.EMAIL_CLICKED:
        parts["url"] = "https://acme.example/pricing"
    if kind is EventType.EMAIL_DOWNLOADED:
        parts["file_name"] = "deck.pdf"
    if kind in (EventType.MEETING_CONFIRMED, EventType.CALENDAR_EVENT):
        parts["meeting"] = MEETING
    if kind.value.startswith("task."):
        parts["task"] = TASK
    if kind is EventType.CALL_LOGGED:
        parts["call"] = CALL
    parts.update(kw)
    return Event(**parts)


def fields_of(e: Event) -> list[str]:
    return [name for name, _ in problems(e)]


@pytest.mark.parametrize("kind", list(EventType))
def test_a_complete_event_of_each_type_has_no_problems(kind: EventType) -> None:
    assert problems(event(kind)) == []


@pytest.mark.parametrize("kind,missing,field", [
    (EventType.EMAIL_SENT, {"message": None}, "message"),
    (EventType.EMAIL_OPENED, {"message": None}, "message"),
    (EventType.EMAIL_REPLIED, {"message": None}, "message"),
    (EventType.EMAIL_RECEIVED, {"message": None}, "message"),
    (EventType.EMAIL_SENT, {"message": replace(MESSAGE, to=[])}, "message.to"),
    (EventType.EMAIL_OPENED, {"recipient": None}, "recipient"),
    (EventType.EMAIL_CLICKED, {"recipient": None}, "recipient"),
    (EventType.EMAIL_DOWNLOADED, {"recipient": None}, "recipient"),
    (EventType.EMAIL_REPLIED, {"recipient": None}, "recipient"),
    (EventType.EMAIL_RECEIVED, {"recipient": None}, "recipient"),
    (EventType.EMAIL_CLICKED, {"url": None}, "url"),
    (EventType.EMAIL_CLICKED, {"url": ""}, "url"),
    (EventType.EMAIL_DOWNLOADED, {"file_name": None}, "file_name"),
    (EventType.EMAIL_BOUNCED, {"bounce": None}, "bounce"),
    (EventType.EMAIL_BOUNCED, {"recipient": None}, "recipient"),
    (EventType.MEETING_CONFIRMED, {"meeting": None}, "meeting"),
    (EventType.CALENDAR_EVENT, {"meeting": None}, "meeting"),
    (EventType.TASK_CREATED, {"task": None}, "task"),
    (EventType.TASK_UPDATED, {"task": None}, "task"),
    (EventType.TASK_COMPLETED, {"task": None}, "task"),
    (EventType.CALL_LOGGED, {"call": None}, "call"),
])
def test_each_type_names_its_missing_part(kind: EventType, missing: dict[str, Any],
                                          field: str) -> None:
    found = problems(event(kind, **missing))
    assert [name for name, _ in found] == [field]
    assert found[0][1]  # says what is wrong


def test_an_email_sent_only_in_bcc_is_complete() -> None:
    only_bcc = replace(MESSAGE, to=[], bcc=["jane@globex.example"])
    assert problems(event(EventType.EMAIL_SENT, message=only_bcc)) == []


def test_naive_occurred_at_is_refused() -> None:
    found = problems(event(EventType.EMAIL_SENT, occurred_at=WHEN.replace(tzinfo=None)))
    assert [name for name, _ in found] == ["occurred_at"]
    assert "time zone" in found[0][1]


@pytest.mark.parametrize("ident", ["", "   ", "x" * 201])
def test_bad_ids(ident: str) -> None:
    assert fields_of(event(EventType.EMAIL_SENT, id=ident)) == ["id"]


def test_ids_of_200_characters_are_fine() -> None:
    assert problems(event(EventType.EMAIL_SENT, id="x" * 200)) == []


def test_meeting_end_before_start() -> None:
    backwards = replace(MEETING, end=WHEN - dt.timedelta(minutes=1))
    assert fields_of(event(EventType.MEETING_CONFIRMED, meeting=backwards)) == ["meeting.end"]


@pytest.mark.parametrize("part", ["start", "end"])
def test_meeting_times_need_a_time_zone(part: str) -> None:
    # Only one of the two naive: the check must report it, not fail comparing the two.
    naive = replace(MEETING, **{part: getattr(MEETING, part).replace(tzinfo=None)})
    assert fields_of(event(EventType.CALENDAR_EVENT, meeting=naive)) == [f"meeting.{part}"]


def test_both_meeting_times_naive() -> None:
    naive = replace(MEETING, start=MEETING.start.replace(tzinfo=None),
                    end=MEETING.end.replace(tzinfo=None))
    assert fields_of(event(EventType.MEETING_CONFIRMED, meeting=naive)) == [
        "meeting.start", "meeting.end"]


def test_negative_call_duration() -> None:
    assert fields_of(event(EventType.CALL_LOGGED, call=replace(CALL, duration_s=-1))) == [
        "call.duration_s"]


@pytest.mark.parametrize("kw,field", [
    ({"user": "rep"}, "user"),
    ({"recipient": "jane at globex"}, "recipient"),
    ({"message": replace(MESSAGE, to=["jane@globex.example", "nope"])}, "message.to[1]"),
    ({"message": replace(MESSAGE, cc=["@globex.example"])}, "message.cc[0]"),
    ({"message": replace(MESSAGE, bcc=["jane@localhost"])}, "message.bcc[0]"),
])
def test_bad_addresses_are_named_by_position(kw: dict[str, Any], field: str) -> None:
    assert fields_of(event(EventType.EMAIL_OPENED, **kw)) == [field]


@pytest.mark.parametrize("kind,kw,field", [
    (EventType.MEETING_CONFIRMED, {"meeting": replace(MEETING, organizer="x")},
     "meeting.organizer"),
    (EventType.MEETING_CONFIRMED,
     {"meeting": replace(MEETING, attendees=["jane@globex.example", "a b@c.d"])},
     "meeting.attendees[1]"),
    (EventType.TASK_CREATED, {"task": replace(TASK, who="jane")}, "task.who"),
    (EventType.CALL_LOGGED, {"call": replace(CALL, to="555-1234")}, "call.to"),
])
def test_bad_addresses_in_meetings_tasks_calls(kind: EventType, kw: dict[str, Any],
                                               field: str) -> None:
    assert fields_of(event(kind, **kw)) == [field]


# recipients()

def test_sent_recipients_are_normalized_and_deduplicated() -> None:
    msg = replace(MESSAGE, to=["Jane@Globex.example", " bob@globex.example"],
                  cc=["jane@globex.example", "CARL@globex.example"],
                  bcc=["BOB@globex.example", "Dora@Globex.example"])
    assert recipients(event(EventType.EMAIL_SENT, message=msg)) == [
        ("jane@globex.example", False),
        ("bob@globex.example", False),  # also in Bcc, but visible in To: not a Bcc recipient
        ("carl@globex.example", False),
        ("dora@globex.example", True),  # only in Bcc
    ]


def test_a_tracking_event_by_a_bcc_recipient_is_marked() -> None:
    msg = replace(MESSAGE, bcc=["dora@globex.example"])
    opened = event(EventType.EMAIL_OPENED, message=msg, recipient="Dora@globex.example")
    assert recipients(opened) == [("dora@globex.example", True)]
    by_to = event(EventType.EMAIL_OPENED, message=msg, recipient="JANE@globex.example")
    assert recipients(by_to) == [("jane@globex.example", False)]


def test_meeting_recipients_leave_out_the_organizer() -> None:
    meeting = replace(MEETING, organizer="Rep@Acme.example",
                      attendees=["rep@acme.example", "Jane@globex.example",
                                 "jane@globex.example", "bob@globex.example"])
    assert recipients(event(EventType.MEETING_CONFIRMED, meeting=meeting)) == [
        ("jane@globex.example", False), ("bob@globex.example", False)]


def test_task_and_call_recipients() -> None:
    assert recipients(event(EventType.TASK_CREATED)) == [("jane@globex.example", False)]
    nobody = event(EventType.TASK_CREATED, task=replace(TASK, who=None))
    assert recipients(nobody) == [(None, False)]
    call = event(EventType.CALL_LOGGED, call=replace(CALL, to="Jane@Globex.example"))
    assert recipients(call) == [("jane@globex.example", False)]

"""Engagement events (CONTRACTS: "Event shape (v1)"), as plain dataclasses.

The web edge validates JSON into these with pydantic's TypeAdapter (so the shape is written
once, here); :func:`problems` adds the checks that depend on the event's type.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal

from annotated_types import MaxLen

from tether.domain.exclusions import normalize_email

# Bounds on every string an event carries (RFC 5321 for addresses: 64 + @ + 255, 320 in all).
EMAIL_LENGTH, LOCAL_PART_LENGTH, DOMAIN_LENGTH = 320, 64, 255
Address = Annotated[str, MaxLen(EMAIL_LENGTH)]
Ident = Annotated[str, MaxLen(200)]  # ids of events, meetings, tasks, calls
MessageIdText = Annotated[str, MaxLen(300)]  # Message-ID and thread id
Text = Annotated[str, MaxLen(1000)]  # subjects, titles, names, dispositions
Url = Annotated[str, MaxLen(8192)]
LongText = Annotated[str, MaxLen(32_000)]  # notes, snippets
Addresses = Annotated[list[Address], MaxLen(1000)]


class EventType(StrEnum):
    EMAIL_SENT = "email.sent"
    EMAIL_OPENED = "email.opened"
    EMAIL_CLICKED = "email.clicked"
    EMAIL_DOWNLOADED = "email.downloaded"
    EMAIL_REPLIED = "email.replied"
    EMAIL_RECEIVED = "email.received"
    EMAIL_BOUNCED = "email.bounced"
    MEETING_CONFIRMED = "meeting.confirmed"
    CALENDAR_EVENT = "calendar.event"
    TASK_CREATED = "task.created"
    TASK_UPDATED = "task.updated"
    TASK_COMPLETED = "task.completed"
    CALL_LOGGED = "call.logged"

    @property
    def is_tracking(self) -> bool:
        """Opens, clicks and downloads: 'only sync the first' applies, written last."""
        return self in TRACKING

    @property
    def needs_message(self) -> bool:
        return self.value.startswith("email.")


TRACKING = frozenset({EventType.EMAIL_OPENED, EventType.EMAIL_CLICKED,
                      EventType.EMAIL_DOWNLOADED})
# Events about one recipient (who opened, clicked, downloaded, replied, wrote in, bounced).
ONE_RECIPIENT = TRACKING | {EventType.EMAIL_REPLIED, EventType.EMAIL_RECEIVED,
                            EventType.EMAIL_BOUNCED}
TASK_EVENTS = frozenset({EventType.TASK_CREATED, EventType.TASK_UPDATED,
                         EventType.TASK_COMPLETED})
MEETING_EVENTS = frozenset({EventType.MEETING_CONFIRMED, EventType.CALENDAR_EVENT})


@dataclass(frozen=True)
class Message:
    id: MessageIdText
    subject: Text = ""
    thread_id: MessageIdText | None = None
    to: Addresses = field(default_factory=list)
    cc: Addresses = field(default_factory=list)
    bcc: Addresses = field(default_factory=list)
    is_reply: bool = False
    sent_via: Literal["tether", "mailbox"] = "tether"
    snippet: LongText | None = None  # the first lines of the body, for the Task's Description
    # A reply written by someone else at the recipient's domain (a colleague, a forward):
    # who wrote it; `recipient` stays the person the thread was with.
    replied_by: Address | None = None


@dataclass(frozen=True)
class Sequence:
    name: Text
    stage: int


@dataclass(frozen=True)
class Meeting:
    id: Ident
    title: Text
    start: dt.datetime
    end: dt.datetime
    organizer: Address
    attendees: Addresses = field(default_factory=list)
    calendar: Text = "primary"
    location: Text | None = None
    status: Literal["confirmed", "cancelled"] = "confirmed"


@dataclass(frozen=True)
class TaskInfo:
    id: Ident
    kind: Literal["todo", "call", "email", "linkedin"]
    subject: Text
    due: dt.date | None = None
    status: Literal["open", "completed", "deferred"] = "open"
    who: Address | None = None
    notes: LongText | None = None
    # More of the Salesforce Task's fields, by API name (a role's "+ Show another field").
    fields: Annotated[dict[Annotated[str, MaxLen(80)], str | int | float | bool | None],
                      MaxLen(50)] | None = None


@dataclass(frozen=True)
class Call:
    to: Address
    id: Ident | None = None
    duration_s: int = 0
    disposition: Text | None = None
    direction: Literal["outbound", "inbound"] = "outbound"
    notes: LongText | None = None


@dataclass(frozen=True)
class Tracking:
    """Who made an open, click or download: a person, or a machine (an image prefetcher, a
    link scanner), with the evidence the verdict rests on (domain/tracking.py)."""

    verdict: Literal["person", "machine"] = "person"
    evidence: Annotated[list[Text], MaxLen(20)] = field(default_factory=list)


@dataclass(frozen=True)
class Bounce:
    """Why a recipient's copy came back: the enhanced status code (5.1.1), permanent (hard)
    or not (soft), and the server's words."""

    status: Annotated[str, MaxLen(16)] = ""
    hard: bool = True
    diagnostic: Text = ""


@dataclass(frozen=True)
class Event:
    id: str  # its length is one of problems()' rules, with its own words
    type: EventType
    occurred_at: dt.datetime
    user: Address
    message: Message | None = None
    sequence: Sequence | None = None
    recipient: Address | None = None
    url: Url | None = None
    file_name: Text | None = None
    meeting: Meeting | None = None
    task: TaskInfo | None = None
    call: Call | None = None
    tracking: Tracking | None = None
    bounce: Bounce | None = None


@dataclass(frozen=True)
class DateWindow:
    """The dates an event may carry: when it happened (``occurred_at``) from ``earliest`` to
    ``latest``; what it schedules (a meeting's start and end, a task's due date) from
    ``earliest`` to ``latest_scheduled``.  A date outside is a client's mistake, refused."""

    earliest: dt.datetime
    latest: dt.datetime
    latest_scheduled: dt.datetime

    @classmethod
    def around(cls, now: dt.datetime, earliest: dt.date, ahead: dt.timedelta,
               scheduled_ahead: dt.timedelta) -> DateWindow:
        start = dt.datetime.combine(earliest, dt.time(), dt.UTC)
        return cls(start, now + ahead, now + scheduled_ahead)

    def problem(self, value: dt.datetime | dt.date, *, scheduled: bool = False) -> str | None:
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                return None  # the zone's own rule says what is wrong
            try:
                when = value.astimezone(dt.UTC)
            except OverflowError:
                when = None
        else:
            when = dt.datetime.combine(value, dt.time(), dt.UTC)
        latest = self.latest_scheduled if scheduled else self.latest
        if when is None or not self.earliest <= when <= latest:
            return (f"must be from {self.earliest:%Y-%m-%d} to {latest:%Y-%m-%d %H:%M} UTC "
                    f"({value.isoformat()} is outside)")
        return None



def unknown_fields(raw: Any, cls: type = Event, at: str = "") -> Iterator[str]:
    """The paths of the fields ``raw`` has that ``cls`` (an event, or a part of one) does not:
    a misspelt field must not vanish silently."""
    if not isinstance(raw, Mapping):
        return
    known = _fields_of(cls)
    for key, value in raw.items():
        path = f"{at}.{key}" if at else str(key)
        if key not in known:
            yield path
            continue
        nested = known[key]
        if nested is not None:
            yield from unknown_fields(value, nested, path)


@functools.cache
def _fields_of(cls: type) -> dict[str, type | None]:
    """A dataclass's field names, each with the dataclass it nests (or None); read once: type
    hints are evaluated from strings, which costs more than checking an event."""
    hints = typing.get_type_hints(cls)
    return {f.name: _nested_class(hints[f.name]) for f in dataclasses.fields(cls)}


def _nested_class(hint: Any) -> type | None:
    for arg in (hint, *typing.get_args(hint)):
        if isinstance(arg, type) and dataclasses.is_dataclass(arg):
            return arg
    return None


def problems(event: Event, window: DateWindow | None = None) -> list[tuple[str, str]]:
    """(field, what is wrong) for each rule of the event's type that it breaks; with a
    window, dates outside it too."""
    found: list[tuple[str, str]] = []

    def need(ok: object, name: str, what: str) -> None:
        if not ok:
            found.append((name, what))

    need(event.id.strip(), "id", "must not be empty")
    need(len(event.id) <= 200, "id", "must be at most 200 characters")
    need(event.occurred_at.tzinfo is not None, "occurred_at",
         "must carry a time zone (e.g. 2026-11-28T10:00:00Z)")
    need(is_email(event.user), "user", "must be an email address")
    kind = event.type
    if kind.needs_message:
        need(event.message is not None, "message", f"is required for {kind}")
    if kind is EventType.EMAIL_SENT and event.message is not None:
        need(event.message.to or event.message.cc or event.message.bcc, "message.to",
             "an email.sent needs at least one recipient")
    if kind in ONE_RECIPIENT:
        need(event.recipient, "recipient", f"is required for {kind}")
    if kind is EventType.EMAIL_CLICKED:
        need(event.url, "url", "is required for email.clicked")
    if kind is EventType.EMAIL_DOWNLOADED:
        need(event.file_name, "file_name", "is required for email.downloaded")
    if kind is EventType.EMAIL_BOUNCED:
        need(event.bounce is not None, "bounce", "is required for email.bounced")
    if kind in MEETING_EVENTS:
        need(event.meeting is not None, "meeting", f"is required for {kind}")
        if event.meeting is not None:
            start, end = event.meeting.start, event.meeting.end
            need(start.tzinfo is not None, "meeting.start", "must carry a time zone")
            need(end.tzinfo is not None, "meeting.end", "must carry a time zone")
            # Compared only when both carry a zone (naive against aware raises TypeError).
            if start.tzinfo is not None and end.tzinfo is not None:
                need(end >= start, "meeting.end", "must not be before meeting.start")
    if kind in TASK_EVENTS:
        need(event.task is not None, "task", f"is required for {kind}")
    if kind is EventType.CALL_LOGGED:
        need(event.call is not None, "call", "is required for call.logged")
        if event.call is not None:
            need(event.call.duration_s >= 0, "call.duration_s", "must not be negative")
    for name, value in _addresses(event):
        need(is_email(value), name, f"'{value}' is not an email address")
    if window is not None:
        for name, when, scheduled in _dates(event):
            wrong = window.problem(when, scheduled=scheduled)
            need(wrong is None, name, wrong or "")
    return found


def _dates(event: Event) -> list[tuple[str, dt.datetime | dt.date, bool]]:
    """(field, value, whether it schedules something) for each date the event carries."""
    out: list[tuple[str, dt.datetime | dt.date, bool]] = [
        ("occurred_at", event.occurred_at, False)]
    if event.meeting is not None:
        out += [("meeting.start", event.meeting.start, True),
                ("meeting.end", event.meeting.end, True)]
    if event.task is not None and event.task.due is not None:
        out.append(("task.due", event.task.due, True))
    return out


def _addresses(event: Event) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if event.recipient:
        out.append(("recipient", event.recipient))
    if event.message is not None:
        for part in ("to", "cc", "bcc"):
            out += [(f"message.{part}[{i}]", v)
                    for i, v in enumerate(getattr(event.message, part))]
    if event.meeting is not None:
        out.append(("meeting.organizer", event.meeting.organizer))
        out += [(f"meeting.attendees[{i}]", v) for i, v in enumerate(event.meeting.attendees)]
    if event.task is not None and event.task.who:
        out.append(("task.who", event.task.who))
    if event.call is not None:
        out.append(("call.to", event.call.to))
    return out


def is_email(value: str | None) -> bool:
    if not value:
        return False
    local, _, domain = value.strip().rpartition("@")
    return (bool(local) and "." in domain and " " not in value.strip()
            and len(local) <= LOCAL_PART_LENGTH and len(domain) <= DOMAIN_LENGTH)


def recipients(event: Event) -> list[tuple[str | None, bool]]:
    """(address, is_bcc) for each person the event is about, normalized and once each.

    An email.sent is about its To and Cc (and its Bcc, logged as ignored); a tracking event or
    reply about its recipient; a meeting about its attendees other than the organizer; a task
    about its person (or nobody); a call about whom it was to."""
    kind = event.type
    bcc = {normalize_email(a) for a in (event.message.bcc if event.message else [])}
    found: list[str | None]
    if kind is EventType.EMAIL_SENT and event.message is not None:
        found = [*event.message.to, *event.message.cc, *event.message.bcc]
    elif kind in ONE_RECIPIENT:
        found = [event.recipient]
    elif kind in MEETING_EVENTS and event.meeting is not None:
        organizer = normalize_email(event.meeting.organizer)
        found = [a for a in event.meeting.attendees if normalize_email(a) != organizer]
    elif kind in TASK_EVENTS and event.task is not None:
        found = [event.task.who]
    elif kind is EventType.CALL_LOGGED and event.call is not None:
        found = [event.call.to]
    else:
        found = []
    seen: set[str | None] = set()
    out: list[tuple[str | None, bool]] = []
    for address in found:
        norm = normalize_email(address) if address else None
        if norm in seen:
            continue
        seen.add(norm)
        in_visible = event.message is not None and norm in {
            normalize_email(a) for a in [*event.message.to, *event.message.cc]}
        out.append((norm, norm in bcc and not in_visible))
    return out or [(None, False)]

"""Engagement events (CONTRACTS: "Event shape (v1)"), as plain dataclasses.

The web edge validates JSON into these with pydantic's TypeAdapter (so the shape is written
once, here); :func:`problems` adds the checks that depend on the event's type.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from tether.domain.exclusions import normalize_email


class EventType(StrEnum):
    EMAIL_SENT = "email.sent"
    EMAIL_OPENED = "email.opened"
    EMAIL_CLICKED = "email.clicked"
    EMAIL_DOWNLOADED = "email.downloaded"
    EMAIL_REPLIED = "email.replied"
    EMAIL_RECEIVED = "email.received"
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
# Events about one recipient (who opened, clicked, downloaded, replied, wrote in).
ONE_RECIPIENT = TRACKING | {EventType.EMAIL_REPLIED, EventType.EMAIL_RECEIVED}
TASK_EVENTS = frozenset({EventType.TASK_CREATED, EventType.TASK_UPDATED,
                         EventType.TASK_COMPLETED})
MEETING_EVENTS = frozenset({EventType.MEETING_CONFIRMED, EventType.CALENDAR_EVENT})


@dataclass(frozen=True)
class Message:
    id: str
    subject: str = ""
    thread_id: str | None = None
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    is_reply: bool = False
    sent_via: Literal["tether", "mailbox"] = "tether"
    snippet: str | None = None  # the first lines of the body, for the Task's Description


@dataclass(frozen=True)
class Sequence:
    name: str
    stage: int


@dataclass(frozen=True)
class Meeting:
    id: str
    title: str
    start: dt.datetime
    end: dt.datetime
    organizer: str
    attendees: list[str] = field(default_factory=list)
    calendar: str = "primary"
    location: str | None = None
    status: Literal["confirmed", "cancelled"] = "confirmed"


@dataclass(frozen=True)
class TaskInfo:
    id: str
    kind: Literal["todo", "call", "email", "linkedin"]
    subject: str
    due: dt.date | None = None
    status: Literal["open", "completed", "deferred"] = "open"
    who: str | None = None
    notes: str | None = None


@dataclass(frozen=True)
class Call:
    to: str
    id: str | None = None
    duration_s: int = 0
    disposition: str | None = None
    direction: Literal["outbound", "inbound"] = "outbound"
    notes: str | None = None


@dataclass(frozen=True)
class Event:
    id: str
    type: EventType
    occurred_at: dt.datetime
    user: str
    message: Message | None = None
    sequence: Sequence | None = None
    recipient: str | None = None
    url: str | None = None
    file_name: str | None = None
    meeting: Meeting | None = None
    task: TaskInfo | None = None
    call: Call | None = None


def problems(event: Event) -> list[tuple[str, str]]:
    """(field, what is wrong) for each rule of the event's type that it breaks."""
    found: list[tuple[str, str]] = []

    def need(ok: object, name: str, what: str) -> None:
        if not ok:
            found.append((name, what))

    need(event.id.strip(), "id", "must not be empty")
    need(len(event.id) <= 200, "id", "must be at most 200 characters")
    need(event.occurred_at.tzinfo is not None, "occurred_at",
         "must carry a time zone (e.g. 2026-11-28T10:00:00Z)")
    need(_is_email(event.user), "user", "must be an email address")
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
        need(_is_email(value), name, f"'{value}' is not an email address")
    return found


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


def _is_email(value: str | None) -> bool:
    if not value:
        return False
    local, _, domain = value.strip().rpartition("@")
    return bool(local) and "." in domain and " " not in value.strip()


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

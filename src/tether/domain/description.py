"""The Description of a Task or Event Tether writes, as a person would write it: who did what
and when in a sentence, the email's headers (``From: Rita Rep <rita@acme.example>``), the
words of the message or the notes, and the record it is also logged on by name.  People are
named where Tether knows their name (the member, and the Lead or Contact the activity is on),
by their address otherwise.  Pure: the planner gives what it knows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tether.domain.events import MEETING_EVENTS, TASK_EVENTS, Event, EventType
from tether.domain.exclusions import normalize_email

_Who = Callable[[str], str]  # an address as the Description shows it
_People = Callable[[Iterable[str]], str]
_TASK_KIND = {"todo": "To-do", "call": "Call", "email": "Email", "linkedin": "LinkedIn"}
_TASK_DONE = {EventType.TASK_CREATED: "Created", EventType.TASK_UPDATED: "Updated",
              EventType.TASK_COMPLETED: "Completed"}


@dataclass(frozen=True)
class Named:
    """A person or a record, with the name Tether knows for it (maybe none)."""

    key: str  # an address (people), or an id (records)
    name: str = ""


@dataclass(frozen=True)
class RelatedRecord:
    """The record an activity is related to (its WhatId), and why."""

    sobject: str
    record: Named
    why: str


def mailbox(person: Named) -> str:
    """``Ada Lovelace <ada@globex.example>``, or the address alone without a name."""
    name = " ".join(person.name.split())
    return f"{name} <{person.key}>" if name and name != person.key else person.key


def when(moment: dt.datetime) -> str:
    return f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def span(start: dt.datetime, end: dt.datetime) -> str:
    """``2026-12-10 15:00 to 15:30 UTC``; the end's date too when it is another day."""
    first, last = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    tail = f"{last:%H:%M}" if first.date() == last.date() else f"{last:%Y-%m-%d %H:%M}"
    return f"{first:%Y-%m-%d %H:%M} to {tail} UTC"


def duration(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def describe(event: Event, user: Named, person: Named | None = None,
             related: RelatedRecord | None = None) -> str:
    """The Description for ``event``, written by ``user`` (the member), logged on
    ``person`` (the Lead or Contact, when there is one) and related to ``related``."""
    known = {normalize_email(p.key): p for p in (user, person) if p is not None}

    def who(address: str) -> str:
        return mailbox(known.get(normalize_email(address), Named(address)))

    def people(addresses: Iterable[str]) -> str:
        return ", ".join(who(a) for a in addresses)

    lines = [*_story(event, who, people), *_body(event)]
    if related is not None:
        record = related.record
        name = f"{record.name} ({record.key})" if record.name.strip() else record.key
        lines += ["", f"Related to {related.sobject} {name}: {related.why}."]
    return "\n".join(lines)


def _story(event: Event, who: _Who, people: _People) -> list[str]:
    """The sentence saying what happened, then the headers that go with it."""
    kind, at, user = event.type, when(event.occurred_at), who(event.user)
    m, recipient = event.message, who(event.recipient or "")
    headers: list[str] = []
    if m is not None:
        sender = recipient if kind in (EventType.EMAIL_REPLIED, EventType.EMAIL_RECEIVED) \
            else user
        if kind is EventType.EMAIL_REPLIED and m.replied_by:
            sender = who(m.replied_by)
        headers = [f"From: {sender}"]
        headers += [f"{label}: {people(found)}" for label, found in (("To", m.to),
                                                                      ("Cc", m.cc)) if found]
        headers.append(f"Subject: {m.subject}")
    subject = f'"{m.subject}"' if m is not None and m.subject else "your email"
    if kind is EventType.EMAIL_SENT and m is not None:
        via = "with Tether" if m.sent_via == "tether" else "from their mailbox"
        story = [f"Sent {via} on {at}."]
    elif kind is EventType.EMAIL_OPENED:
        story = [f"{recipient} opened {subject} on {at}."]
    elif kind is EventType.EMAIL_CLICKED:
        story = [f"{recipient} clicked {event.url} in {subject} on {at}."]
    elif kind is EventType.EMAIL_DOWNLOADED:
        story = [f"{recipient} downloaded {event.file_name} from {subject} on {at}."]
    elif kind is EventType.EMAIL_REPLIED and m is not None and m.replied_by:
        story = [f"{who(m.replied_by)}, at {recipient}'s domain, replied for them to {user} "
                 f"on {at}."]
    elif kind is EventType.EMAIL_REPLIED:
        story = [f"{recipient} replied to {user} on {at}."]
    elif kind is EventType.EMAIL_BOUNCED and event.bounce is not None:
        b = event.bounce
        how = "permanently (hard)" if b.hard else "for now (soft)"
        story = [f"{subject} to {recipient} bounced {how} on {at}: "
                 f"{b.status} {b.diagnostic}".rstrip()]
    elif kind is EventType.EMAIL_RECEIVED:
        story = [f"{recipient} wrote to {user} on {at}."]
    elif kind in MEETING_EVENTS and event.meeting is not None:
        mt = event.meeting
        place = f", at {mt.location}" if mt.location else ""
        cancelled = " (cancelled)" if mt.status == "cancelled" else ""
        story = [f'Meeting "{mt.title}"{cancelled}, {span(mt.start, mt.end)}{place}.',
                 f"Organizer: {who(mt.organizer)}"]
        if mt.attendees:
            story.append(f"Attendees: {people(mt.attendees)}")
    elif kind in TASK_EVENTS and event.task is not None:
        t = event.task
        due = f", due {t.due.isoformat()}" if t.due else ""
        status = "completed" if kind is EventType.TASK_COMPLETED else t.status
        story = [f'{_TASK_KIND[t.kind]} task "{t.subject}"{due}: {status}.',
                 f"{_TASK_DONE[kind]} in Tether by {user} on {at}."]
        if t.who:
            story.append(f"With: {who(t.who)}")
    elif kind is EventType.CALL_LOGGED and event.call is not None:
        c = event.call
        outcome = f", {c.disposition}" if c.disposition else ""
        story = [f"{c.direction.capitalize()} call with {who(c.to)}, "
                 f"{duration(c.duration_s)}{outcome}, on {at}.", f"Logged by {user}."]
    else:
        story = [f"{kind} by {user} on {at}."]
    if event.sequence is not None:
        headers.append(f"Sequence: {event.sequence.name}, step {event.sequence.stage}")
    return story + headers


def _body(event: Event) -> list[str]:
    """What was written: the message's first lines, the task's or the call's notes."""
    texts = [event.message.snippet if event.message else None,
             event.task.notes if event.task else None,
             event.call.notes if event.call else None]
    found = [t.strip() for t in texts if t and t.strip()]
    return ["", *found] if found else []

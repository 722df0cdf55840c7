"""`tether demo`'s calendar server and its show of watching: the admin's primary calendar on a
local CalDAV server (Radicale), then, once the mirror holds a Contact, an email sent to them,
their reply delivered into the admin's inbox, and a meeting with them put on the calendar:
the watchers take both to Salesforce, and the demo says when each arrived and as what."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from icalendar import Calendar, Event, vCalAddress
from sqlalchemy import select

from tether.calendar.local_server import LocalCalendarServer
from tether.mail.local_server import LocalMailServer
from tether.services import calendars, messages
from tether.services.records import Deps
from tether.services.workspaces import Actor
from tether.store.models import ActivityRow, MessageDelivery, MirrorRecord, utcnow
from tether.store.watch_models import InboundMessage

SUBJECT = "Welcome to Tether"
MEETING = "Tether demo call"


def start_calendar(root: Path, user: str, password: str) -> tuple[LocalCalendarServer, str]:
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    root.chmod(0o700)  # the data directory's rule: Tether's own, no one else's
    server = LocalCalendarServer(root=root)
    server.start()
    return server, server.add_user(user, password)


async def connect_calendar(deps: Deps, actor: Actor, url: str, user: str,
                           password: str) -> None:
    await calendars.save(deps, actor, calendars.CalendarIn(url, user, password))


async def show(deps: Deps, actor: Actor, mail: LocalMailServer, calendar: LocalCalendarServer,
               user: str) -> None:
    """Once per data directory: a reply and a meeting, each followed to Salesforce."""
    with deps.sessions() as db:
        if db.scalar(select(InboundMessage.id).where(InboundMessage.kind == "reply").limit(1)):
            return
    contact = await _first_contact(deps, actor.workspace_id)
    if contact is None:
        print("Watching: no Contact with an email in the mirror to show a reply to", flush=True)
        return
    queued = await messages.send(deps, actor, messages.Compose(
        to=[contact], subject=SUBJECT, send_without_creating=True,
        body_html="<p>Hello! This is Tether's demo: reply to this email.</p>"))
    sent = str(queued["id"])
    copy = await _accepted(deps, sent)
    started = time.monotonic()
    mail.store(user, "INBOX", _reply(copy, contact, user), seen=False)
    calendar.put_event(user, "tether-demo-call", _meeting(user, contact))
    for kind, what in (("email.replied", f"Replied: {SUBJECT}"),
                       ("calendar.event", f"Meeting Confirmed: {MEETING}")):
        took = await _synced(deps, actor.workspace_id, kind, started)
        said = f"in {took:.1f} s" if took is not None else "not yet (see the activity log)"
        print(f"Watching: {contact}'s {'reply' if kind == 'email.replied' else 'meeting'} "
              f"reached Salesforce as \"{what}\" {said}", flush=True)


async def _first_contact(deps: Deps, workspace_id: str, wait: float = 60) -> str | None:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        with deps.sessions() as db:
            found = db.scalar(select(MirrorRecord.email_lower).where(
                MirrorRecord.workspace_id == workspace_id, MirrorRecord.sobject == "Contact",
                MirrorRecord.email_lower.is_not(None), MirrorRecord.is_deleted.is_(False))
                .order_by(MirrorRecord.sf_id).limit(1))
        if found:
            return found
        await asyncio.sleep(1)
    return None


async def _accepted(deps: Deps, message_pk: str, wait: float = 60) -> MessageDelivery:
    deadline = time.monotonic() + wait
    while True:
        with deps.sessions() as db:
            copy = db.scalar(select(MessageDelivery).where(
                MessageDelivery.message_pk == message_pk, MessageDelivery.state == "accepted"))
            if copy is not None:
                db.expunge(copy)
                return copy
        if time.monotonic() > deadline:
            raise TimeoutError("the demo's email was not sent within a minute")
        await asyncio.sleep(0.2)


def _reply(copy: MessageDelivery, contact: str, user: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"] = contact, user
    msg["Subject"] = f"Re: {SUBJECT}"
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = make_msgid(domain=contact.partition("@")[2] or "demo.example")
    msg["In-Reply-To"] = msg["References"] = copy.delivery_message_id
    msg.set_content("Thanks, happy to talk next week.\n")
    return bytes(msg)


def _meeting(user: str, contact: str) -> str:
    start = (utcnow() + dt.timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    event = Event()
    event.add("uid", "tether-demo-call")
    event.add("dtstamp", utcnow())
    event.add("summary", MEETING)
    event.add("dtstart", start)
    event.add("dtend", start + dt.timedelta(minutes=30))
    event.add("organizer", vCalAddress(f"mailto:{user}"))
    event.add("attendee", vCalAddress(f"mailto:{contact}"))
    cal = Calendar()
    cal.add("prodid", "-//Tether demo//EN")
    cal.add("version", "2.0")
    cal.add_component(event)
    return str(cal.to_ical().decode())


async def _synced(deps: Deps, workspace_id: str, kind: str, started: float,
                  wait: float = 60) -> float | None:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        with deps.sessions() as db:
            done = db.scalar(select(ActivityRow.id).where(
                ActivityRow.workspace_id == workspace_id, ActivityRow.type == kind,
                ActivityRow.status == "synced").limit(1))
        if done:
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    return None

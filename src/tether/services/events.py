"""Ingest (CONTRACTS: POST /api/v1/events): validate every event of a request, then store
them all in one transaction, idempotently on the event id, before the caller hears 202."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from tether.domain.events import MEETING_EVENTS, DateWindow, Event, problems, unknown_fields
from tether.domain.exclusions import normalize_email
from tether.domain.paths import join, nul_at
from tether.services.errors import Forbidden, Invalid
from tether.services.workspaces import Actor
from tether.store.db import insert_ignoring
from tether.store.models import EventRow, Membership, User, utcnow

MAX_EVENTS = 1000
EVENT = TypeAdapter(Event)


def parse_event(raw: Any) -> Event:
    """An event from its JSON (stored or received); raises ValidationError."""
    return EVENT.validate_python(raw)


def validate(raw_events: Sequence[Any], *, single: bool, window: DateWindow | None = None
             ) -> list[tuple[int, Event, Any]]:
    """Every event parsed and checked, or Invalid naming the first bad field
    (``events[3].message.to[0]``; for a lone event, ``message.to[0]``).  Each comes with its
    position in the request, so later errors name it there too.  With a window, a date
    outside it is refused."""
    if not raw_events:
        raise Invalid("no events: send one event, or {\"events\": [...]} with 1 to 1000",
                      "events")
    if len(raw_events) > MAX_EVENTS:
        raise Invalid(f"at most {MAX_EVENTS} events a request ({len(raw_events)} sent)",
                      "events")
    parsed: list[tuple[int, Event, Any]] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_events):
        prefix = "" if single else f"events[{i}]"
        unknown = next(unknown_fields(raw), None)
        if unknown is not None:
            where = join(prefix, unknown.split("."))
            raise Invalid(f"{where}: unknown field (the event format is in docs/events.md)",
                          where)
        try:
            event = parse_event(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = join(prefix, err["loc"])
            raise Invalid(f"{where}: {err['msg']}", where) from None
        nul = nul_at(raw)
        if nul is not None:
            where = join(prefix, nul)
            raise Invalid(f"{where}: contains a NUL character (\\u0000), which cannot be "
                          "stored", where)
        found = problems(event, window)
        if found:
            name, what = found[0]
            where = join(prefix, name.split("."))
            raise Invalid(f"{where}: {what}", where)
        if event.id in seen:
            continue  # the same event twice in one request: stored once
        seen.add(event.id)
        parsed.append((i, event, raw))
    return parsed


def members(db: Session, workspace_id: str) -> dict[str, str]:
    """The workspace's members: normalized email -> membership id."""
    rows = db.execute(select(User.email, Membership.id).join(
        Membership, Membership.user_id == User.id).where(
        Membership.workspace_id == workspace_id))
    return {normalize_email(email): mid for email, mid in rows}


def rows_for(actor: Actor, parsed: Sequence[tuple[int, Event, Any]], members: dict[str, str],
             *, single: bool) -> list[dict[str, Any]]:
    """The event rows to store, after checking who they are for: a member's key posts its
    own events only; an admin's, any member's.  Raises before anything is stored."""
    rows: list[dict[str, Any]] = []
    now = utcnow()
    base = time.time_ns() // 1000 * 1000
    for i, (position, event, raw) in enumerate(parsed):
        where = "user" if single else f"events[{position}].user"
        user = normalize_email(event.user)
        if user not in members:
            raise Invalid(f"{where}: {event.user} is not a member of this workspace", where)
        if not actor.is_admin and user != normalize_email(actor.email):
            raise Forbidden(f"{where}: a member's API key posts only its own events "
                            f"({actor.email}), not {event.user}'s")
        rows.append({"workspace_id": actor.workspace_id, "id": event.id, "seq": base + i,
                     "membership_id": members[user], "type": event.type.value,
                     "occurred_at": event.occurred_at, "received_at": now,
                     "payload": _payload(raw), "state": "new"})
    return rows


class NotAnEvent(ValueError):
    """An event Tether made itself broke a rule: a bug, named by the field."""


def internal_row(workspace_id: str, membership_id: str, payload: dict[str, Any],
                 received_at: dt.datetime) -> dict[str, Any]:
    """The row of an event Tether makes itself (a send, a hit, a reply seen), checked by the
    rules the API applies; raises NotAnEvent naming the field when it breaks one."""
    try:
        event = parse_event(payload)
        wrong = problems(event)
    except ValidationError as exc:
        first = exc.errors()[0]
        wrong = [(join("", first["loc"]), first["msg"])]
    if wrong:
        name, what = wrong[0]
        raise NotAnEvent(f"its {name}: {what}")
    return {"workspace_id": workspace_id, "id": event.id, "seq": time.time_ns(),
            "membership_id": membership_id, "type": event.type.value,
            "occurred_at": event.occurred_at, "received_at": received_at,
            "payload": payload, "state": "new"}


def sequence_of(name: str | None, stage: int | None) -> dict[str, Any] | None:
    """The ``sequence`` of an event about a sequence's email ({name, stage}), or None."""
    return {"name": name, "stage": stage} if name and stage else None


def store(db: Session, rows: Sequence[dict[str, Any]]) -> None:
    """One INSERT; events already stored (same workspace and id) are left as they are.  A
    meeting confirmed with someone in a sequence stops it for them, in the same
    transaction (whichever way the meeting came: the calendar, the events API)."""
    if not rows:
        return
    db.execute(insert_ignoring(db, EventRow, EventRow.workspace_id, EventRow.id), list(rows))
    met = [(row["workspace_id"], meeting) for row in rows
           if row["type"] in MEETING_EVENTS and isinstance(meeting := row["payload"].get("meeting"),
                                                        dict)
           and meeting.get("status", "confirmed") != "cancelled"]
    if met:
        from tether.services import sequencing  # the sequence engine stores events too

        now = utcnow()
        for workspace_id, meeting in met:
            organizer = str(meeting.get("organizer", "")).lower()
            sequencing.stop_addresses(db, workspace_id, [
                str(a) for a in meeting.get("attendees", []) if str(a).lower() != organizer],
                "a meeting was confirmed", now)


def _payload(raw: Any) -> dict[str, Any]:
    return dict(raw) if isinstance(raw, Mapping) else {}

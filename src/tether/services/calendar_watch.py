"""Watching primary calendars: each connection held by one worker at a time (a lease, as
for mailboxes), asked for its changes every `calendar_poll_seconds` (sync-token, else ctag
and etags: services get only what changed), and each changed meeting made into a
calendar.event for the existing pipeline, which writes, moves and deletes the Salesforce
Events.

What was last sent for each occurrence is kept per calendar object (its fingerprint and its
meeting), so an unchanged occurrence sends nothing, a moved or edited one sends its new
version, and one that is gone (deleted, cancelled, an occurrence removed from a series) sends
a cancellation.  Event ids are made from the occurrence and its fingerprint: a look repeated
after a crash stores nothing twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from tether.calendar import caldav_client, ical
from tether.config import Settings
from tether.jobs.rounds import from_any_thread, in_thread, run_rounds
from tether.security import Vault
from tether.services import calendars, events
from tether.services.watching import holdable, take_leases, worker_name
from tether.store.models import Membership, User, iso, utcnow
from tether.store.watch_models import CalendarConnection, CalendarObject

log = logging.getLogger("tether.calendar")
WINDOW_BEFORE = dt.timedelta(days=7)
WINDOW_AFTER = dt.timedelta(days=90)


def fingerprint(o: ical.Occurrence) -> str:
    data = [o.title, iso(o.start), iso(o.end), o.location or "", sorted(o.attendees),
            o.status, o.organizer]
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()[:16]


def meeting_of(o: ical.Occurrence) -> dict[str, Any]:
    return {"id": o.key[:200], "title": (o.title or "(no title)")[:1000],
            "start": iso(o.start), "end": iso(o.end), "organizer": o.organizer,
            "attendees": list(o.attendees)[:1000], "calendar": "primary",
            "location": o.location[:1000] if o.location else None, "status": o.status}


class CalendarWatchers:
    def __init__(self, sessions: sessionmaker[Session], vault: Vault, settings: Settings, *,
                 on_events: Callable[[], None] | None = None, owner: str | None = None,
                 ) -> None:
        self.sessions = sessions
        self.vault = vault
        self.settings = settings
        self.on_events = on_events
        self.owner = owner or worker_name()
        self.wakeup = asyncio.Event()

    def step(self, now: dt.datetime | None = None) -> int:
        """Claims calendars due a look and looks at each; answers how many changed."""
        now = now or utcnow()
        lease = dt.timedelta(seconds=self.settings.watch_lease_seconds)
        with self.sessions() as db:
            due = list(db.scalars(select(CalendarConnection.id).where(
                or_(CalendarConnection.next_check_at.is_(None),
                    CalendarConnection.next_check_at <= now),
                holdable(CalendarConnection, self.owner, now)).limit(20)))
            mine = take_leases(db, CalendarConnection.id, due, self.owner, now, lease)
            db.commit()
        changed = 0
        for cid in mine:
            try:
                changed += self._look(cid, now)
            except caldav_client.CalendarCheckError as exc:
                self._failed(cid, str(exc))
            except Exception as exc:
                log.exception("looking at calendar %s failed", cid)
                self._failed(cid, str(exc) or type(exc).__name__)
        return changed

    def _look(self, cid: str, now: dt.datetime) -> int:
        with self.sessions() as db:
            row = db.get(CalendarConnection, cid)
            if row is None:
                return 0
            acct = calendars.account(self.vault, row, self.settings.mail_tls_verify)
            state = None
            if row.sync_state:
                try:
                    state = caldav_client.SyncState.from_json(json.dumps(row.sync_state))
                except ValueError:
                    state = None
            user = db.scalar(select(User.email).join(Membership, Membership.user_id == User.id)
                             .where(Membership.id == row.membership_id))
            ws, membership = row.workspace_id, row.membership_id
        got = caldav_client.changes(acct, state, window_start=now - WINDOW_BEFORE,
                                    window_end=now + WINDOW_AFTER)
        rows: list[dict[str, Any]] = []
        with self.sessions() as db:
            known = {o.href: o for o in db.scalars(select(CalendarObject).where(
                CalendarObject.connection_id == cid))}
            for obj in got.changed:
                found = ical.occurrences(obj.ics, now - WINDOW_BEFORE, now + WINDOW_AFTER)
                before = known[obj.href].occurrences if obj.href in known else {}
                after, out = _diff(before, found)
                rows += [self._event(ws, membership, user or "", m, now) for m in out]
                if obj.href in known:
                    known[obj.href].etag = obj.etag
                    known[obj.href].occurrences = after
                    known[obj.href].updated_at = now
                else:
                    db.add(CalendarObject(connection_id=cid, href=obj.href, etag=obj.etag,
                                          occurrences=after, updated_at=now))
            for href in got.removed:
                gone = known.get(href)
                if gone is None:
                    continue
                _, out = _diff(gone.occurrences, [])
                rows += [self._event(ws, membership, user or "", m, now) for m in out]
                db.delete(gone)
            events.store(db, rows)
            moved = db.execute(update(CalendarConnection).where(
                CalendarConnection.id == cid, CalendarConnection.owner == self.owner).values(
                sync_state=json.loads(got.state.to_json()), last_error=None, failures=0,
                next_check_at=now + dt.timedelta(seconds=self.settings.calendar_poll_seconds),
                watching_since=func.coalesce(CalendarConnection.watching_since, now),
                **({"last_change_at": now} if rows else {})))
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                db.rollback()  # another worker holds it now: it looks again itself
                return 0
            db.commit()
        if rows and self.on_events is not None:
            self.on_events()
        return len(rows)

    def _event(self, ws: str, membership: str, user: str, meeting: dict[str, Any],
               now: dt.datetime) -> dict[str, Any]:
        digest = hashlib.sha256(f"{meeting['id']}\0{meeting['_fp']}".encode()).hexdigest()
        payload = {"id": f"cal-{digest[:40]}", "type": "calendar.event",
                   "occurred_at": iso(now), "user": user,
                   "meeting": {k: v for k, v in meeting.items() if not k.startswith("_")}}
        return events.internal_row(ws, membership, payload, now)

    def _failed(self, cid: str, words: str) -> None:
        now = utcnow()
        with self.sessions() as db:
            row = db.get(CalendarConnection, cid)
            if row is None or row.owner != self.owner:
                return
            row.failures += 1
            row.last_error = words[:2000]
            wait = min(self.settings.watch_retry_max_seconds, 2.0 ** row.failures)
            row.next_check_at = now + dt.timedelta(seconds=wait)
            db.commit()

    async def run_forever(self) -> None:
        if self.on_events is not None:
            self.on_events = from_any_thread(self.on_events)  # step runs in a thread
        poll = min(5.0, self.settings.calendar_poll_seconds,
                   self.settings.watch_lease_seconds / 3)
        await run_rounds(in_thread(self.step), self.wakeup, poll, log, again=lambda _: False)


def _diff(before: dict[str, Any], found: list[ical.Occurrence]
          ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(what is kept for the object now, the meetings to send): each occurrence new or
    changed, and a cancellation for each one sent before that is gone."""
    after: dict[str, Any] = {}
    out: list[dict[str, Any]] = []
    for o in found:
        fp = fingerprint(o)
        meeting = meeting_of(o)
        after[o.key] = {"fp": fp, "meeting": meeting}
        if before.get(o.key, {}).get("fp") != fp:
            out.append({**meeting, "_fp": fp})
    for key, kept in before.items():
        if key not in after and kept.get("meeting", {}).get("status") != "cancelled":
            out.append({**kept["meeting"], "status": "cancelled", "_fp": f"gone-{kept['fp']}"})
    return after, out

"""Watching mailboxes: one watcher per mailbox across the install, each in its own thread
(imapclient blocks), held by a lease in mailbox_watch that the supervisor renews and that
another worker takes over once it lapses.

A watcher reads INBOX and the Sent folder from their cursors (UIDVALIDITY and the last UID
read), hands each batch to services.inbound, and moves the cursor in the transaction that
stores what the batch became: a crash before the commit reads the batch again, after it
reads on; Message-IDs already taken are skipped either way.  It then waits for new mail with
IDLE where the server offers it, else polls; on any failure it records the error in words
and reconnects with backoff.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import random
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from tether.config import Settings
from tether.jobs.rounds import from_any_thread, in_thread, run_rounds
from tether.mail import imap_watch
from tether.mail.imap import Server
from tether.security import Vault
from tether.services import inbound, mailboxes
from tether.store.db import insert_ignoring
from tether.store.models import Mailbox, Membership, User, as_utc, iso, new_id, utcnow
from tether.store.watch_models import MailboxWatch

log = logging.getLogger("tether.watching")
FOLDERS: tuple[inbound.Folder, ...] = ("inbox", "sent")


class LeaseLost(Exception):
    """Another worker holds this mailbox's watch now: this watcher stops."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{new_id()[:6]}"


def holdable(model: Any, owner: str, now: dt.datetime) -> ColumnElement[bool]:
    """A watch this worker may take: no one's, its own, or one whose lease lapsed."""
    return or_(model.owner.is_(None), model.owner == owner, model.lease_until < now)


def take_leases(db: Session, key: Any, ids: list[str], owner: str, now: dt.datetime,
                lease: dt.timedelta) -> list[str]:
    """The ids whose lease this worker won: one conditional update each, so two workers
    never both win one."""
    model = key.class_
    won = []
    for wanted in ids:
        taken = db.execute(update(model).where(key == wanted, holdable(model, owner, now))
                           .values(owner=owner, lease_until=now + lease))
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            won.append(wanted)
    return won


@dataclass(frozen=True)
class _Config:
    box: inbound.Box
    server: Server
    sent_folder: str
    version: dt.datetime  # the mailbox row's updated_at: a change restarts the watcher
    connected: dt.datetime  # when the mailbox was connected: mail from before is not taken


class MailWatchers:
    """Starts, renews and stops this worker's mailbox watchers."""

    def __init__(self, sessions: sessionmaker[Session], vault: Vault, settings: Settings, *,
                 on_events: Callable[[], None] | None = None, owner: str | None = None,
                 ) -> None:
        self.sessions = sessions
        self.vault = vault
        self.settings = settings
        self.on_events = on_events  # e.g. nudges the activity pipeline (called on its loop)
        self.owner = owner or worker_name()
        self.wakeup = asyncio.Event()
        self.watchers: dict[str, _Watcher] = {}
        self._nudge: Callable[[], None] = lambda: None
        self.closed = threading.Event()  # no watcher starts once set

    @property
    def lease(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.settings.watch_lease_seconds)

    def step(self) -> int:
        """One round of the supervisor; answers how many watchers it started."""
        now = utcnow()
        with self.sessions() as db:
            _add_missing_watches(db)
            mine = self._renew(db, now)
            db.commit()
        for mailbox_id, watcher in list(self.watchers.items()):
            if mailbox_id not in mine or not watcher.is_alive() or watcher.stale(mine):
                watcher.stop()
                del self.watchers[mailbox_id]
                if mailbox_id in mine and watcher.lost:
                    mine.pop(mailbox_id)
        started = 0
        if self.closed.is_set():
            return 0
        mine.update(self._claim(now))
        for mailbox_id in mine:
            if mailbox_id in self.watchers:
                continue
            config = self._config(mailbox_id)
            if config is None:
                continue
            watcher = _Watcher(self, config)
            self.watchers[mailbox_id] = watcher
            watcher.start()
            started += 1
            if self.closed.is_set():  # closed meanwhile (this round runs in a thread)
                watcher.halt.set()
        return started

    def _renew(self, db: Session, now: dt.datetime) -> dict[str, dt.datetime]:
        """Extends this worker's leases; answers the mailboxes still held, with their
        version."""
        db.execute(update(MailboxWatch).where(MailboxWatch.owner == self.owner)
                   .values(lease_until=now + self.lease))
        return {mid: version for mid, version in db.execute(
            select(MailboxWatch.mailbox_id, Mailbox.updated_at)
            .join(Mailbox, Mailbox.id == MailboxWatch.mailbox_id)
            .where(MailboxWatch.owner == self.owner))}

    def _claim(self, now: dt.datetime, limit: int = 50) -> dict[str, dt.datetime]:
        """Takes watches no one holds (or whose holder's lease lapsed), one conditional
        update each: two workers never both win one."""
        with self.sessions() as db:
            free = dict(db.execute(select(MailboxWatch.mailbox_id, Mailbox.updated_at)
                                   .join(Mailbox, Mailbox.id == MailboxWatch.mailbox_id)
                                   .where(or_(MailboxWatch.owner.is_(None),
                                              MailboxWatch.lease_until < now))
                                   .limit(limit)).all())
            won = take_leases(db, MailboxWatch.mailbox_id, list(free), self.owner, now,
                              self.lease)
            db.commit()
        return {mailbox_id: free[mailbox_id] for mailbox_id in won}

    def _config(self, mailbox_id: str) -> _Config | None:
        with self.sessions() as db:
            found = db.execute(select(Mailbox, User.email)
                               .join(Membership, Membership.id == Mailbox.membership_id)
                               .join(User, User.id == Membership.user_id)
                               .where(Mailbox.id == mailbox_id)).first()
            if found is None:
                return None
            row, user = found
            _, server = mailboxes.servers(self.vault, row, self.settings.smtp_timeout,
                                          self.settings.mail_tls_verify)
            box = inbound.Box(row.id, row.workspace_id, row.membership_id,
                              row.address.lower(), user)
            return _Config(box, server, row.sent_folder, row.updated_at, row.created_at)

    async def run_forever(self) -> None:
        if self.on_events is not None:
            self._nudge = from_any_thread(self.on_events)  # watchers call it from threads
        try:
            # A mailbox connected in another process is taken within 5 s; renewals every
            # third of the lease at least.
            await run_rounds(in_thread(self.step), self.wakeup,
                             min(5.0, self.settings.watch_lease_seconds / 3), log)
        finally:
            self.close()  # here and now: a cancelled task's await would be cancelled too

    def close(self) -> None:
        """Stops every watcher and gives their leases back: another worker takes over at
        once rather than when they lapse."""
        self.closed.set()
        watchers, self.watchers = list(self.watchers.values()), {}
        for watcher in watchers:
            watcher.halt.set()
        for watcher in watchers:
            watcher.stop()
        with self.sessions() as db:
            db.execute(update(MailboxWatch).where(MailboxWatch.owner == self.owner)
                       .values(owner=None, lease_until=None))
            db.commit()


def _add_missing_watches(db: Session) -> None:
    """A watch row for each mailbox that has none (a mailbox just connected)."""
    missing = select(Mailbox.id, Mailbox.workspace_id).where(
        ~select(MailboxWatch.mailbox_id).where(MailboxWatch.mailbox_id == Mailbox.id).exists())
    rows = [{"mailbox_id": mid, "workspace_id": ws, "cursors": {}, "mode": "", "failures": 0,
             "updated_at": utcnow()} for mid, ws in db.execute(missing)]
    if rows:
        db.execute(insert_ignoring(db, MailboxWatch, MailboxWatch.mailbox_id), rows)


class _Watcher(threading.Thread):
    """One mailbox's watch: connect, read both folders from their cursors, wait, again."""

    def __init__(self, parent: MailWatchers, config: _Config) -> None:
        super().__init__(name=f"tether-watch-{config.box.id[:8]}", daemon=True)
        self.parent = parent
        self.config = config
        self.halt = threading.Event()
        self.lost = False

    def stale(self, mine: dict[str, dt.datetime]) -> bool:
        return mine.get(self.config.box.id) != self.config.version

    def stop(self) -> None:
        self.halt.set()
        if self is not threading.current_thread():
            self.join(timeout=self.parent.settings.smtp_timeout + 5)

    def run(self) -> None:
        failures = 0
        while not self.halt.is_set() and not self.parent.closed.is_set():
            try:
                with imap_watch.connect(self.config.server) as conn:
                    self._status(mode="idle" if conn.idle else "poll", error=None)
                    failures = 0
                    while not self.halt.is_set():
                        for folder in FOLDERS:
                            self._read(conn, folder)
                        conn.wait("INBOX", self.parent.settings.watch_poll_seconds, self.halt)
            except LeaseLost:
                self.lost = True
                return
            except Exception as exc:
                failures += 1
                log.warning("watching %s failed (%s); reconnecting", self.config.box.address,
                            exc)
                self._status(error=str(exc) or type(exc).__name__)
                wait = min(self.parent.settings.watch_retry_max_seconds, 2.0 ** failures)
                self.halt.wait(wait * random.uniform(0.5, 1.0))

    def _folder_name(self, folder: inbound.Folder) -> str:
        return "INBOX" if folder == "inbox" else self.config.sent_folder

    def _read(self, conn: imap_watch.Connection, folder: inbound.Folder) -> None:
        name = self._folder_name(folder)
        state = conn.state(name)
        cursor = self._cursor(folder)
        if cursor is None or cursor.get("validity") != state.validity:
            # First sight: what arrived since the mailbox was connected.  A new UIDVALIDITY
            # (the folder was rebuilt): every message again, those taken already skipped by
            # their Message-ID.  Either way a message dated before is not taken.
            connected = self.config.connected
            first = conn.first_since(name, connected.date()) if cursor is None else 1
            uid = (first - 1) if first is not None else state.uidnext - 1
            cursor = {"validity": state.validity, "uid": uid, "since": iso(connected)}
            self._commit(folder, cursor, inbound.Taken())
        since = as_utc(dt.datetime.fromisoformat(cursor["since"])) if cursor.get("since") \
            else None
        while not self.halt.is_set():
            batch = conn.after(name, int(cursor["uid"]))
            if not batch:
                return
            with self.parent.sessions() as db:
                taken = inbound.take(db, self.config.box, folder, name, state.validity,
                                     [(f.uid, f.raw) for f in batch], utcnow(),
                                     not_before=since)
            cursor = {**cursor, "uid": batch[-1].uid}
            self._commit(folder, cursor, taken)
            if taken.events:
                self.parent._nudge()

    def _cursor(self, folder: inbound.Folder) -> dict[str, Any] | None:
        with self.parent.sessions() as db:
            row = db.get(MailboxWatch, self.config.box.id)
            if row is None:
                raise LeaseLost
            found = row.cursors.get(folder)
            return dict(found) if isinstance(found, dict) else None

    def _commit(self, folder: inbound.Folder, cursor: dict[str, Any],
                taken: inbound.Taken) -> None:
        """What the batch became and the moved cursor, in one transaction, only while this
        worker still holds the lease."""
        now = utcnow()
        with self.parent.sessions() as db:
            row = db.get(MailboxWatch, self.config.box.id)
            if row is None or row.owner != self.parent.owner:
                raise LeaseLost
            inbound.store(db, taken)
            values: dict[str, Any] = {"cursors": {**row.cursors, folder: cursor},
                                      "updated_at": now}
            if taken.rows:
                values["last_message_at"] = now
            moved = db.execute(update(MailboxWatch).where(
                and_(MailboxWatch.mailbox_id == self.config.box.id,
                     MailboxWatch.owner == self.parent.owner)).values(**values))
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                db.rollback()
                raise LeaseLost
            db.commit()

    def _status(self, *, mode: str | None = None, error: str | None = None) -> None:
        now = utcnow()
        with self.parent.sessions() as db:
            row = db.get(MailboxWatch, self.config.box.id)
            if row is None or row.owner != self.parent.owner:
                return
            if mode is not None:  # connected
                row.mode = mode
                row.failures = 0
                row.last_error = None
                if row.watching_since is None:
                    row.watching_since = now
            else:
                row.failures += 1
                row.last_error = (error or "")[:2000]
                row.last_error_at = now
            row.updated_at = now
            db.commit()

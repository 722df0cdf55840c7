"""The sender: due messages go out through their sender's own SMTP server, exactly once.

- A message is claimed under a lease (a worker that dies leaves it to be claimed again).
- Each delivery (one recipient's copy) is committed as *sending* before its SMTP transaction
  and as *accepted* after the server's 250.  A delivery found *sending* (the worker died) or
  *unknown* (the connection dropped after the data went out) is looked for by its
  Message-ID in the Sent folder (IMAP SEARCH HEADER) before anything is sent again: where the
  provider files what it accepts (Gmail does), that settles it.  Where Tether itself appends
  the Sent copy, nothing can tell whether the server took it, so it is not sent again: it
  fails, saying so, and the sender decides (never twice).
- Transient answers (4xx, dropped connections, timeouts before the data) are retried with
  backoff; permanent ones (5xx) fail that recipient with the server's words.
- Each mailbox's daily cap (a rolling 24 hours) and per-minute rate hold back what would
  pass them; the message waits, and says why and until when.
- When every delivery is settled, the Sent copy is appended (unless the provider keeps it)
  and the message's email.sent events enter the event store in the same transaction that
  marks it sent, so the pipeline logs "Sent (New): …" or "Sent (Reply): …".
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from tether.config import Settings
from tether.domain import tracking
from tether.jobs.rounds import run_rounds
from tether.mail import imap, mime, smtp
from tether.security import Vault
from tether.services import copies, events, mailboxes, sequencing
from tether.store.models import (
    Mailbox,
    Membership,
    MessageDelivery,
    OutboundMessage,
    TrackedFile,
    TrackedLink,
    User,
    as_utc,
    iso,
    utcnow,
)

log = logging.getLogger("tether.sending")
CLAIM = 50
DOUBTFUL = ("sending", "unknown")
SNIPPET = 500
DISCONNECTED = "the mailbox was disconnected before it was sent"
LOST = ("the server's answer was lost after the message was handed over, and this mailbox's "
        "provider does not keep sent mail, so Tether cannot tell whether it arrived; it is "
        "not sent again, so that it cannot arrive twice")


@dataclass
class _Work:
    message: OutboundMessage
    mailbox: Mailbox | None
    deliveries: list[MessageDelivery]
    links: dict[int, list[TrackedLink]]
    files: dict[str, str]
    sender_email: str


class Sender:
    def __init__(self, sessions: sessionmaker[Session], vault: Vault, settings: Settings, *,
                 poll_seconds: float = 0.5,
                 on_events: Callable[[], None] | None = None) -> None:
        self.sessions = sessions
        self.vault = vault
        self.settings = settings
        self.poll_seconds = poll_seconds
        self.on_events = on_events  # nudges the activity pipeline
        self.wakeup = asyncio.Event()
        self.links = copies.Links(settings.base_url,
                                  tracking.tracking_key(settings.effective_secret_key()))

    # -- claiming ---------------------------------------------------------------------------
    def _claim(self) -> list[str]:
        now = utcnow()
        lease = now + dt.timedelta(seconds=self.settings.send_lease_seconds)
        claimed: list[str] = []
        with self.sessions() as db:
            due = db.execute(select(OutboundMessage.id, OutboundMessage.status,
                                    OutboundMessage.attempts).where(or_(
                (OutboundMessage.status.in_(("queued", "scheduled")))
                & (OutboundMessage.next_attempt_at <= now),
                (OutboundMessage.status == "sending") & (OutboundMessage.lease_until <= now)))
                .order_by(OutboundMessage.next_attempt_at).limit(CLAIM)).all()
            for message_pk, status, attempts in due:
                taken = db.execute(update(OutboundMessage).where(
                    OutboundMessage.id == message_pk, OutboundMessage.status == status,
                    OutboundMessage.attempts == attempts).values(
                    status="sending", lease_until=lease, attempts=attempts + 1))
                if taken.rowcount == 1:  # type: ignore[attr-defined]
                    claimed.append(message_pk)
            db.commit()
        return claimed

    def _load(self, message_pk: str) -> _Work:
        with self.sessions() as db:
            message = db.get(OutboundMessage, message_pk)
            assert message is not None
            mailbox = db.get(Mailbox, message.mailbox_id)
            deliveries = list(db.scalars(select(MessageDelivery).where(
                MessageDelivery.message_pk == message_pk).order_by(MessageDelivery.id)))
            links: dict[int, list[TrackedLink]] = defaultdict(list)
            for link in db.scalars(select(TrackedLink).where(TrackedLink.delivery_id.in_(
                    [d.id for d in deliveries])).order_by(TrackedLink.n)):
                links[link.delivery_id].append(link)
            file_ids = {str(link.file_id) for ls in links.values() for link in ls
                        if link.file_id}
            files = dict(db.execute(select(TrackedFile.id, TrackedFile.name).where(
                TrackedFile.id.in_(file_ids))).all()) if file_ids else {}
            email = db.scalar(select(User.email).join(
                Membership, Membership.user_id == User.id).where(
                Membership.id == message.membership_id)) or message.from_address
            db.expunge_all()
        return _Work(message, mailbox, deliveries, links, files, email)

    # -- one message --------------------------------------------------------------------------
    def _wait_for_cap(self, work: _Work) -> tuple[dt.datetime, str] | None:
        """When the message may go, and why it waits, if a cap holds it back."""
        mailbox = work.mailbox
        assert mailbox is not None
        pending = sum(1 for d in work.deliveries if d.state == "queued")
        now = utcnow()
        with self.sessions() as db:
            def accepted_since(since: dt.datetime) -> list[dt.datetime]:
                return [as_utc(a) for a in db.scalars(select(MessageDelivery.accepted_at).where(  # type: ignore[arg-type]
                    MessageDelivery.mailbox_id == mailbox.id,
                    MessageDelivery.accepted_at > since).order_by(MessageDelivery.accepted_at))]
            day = accepted_since(now - dt.timedelta(days=1))
            if day and len(day) + pending > mailbox.daily_cap:
                over = len(day) + pending - mailbox.daily_cap
                at = day[min(over, len(day)) - 1] + dt.timedelta(days=1)
                return at, (f"the mailbox's daily cap of {mailbox.daily_cap} is reached "
                            f"({len(day)} sent in the last 24 hours); it goes at "
                            f"{iso(at)}")
            minute = [a for a in day if a > now - dt.timedelta(minutes=1)]
            if minute and len(minute) >= mailbox.per_minute:
                at = minute[len(minute) - mailbox.per_minute] + dt.timedelta(minutes=1)
                return at, (f"the mailbox's rate of {mailbox.per_minute} a minute is reached; "
                            f"it goes at {iso(at)}")
        return None

    def _save(self, message_pk: str, attempt: int, **values: Any) -> bool:
        """The message's row updated, if this attempt still holds it."""
        with self.sessions() as db:
            done = db.execute(update(OutboundMessage).where(
                OutboundMessage.id == message_pk, OutboundMessage.attempts == attempt,
                OutboundMessage.status == "sending").values(**values))
            db.commit()
            return bool(done.rowcount == 1)  # type: ignore[attr-defined]

    def _set_delivery(self, work: _Work, delivery: MessageDelivery, **values: Any) -> bool:
        """A delivery's state committed, with the message's lease renewed; False when the
        lease was lost (another worker took the message over).  A sequence's copy about to
        go is failed instead when its recipient left the sequence (a reply, a bounce)."""
        lease = utcnow() + dt.timedelta(seconds=self.settings.send_lease_seconds)
        with self.sessions() as db:
            held = db.execute(update(OutboundMessage).where(
                OutboundMessage.id == work.message.id,
                OutboundMessage.attempts == work.message.attempts,
                OutboundMessage.status == "sending").values(lease_until=lease))
            if held.rowcount != 1:  # type: ignore[attr-defined]
                db.rollback()
                return False
            rid = work.message.sequence_recipient_id
            if values.get("state") == "sending" and rid is not None:
                left = sequencing.still_on(db, rid, utcnow())
                if left is not None:
                    values = {"state": "failed", "smtp_reply": left}
            db.execute(update(MessageDelivery).where(MessageDelivery.id == delivery.id)
                       .values(**values))
            db.commit()
        for name, value in values.items():
            setattr(delivery, name, value)
        return True

    async def _settle_doubtful(self, work: _Work, inbox: imap.Server) -> bool:
        """Deliveries that may have gone out: found in the Sent folder, accepted; not found,
        sent again where the provider would have filed them, else failed as unknown.  False
        when the Sent folder could not be read (nothing is sent blind)."""
        doubtful = [d for d in work.deliveries if d.state in DOUBTFUL]
        if not doubtful:
            return True
        mailbox = work.mailbox
        assert mailbox is not None
        try:
            found = await imap.afind_message_ids(inbox, mailbox.sent_folder,
                                                 [d.delivery_message_id for d in doubtful])
        except Exception as exc:  # any IMAP trouble: look again later
            log.warning("message %s: cannot read the Sent folder: %s", work.message.id, exc)
            return False
        for d in doubtful:
            if d.delivery_message_id in found:
                ok = self._set_delivery(work, d, state="accepted", accepted_at=utcnow(),
                                        smtp_reply="found in the Sent folder after the "
                                        "server's answer was lost")
            elif mailbox.provider_saves_sent:
                ok = self._set_delivery(work, d, state="queued")
            else:
                ok = self._set_delivery(work, d, state="failed", smtp_reply=LOST)
            if not ok:
                return False
        return True

    async def _deliver_all(self, work: _Work, session: smtp.Session) -> str | None:
        """Send each queued delivery; answers the reply that stopped it (to retry), if any."""
        message = work.message
        for d in work.deliveries:
            if d.state != "queued":
                continue
            raw = copies.outgoing(message, d, work.links.get(d.id, []), work.files, self.links)
            if not await asyncio.to_thread(self._set_delivery, work, d, state="sending",
                                           attempts=d.attempts + 1):
                return "the message was taken over by another worker"
            if d.state != "sending":  # its sequence recipient left: not sent
                continue
            outcome = await session.deliver(message.from_address, d.recipient, raw)
            if outcome.status == "accepted":
                values: dict[str, Any] = {"state": "accepted", "accepted_at": utcnow(),
                                          "smtp_reply": outcome.reply}
            elif outcome.status == "refused":
                values = {"state": "failed", "smtp_reply": outcome.reply}
            elif outcome.status == "transient":
                values = {"state": "queued", "smtp_reply": outcome.reply}
            else:
                values = {"state": "unknown", "smtp_reply": outcome.reply}
            if not await asyncio.to_thread(self._set_delivery, work, d, **values):
                return "the message was taken over by another worker"
            if outcome.status in ("transient", "unknown"):
                return outcome.reply
            if await asyncio.to_thread(self._wait_for_cap, work) is not None:
                return None  # the rest waits for the cap
        return None

    async def _attempt(self, work: _Work, session: smtp.Session, inbox: imap.Server) -> bool:
        """One try of a claimed message; True when every delivery is settled (it is then
        completed with the others of its batch), else it waits or has failed."""
        message, mailbox = work.message, work.mailbox
        attempt = message.attempts
        if mailbox is None:
            await asyncio.to_thread(self._save, message.id, attempt, status="failed",
                                    lease_until=None, error=DISCONNECTED)
            return False
        wait = await asyncio.to_thread(self._wait_for_cap, work)
        if wait is not None:
            await asyncio.to_thread(self._save, message.id, attempt, status="queued",
                                    lease_until=None, next_attempt_at=wait[0],
                                    waiting_reason=wait[1], attempts=attempt - 1)
            return False
        stopped: str | None
        if not await self._settle_doubtful(work, inbox):
            stopped = "the Sent folder could not be read to check an earlier try"
        else:
            stopped = await self._deliver_all(work, session)
        return await self._settled(work, stopped)

    async def _settled(self, work: _Work, stopped: str | None) -> bool:
        """True when every delivery is settled.  Else the message waits: for its cap (stopped
        None), or to be tried again; out of tries, it gives up on what is left, saying the
        last reply."""
        message, attempt = work.message, work.message.attempts
        open_ = [d for d in work.deliveries if d.state in ("queued", *DOUBTFUL)]
        if open_ and stopped is not None and attempt >= self.settings.send_max_attempts:
            for d in open_:
                await asyncio.to_thread(
                    self._set_delivery, work, d, state="failed",
                    smtp_reply=f"gave up after {attempt} tries: {d.smtp_reply or stopped}")
            open_ = []
        if not open_:
            return True
        wait = await asyncio.to_thread(self._wait_for_cap, work)
        if stopped is None and wait is not None:
            at, why = wait
        else:
            delay = min(self.settings.send_retry_max_seconds,
                        2.0 ** min(attempt, 10)) * (0.5 + random.random() / 2)
            at, why = utcnow() + dt.timedelta(seconds=delay), f"retrying: {stopped}"
        await asyncio.to_thread(self._save, message.id, attempt, status="queued",
                                lease_until=None, next_attempt_at=at, waiting_reason=why,
                                error=stopped)
        return False

    async def _append_sent(self, works: list[_Work], inbox: imap.Server) -> dict[str, str]:
        """The Sent copies of settled messages appended over one login, once each (a copy
        already there, from a try that died after appending, is not appended again).
        Answers a note for each message whose copy could not be."""
        mailbox = works[0].mailbox if works else None
        need = [w for w in works if mailbox is not None and not mailbox.provider_saves_sent
                and w.message.sent_copy is None
                and any(d.state == "accepted" for d in w.deliveries)]
        if not need or mailbox is None:
            return {}
        try:
            retried = [w.message.message_id for w in need if w.message.attempts > 1]
            there = await imap.afind_message_ids(inbox, mailbox.sent_folder, retried) \
                if retried else set()
            await imap.aappend_all(inbox, mailbox.sent_folder, [
                copies.sent_copy(w.message, w.deliveries[0]) for w in need
                if w.message.message_id not in there])
        except Exception as exc:  # the mail went out; say the copy did not
            note = f"sent, but the copy for the Sent folder could not be saved: {exc}"
            return {w.message.id: note for w in need}
        return {}

    def _complete(self, work: _Work, note: str | None) -> None:
        message = work.message
        accepted = [d for d in work.deliveries if d.state == "accepted"]
        failed = [d for d in work.deliveries if d.state == "failed"]
        sent_at = max((as_utc(d.accepted_at) for d in accepted if d.accepted_at),
                      default=utcnow())
        errors = [f"{d.recipient}: {d.smtp_reply}" for d in failed]
        if note:
            errors.append(note)
        with self.sessions() as db:
            done = db.execute(update(OutboundMessage).where(
                OutboundMessage.id == message.id, OutboundMessage.attempts == message.attempts,
                OutboundMessage.status == "sending").values(
                status="sent" if accepted else "cancelled" if failed and all(
                    (d.smtp_reply or "").startswith(sequencing.LEFT) for d in failed)
                else "failed", lease_until=None,
                sent_at=sent_at if accepted else None, waiting_reason=None,
                sent_copy=("provider" if work.mailbox and work.mailbox.provider_saves_sent
                           else "appended" if accepted and not note else None),
                error="; ".join(errors) or None))
            if done.rowcount != 1:  # type: ignore[attr-defined]
                db.rollback()
                return
            rows = sent_events(work, accepted, sent_at)
            events.store(db, rows)
            db.commit()

    def _release(self, message_pk: str, exc: Exception) -> None:
        """A message whose try broke (a bug, the database) waits a while and is tried again;
        its deliveries keep their states, so nothing goes twice."""
        with self.sessions() as db:
            db.execute(update(OutboundMessage).where(
                OutboundMessage.id == message_pk, OutboundMessage.status == "sending").values(
                status="queued", lease_until=None, error=f"{type(exc).__name__}: {exc}",
                next_attempt_at=utcnow() + dt.timedelta(seconds=30),
                waiting_reason="retrying after an error"))
            db.commit()

    # -- the loop -----------------------------------------------------------------------------
    async def step(self) -> int:
        claimed = await asyncio.to_thread(self._claim)
        if not claimed:
            return 0
        by_mailbox: dict[str, list[str]] = defaultdict(list)
        with self.sessions() as db:
            for message_pk, mailbox_id in db.execute(select(
                    OutboundMessage.id, OutboundMessage.mailbox_id).where(
                    OutboundMessage.id.in_(claimed))):
                by_mailbox[mailbox_id or ""].append(message_pk)
        await asyncio.gather(*(self._mailbox_batch(ids) for ids in by_mailbox.values()))
        return len(claimed)

    async def _mailbox_batch(self, message_pks: list[str]) -> None:
        """One mailbox's messages, one after the other (its caps hold), over one SMTP
        connection; then their Sent copies over one IMAP login, and their completion."""
        works = [await asyncio.to_thread(self._load, pk) for pk in message_pks]
        mailbox = next((w.mailbox for w in works if w.mailbox is not None), None)
        if mailbox is None:
            for work in works:
                await asyncio.to_thread(self._save, work.message.id, work.message.attempts,
                                        status="failed", lease_until=None,
                                        error=DISCONNECTED)
            return
        out, inbox = mailboxes.servers(self.vault, mailbox, self.settings.smtp_timeout,
                                       self.settings.mail_tls_verify)
        ready: list[_Work] = []
        async with smtp.Session(out) as session:
            for work in works:
                try:
                    if await self._attempt(work, session, inbox):
                        ready.append(work)
                except Exception as exc:  # one message's trouble must not stop the others
                    log.exception("sending message %s failed; it is retried", work.message.id)
                    await asyncio.to_thread(self._release, work.message.id, exc)
        notes = await self._append_sent(ready, inbox)
        for work in ready:
            await asyncio.to_thread(self._complete, work, notes.get(work.message.id))
        if ready and self.on_events is not None:
            self.on_events()

    async def run_forever(self) -> None:
        await run_rounds(self.step, self.wakeup, self.poll_seconds, log)


def sent_events(work: _Work, accepted: list[MessageDelivery], sent_at: dt.datetime
                ) -> list[dict[str, Any]]:
    """The message's email.sent events: one per distinct subject (a template can give each
    recipient their own), each naming only the recipients who got that subject; Salesforce's
    Auto-BCC copy is not a recipient."""
    message = work.message
    groups: dict[str, list[MessageDelivery]] = defaultdict(list)
    for d in accepted:
        if d.kind != "salesforce_bcc":
            groups[d.subject].append(d)
    rows = []
    base = time.time_ns() // 1000 * 1000
    for i, (subject, ds) in enumerate(groups.items()):
        text = ds[0].body_text or mime.html_to_text(ds[0].body_html)
        payload: dict[str, Any] = {
            "id": f"sent-{message.id}" + (f"-{i}" if i else ""), "type": "email.sent",
            "occurred_at": iso(sent_at), "user": work.sender_email,
            "message": {"id": message.message_id, "thread_id": message.thread_id,
                        "subject": subject[:1000],
                        "to": [d.recipient for d in ds if d.kind == "to"],
                        "cc": [d.recipient for d in ds if d.kind == "cc"],
                        "bcc": [d.recipient for d in ds if d.kind == "bcc"],
                        "is_reply": message.in_reply_to is not None, "sent_via": "tether",
                        "snippet": text[:SNIPPET]}}
        if (sequence := events.sequence_of(message.sequence_name, message.sequence_stage)):
            payload["sequence"] = sequence
        if not payload["message"]["to"] and not payload["message"]["cc"] \
                and not payload["message"]["bcc"]:
            continue
        rows.append({"workspace_id": message.workspace_id, "id": payload["id"],
                     "seq": base + i, "membership_id": message.membership_id,
                     "type": "email.sent", "occurred_at": sent_at, "received_at": utcnow(),
                     "payload": payload, "state": "new"})
    return rows


def message_count(db: Session, workspace_id: str, status: str) -> int:
    return int(db.scalar(select(func.count()).select_from(OutboundMessage).where(
        OutboundMessage.workspace_id == workspace_id, OutboundMessage.status == status)) or 0)

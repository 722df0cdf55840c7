"""What a message seen in a watched mailbox becomes: the database's half of it (which Tether
copy it answers, whether its sender has a Lead or Contact) around domain.mail's reading of
the message itself.

In the inbox: a bounce (email.bounced on the copy that came back), an automatic answer
(ignored, with its reason and any return date), a reply to a Tether copy by its recipient or
by a colleague at their domain (email.replied), a message from a Lead or Contact
(email.received), or nothing, with why.  In the Sent folder: a Tether send (nothing more: it is
logged already), or an email sent from the mailbox outside Tether (email.sent with
sent_via "mailbox"; the role's "Which emails" decides whether it reaches Salesforce).

Every outcome is an inbound_message row keyed by (mailbox, Message-ID), stored with its event
in the watcher's transaction: a message seen twice, in two folders or after a restart, is
taken once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from tether.domain import mail
from tether.services import events, sequencing
from tether.store.models import MessageDelivery, OutboundMessage, iso, utcnow
from tether.store.watch_models import InboundMessage, MailboxWatch
from tether.sync import mirror_view

Folder = Literal["inbox", "sent"]
SNIPPET = 2000
# A colleague's reply counts only at a company's own domain: two people at a free mail
# provider are not colleagues.
FREE_MAIL = frozenset({
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
    "yahoo.com", "ymail.com", "icloud.com", "me.com", "mac.com", "aol.com", "proton.me",
    "protonmail.com", "gmx.com", "gmx.de", "gmx.net", "web.de", "mail.com", "yandex.com",
    "yandex.ru", "mail.ru", "qq.com", "163.com", "126.com", "zoho.com", "fastmail.com",
    "hey.com", "orange.fr", "free.fr", "laposte.net", "libero.it", "t-online.de"})
BOUNCE_LOOKBACK = dt.timedelta(days=14)
# A Date header is the sender's clock, to the second: mail dated this little before the
# mailbox was connected is still taken.
CLOCK_SKEW = dt.timedelta(minutes=10)  # a bounce without references: the latest copy


@dataclass(frozen=True)
class Box:
    """The watched mailbox and its owner."""

    id: str
    workspace_id: str
    membership_id: str
    address: str  # the mailbox's own address, normalized
    user: str  # the owner's Tether login (events are theirs)


@dataclass
class Taken:
    """A batch's outcome: the rows to store, and the deliveries to mark."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    marks: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


def message_key(parsed: mail.Parsed, box: Box, folder: str, validity: int, uid: int) -> str:
    """The message's Message-ID, or one made from where it lies when it has none."""
    if parsed.message_id:
        return parsed.message_id[:300]
    return f"<{folder}.{validity}.{uid}@{box.id}.tether.invalid>"


def event_id(box: Box, message_key: str, n: int = 0) -> str:
    digest = hashlib.sha256(f"{box.id}\0{message_key}".encode()).hexdigest()[:32]
    return f"in-{digest}" + (f"-{n}" if n else "")


def take(db: Session, box: Box, folder: Folder, folder_name: str, validity: int,
         fetched: Sequence[tuple[int, bytes]], now: dt.datetime, *,
         not_before: dt.datetime | None = None) -> Taken:
    """What each fetched (uid, raw) message becomes; messages already taken are skipped, and
    those dated before ``not_before`` (mail from before the mailbox was connected) are
    recorded without an event."""
    parsed = [(uid, mail.parse(raw)) for uid, raw in fetched]
    keyed = [(uid, p, message_key(p, box, folder_name, validity, uid)) for uid, p in parsed]
    seen = set(db.scalars(select(InboundMessage.message_id).where(
        InboundMessage.mailbox_id == box.id,
        InboundMessage.message_id.in_([k for _, _, k in keyed]))))
    taken = Taken()
    for uid, p, key in keyed:
        if key in seen:
            continue
        seen.add(key)
        row = {"workspace_id": box.workspace_id, "mailbox_id": box.id, "folder": folder_name,
               "uid": uid, "message_id": key, "from_address": p.from_address[:320],
               "subject": p.subject[:2000], "seen_at": now}
        if not_before is not None and p.date is not None and p.date < not_before - CLOCK_SKEW:
            row.update(kind="ignored", reason="dated before the mailbox was connected")
        elif folder == "sent":
            _sent(db, box, p, key, row, taken, now)
        else:
            _inbox(db, box, p, key, row, taken, now)
        taken.rows.append(row)
    return taken


def store(db: Session, taken: Taken) -> None:
    """What a batch became, in the caller's transaction: a reply or a bounce stops its
    sequence recipient in the same one (a stage never goes after it is recorded)."""
    if taken.rows:
        db.execute(insert(InboundMessage), taken.rows)
    events.store(db, taken.events)
    for delivery_id, values in taken.marks:
        db.execute(update(MessageDelivery).where(MessageDelivery.id == delivery_id)
                   .values(**values))
    colleagues = {int(r["delivery_id"]) for r in taken.rows
                  if r.get("kind") == "colleague_reply" and r.get("delivery_id")}
    sequencing.on_deliveries(db, taken.marks, colleagues, utcnow())


# -- the inbox --------------------------------------------------------------------------------
def _inbox(db: Session, box: Box, p: mail.Parsed, key: str, row: dict[str, Any],
           taken: Taken, now: dt.datetime) -> None:
    if p.from_address == box.address:
        row.update(kind="ignored", reason="written from this mailbox")
        return
    found = mail.bounces(p)
    if found:
        _bounced(db, box, p, key, row, taken, now, found)
        return
    automatic = mail.automatic(p)
    copy = _answered(db, box, p)
    if automatic is not None:
        back = mail.return_date(p, now.date())
        row.update(kind="auto_reply", reason=f"an automatic answer ({automatic}): not a "
                   "reply", return_date=back)
        if copy is not None:
            row.update(delivery_id=copy.id, recipient=copy.recipient)
            if back is not None:
                taken.marks.append((copy.id, {"away_until": back}))
        return
    if copy is not None:
        by = p.from_address
        if by == copy.recipient or _colleagues(by, copy.recipient):
            _replied(db, box, p, key, row, taken, now, copy)
            return
    if _known(db, box, p.from_address):
        payload = _payload(box, key, "email.received", p, now, recipient=p.from_address,
                           message={"id": key, "subject": p.subject[:1000],
                                    "to": list(p.to[:1000]), "cc": list(p.cc[:1000]),
                                    "snippet": p.text[:SNIPPET]})
        _event(box, payload, row, taken, now, kind="received",
               reason=f"an email from {p.from_address}, who has a Lead or Contact")
        return
    row.update(kind="ignored", reason=f"{p.from_address or 'the sender'} has no Lead or Contact "
               "in Salesforce, and it answers no email sent with Tether")


def _replied(db: Session, box: Box, p: mail.Parsed, key: str, row: dict[str, Any],
             taken: Taken, now: dt.datetime, copy: MessageDelivery) -> None:
    message = db.get(OutboundMessage, copy.message_pk)
    assert message is not None
    colleague = p.from_address != copy.recipient
    info: dict[str, Any] = {"id": copy.delivery_message_id, "thread_id": message.thread_id,
                            # The guide: "Replied: {subject line}", the email's own.
                            "subject": copy.subject[:1000],
                            "to": [box.address], "snippet": p.text[:SNIPPET]}
    if colleague:
        info["replied_by"] = p.from_address
    payload = _payload(box, key, "email.replied", p, now, recipient=copy.recipient,
                       message=info)
    if (sequence := events.sequence_of(message.sequence_name, message.sequence_stage)):
        payload["sequence"] = sequence
    who = (f"{p.from_address}, a colleague at {copy.recipient}'s domain," if colleague
           else copy.recipient)
    row.update(delivery_id=copy.id, recipient=copy.recipient)
    _event(box, payload, row, taken, now, kind="colleague_reply" if colleague else "reply",
           reason=f"{who} replied to \"{copy.subject[:200]}\"")
    if copy.replied_at is None:
        taken.marks.append((copy.id, {"replied_at": now}))


def _bounced(db: Session, box: Box, p: mail.Parsed, key: str, row: dict[str, Any],
             taken: Taken, now: dt.datetime, found: list[mail.Bounce]) -> None:
    said = []
    for n, b in enumerate(found):
        copy = _bounced_copy(db, box, p, b.recipient, now)
        how = "hard" if b.hard else "soft"
        said.append(f"{b.recipient or 'a recipient'}: {b.status or 'no status'} ({how})")
        if n == 0:
            row.update(recipient=b.recipient or None, bounce_status=b.status[:16] or None,
                       bounce_hard=b.hard)
        if copy is None:
            continue
        row.setdefault("delivery_id", copy.id)
        bounce = {"status": b.status[:16], "hard": b.hard, "diagnostic": b.diagnostic[:500]}
        taken.marks.append((copy.id, {"bounced_at": now, "bounce": bounce}))
        message = db.get(OutboundMessage, copy.message_pk)
        assert message is not None
        payload = _payload(box, key, "email.bounced", p, now, recipient=copy.recipient,
                           n=n, message={"id": copy.delivery_message_id,
                                         "thread_id": message.thread_id,
                                         "subject": copy.subject[:1000],
                                         "to": [copy.recipient]}, bounce=bounce)
        taken.events.append(_row(box, payload, now))
        row.setdefault("event_id", payload["id"])
    tether = "" if row.get("delivery_id") else ", of no email sent with Tether"
    row.update(kind="bounce", reason="a bounce" + tether + ": " + "; ".join(said))


def _bounced_copy(db: Session, box: Box, p: mail.Parsed, recipient: str, now: dt.datetime
                  ) -> MessageDelivery | None:
    """The copy a bounce is about: by the original's Message-ID, else the latest copy to that
    recipient from this mailbox (bounces that quote nothing)."""
    copies = _copies(db, box, p.refs)
    if recipient:
        exact = [c for c in copies if c.recipient == recipient]
        if exact:
            return exact[0]
        if not copies:
            return db.scalar(select(MessageDelivery).where(
                MessageDelivery.mailbox_id == box.id, MessageDelivery.recipient == recipient,
                MessageDelivery.accepted_at >= now - BOUNCE_LOOKBACK)
                .order_by(MessageDelivery.accepted_at.desc()).limit(1))
    return copies[0] if len(copies) == 1 else None


def _answered(db: Session, box: Box, p: mail.Parsed) -> MessageDelivery | None:
    """The Tether copy a message answers: one its references name (each copy has its own
    Message-ID), else the copy to its sender (or to a colleague of theirs) of a message or
    thread its references name."""
    refs = p.refs
    if not refs:
        return None
    copies = _copies(db, box, refs)
    if not copies:
        return None
    for c in copies:
        if c.delivery_message_id in refs and (c.recipient == p.from_address
                                             or _colleagues(p.from_address, c.recipient)):
            return c
    mine = [c for c in copies if c.recipient == p.from_address]
    if mine:
        return mine[0]
    colleague = [c for c in copies if _colleagues(p.from_address, c.recipient)]
    return colleague[0] if colleague else None


def _copies(db: Session, box: Box, refs: Sequence[str]) -> list[MessageDelivery]:
    """This mailbox's accepted copies that the references name, directly or by their
    message or thread, newest first."""
    if not refs:
        return []
    wanted = list(refs)[:100]
    messages = select(OutboundMessage.id).where(
        OutboundMessage.workspace_id == box.workspace_id,
        or_(OutboundMessage.message_id.in_(wanted), OutboundMessage.thread_id.in_(wanted)))
    return list(db.scalars(select(MessageDelivery).where(
        MessageDelivery.workspace_id == box.workspace_id, MessageDelivery.mailbox_id == box.id,
        MessageDelivery.state == "accepted", MessageDelivery.kind != "salesforce_bcc",
        or_(MessageDelivery.delivery_message_id.in_(wanted),
            MessageDelivery.message_pk.in_(messages)))
        .order_by(MessageDelivery.accepted_at.desc()).limit(200)))


def _colleagues(a: str, b: str) -> bool:
    da, db_ = a.rpartition("@")[2], b.rpartition("@")[2]
    return bool(da) and da == db_ and da not in FREE_MAIL


def _known(db: Session, box: Box, address: str) -> bool:
    if not address:
        return False
    rows, converted = mirror_view.people_rows(db, box.workspace_id, [address])
    return bool(rows.get(address)) or address in converted


# -- the Sent folder --------------------------------------------------------------------------
def _sent(db: Session, box: Box, p: mail.Parsed, key: str, row: dict[str, Any],
          taken: Taken, now: dt.datetime) -> None:
    ours = db.scalar(select(OutboundMessage.id).where(
        OutboundMessage.workspace_id == box.workspace_id,
        OutboundMessage.message_id == key).limit(1)) or db.scalar(
        select(MessageDelivery.id).where(MessageDelivery.workspace_id == box.workspace_id,
                                         MessageDelivery.delivery_message_id == key).limit(1))
    if ours is not None:
        row.update(kind="ignored", reason="sent with Tether: logged when it was sent")
        return
    to, cc = [a for a in p.to if a != box.address], [a for a in p.cc if a != box.address]
    bcc = [a for a in p.bcc if a != box.address]
    if not (to or cc or bcc):
        row.update(kind="ignored", reason="sent to no one but this mailbox")
        return
    payload = _payload(box, key, "email.sent", p, now, message={
        "id": key, "thread_id": (p.references[:1] or (key,))[0], "subject": p.subject[:1000],
        "to": to[:1000], "cc": cc[:1000], "bcc": bcc[:1000], "is_reply": bool(p.in_reply_to),
        "sent_via": "mailbox", "snippet": p.text[:SNIPPET]})
    _event(box, payload, row, taken, now, kind="sent_outside",
           reason="sent from the mailbox outside Tether")


# -- events -----------------------------------------------------------------------------------
def _payload(box: Box, key: str, kind: str, p: mail.Parsed, now: dt.datetime, *, n: int = 0,
             **fields: Any) -> dict[str, Any]:
    return {"id": event_id(box, key, n), "type": kind, "occurred_at": iso(_when(p, now)),
            "user": box.user, **fields}


def _when(p: mail.Parsed, now: dt.datetime) -> dt.datetime:
    """The message's Date where it is believable (a day ahead at most, a month back), else
    when it was seen: a forged Date must not put an activity in another year."""
    if p.date is not None and now - dt.timedelta(days=31) <= p.date <= now + dt.timedelta(
            days=1):
        return p.date
    return now


def _event(box: Box, payload: dict[str, Any], row: dict[str, Any], taken: Taken,
           now: dt.datetime, *, kind: str, reason: str) -> None:
    built = _row(box, payload, now)
    row.update(kind=kind, reason=reason, event_id=payload["id"])
    taken.events.append(built)


def _row(box: Box, payload: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    return events.internal_row(box.workspace_id, box.membership_id, payload, now)


# -- what the Mailbox page shows --------------------------------------------------------------
def watch_status(db: Session, mailbox_id: str, recent: int = 20) -> dict[str, Any]:
    """The watcher's state in words, and the last messages it read with what they became."""
    row = db.get(MailboxWatch, mailbox_id)
    seen = db.scalars(select(InboundMessage).where(InboundMessage.mailbox_id == mailbox_id)
                      .order_by(InboundMessage.id.desc()).limit(recent))
    messages = [{"folder": m.folder, "kind": m.kind, "reason": m.reason,
                 "from": m.from_address, "subject": m.subject, "seen_at": iso(m.seen_at),
                 "return_date": m.return_date.isoformat() if m.return_date else None}
                for m in seen]
    if row is None or (row.watching_since is None and row.last_error is None):
        return {"state": "starting", "mode": None, "watching_since": None,
                "last_message_at": None, "last_error": None, "last_error_at": None,
                "recent": messages}
    failing = row.last_error is not None
    return {"state": "failing" if failing else "watching",
            "mode": row.mode or None,
            "watching_since": iso(row.watching_since) if row.watching_since else None,
            "last_message_at": iso(row.last_message_at) if row.last_message_at else None,
            "last_error": row.last_error,
            "last_error_at": iso(row.last_error_at) if row.last_error_at else None,
            "recent": messages}

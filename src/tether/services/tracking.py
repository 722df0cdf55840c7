"""Tracking's I/O: hits stored by group commit before the public endpoints answer, the links
and files they lead to, unsubscribes, and the processor that judges settled hits and turns
each into its email.opened|clicked|downloaded event.

The hot path writes one INSERT per group of requests (core, no ORM objects) and reads
nothing for an open; the judging happens later, in the worker, in batches.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from tether.config import Settings
from tether.domain import tracking
from tether.domain.exclusions import normalize_email
from tether.jobs.rounds import in_thread, run_rounds
from tether.services import events, sequencing
from tether.store.db import insert_ignoring
from tether.store.group_commit import GroupCommit
from tether.store.models import (
    Membership,
    MessageDelivery,
    OutboundMessage,
    TrackedFile,
    TrackedLink,
    TrackingHit,
    Unsubscribe,
    User,
    iso,
    utcnow,
)

log = logging.getLogger("tether.tracking")
HITS = cast(Table, TrackingHit.__table__)  # core inserts: no ORM objects on the hot path
GROUP_ROWS = 2000  # hits one transaction takes at most
BATCH = 500  # hits the processor judges in one transaction
MAX_ADDRESSES = 1000  # of each of an event's To, Cc and Bcc (domain/events.py)
EVENT_TYPES = {tracking.Kind.OPEN: "email.opened", tracking.Kind.CLICK: "email.clicked",
               tracking.Kind.DOWNLOAD: "email.downloaded"}


def hit_row(kind: tracking.Kind, delivery_id: int, link_n: int | None, method: str,
            user_agent: str, client_ip: str) -> dict[str, Any]:
    """A tracking_hit row as a request makes it (NUL stripped: PostgreSQL's text has none)."""
    return {"delivery_id": delivery_id, "kind": tracking.stored_kind(kind), "link_n": link_n,
            "at": utcnow(), "method": method[:8],
            "user_agent": user_agent.replace("\x00", "")[:500],
            "client_ip": client_ip[:64], "judged": False}


# -- what a link leads to ---------------------------------------------------------------------
LinkKey = tuple[int, int]  # (delivery id, link position)


@dataclass(frozen=True)
class Target:
    """A tracked link's destination: a URL, or a file (its bytes read only to serve it)."""

    url: str | None
    file_id: str | None = None
    file_name: str = ""
    content_type: str = "application/octet-stream"
    size: int = 0

    def serves(self, kind: str) -> bool:
        """Whether a hit of this stored kind can follow it: a click a web URL, a download a
        file."""
        if kind == "click":
            return self.url is not None and tracking.trackable(self.url)
        return kind == "download" and self.file_id is not None


def targets(db: Session, keys: Collection[LinkKey]) -> dict[LinkKey, Target]:
    """Where these links lead (a link whose file was deleted leads nowhere)."""
    wanted = set(keys)
    rows = db.execute(select(TrackedLink.delivery_id, TrackedLink.n, TrackedLink.url,
                             TrackedLink.file_id, TrackedFile.name, TrackedFile.content_type,
                             TrackedFile.size)
                      .outerjoin(TrackedFile, TrackedFile.id == TrackedLink.file_id)
                      .where(TrackedLink.delivery_id.in_(sorted({d for d, _ in wanted}))))
    found: dict[LinkKey, Target] = {}
    for delivery_id, n, url, file_id, name, content_type, size in rows:
        if (delivery_id, n) not in wanted or (file_id is not None and name is None):
            continue
        found[(delivery_id, n)] = Target(url, file_id, name or "",
                                         content_type or "application/octet-stream", size or 0)
    return found


def file_data(db: Session, file_id: str) -> bytes | None:
    return db.scalar(select(TrackedFile.data).where(TrackedFile.id == file_id))


class Targets:
    """A small LRU of link destinations: a link's row never changes once sent, and a popular
    message's clicks then cost no database read.  Links not found are not cached."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._items: OrderedDict[tuple[int, int], Target] = OrderedDict()

    def get(self, key: tuple[int, int]) -> Target | None:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: tuple[int, int], value: Target) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


# -- the hot path's group commit -------------------------------------------------------------
@dataclass
class _Job:
    row: dict[str, Any]
    link: LinkKey | None  # a click's or download's link, looked up in the same round
    future: asyncio.Future[Target | None]


class HitSink(GroupCommit[_Job]):
    """Group commit for hits: requests hand their row to one thread, which looks up the links
    of every request waiting (one query, and a cache), inserts their rows in one transaction,
    commits, and only then answers them.  Each hit is durable before its answer, and a burst
    costs one transaction, not one each."""

    name = "tether-hit-sink"
    limit = GROUP_ROWS

    def __init__(self, sessions: sessionmaker[Session],
                 on_stored: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.sessions = sessions
        self.on_stored = on_stored  # e.g. nudges the processor
        self.targets = Targets()  # touched by the sink's thread only

    async def submit(self, row: dict[str, Any], link: LinkKey | None = None
                     ) -> Target | None:
        """Stores the hit and returns once it is committed; with ``link``, answers where the
        link leads, or None (then nothing is stored: the delivery has no such link, or not
        one this kind of hit can follow).  Raises if the database failed."""
        target: Target | None = await self._submit(lambda future: _Job(row, link, future))
        return target

    def store(self, jobs: list[_Job]) -> None:
        answers: dict[int, Target | None] = {}
        try:
            with self.sessions() as db:
                found = self._look_up(db, [job.link for job in jobs if job.link is not None])
                for i, job in enumerate(jobs):
                    if job.link is not None:
                        target = found.get(job.link)
                        answers[i] = target if target and target.serves(job.row["kind"]) \
                            else None
                rows = [job.row for i, job in enumerate(jobs)
                        if job.link is None or answers[i] is not None]
                if rows:
                    db.execute(HITS.insert(), rows)
                    db.commit()
        except Exception as exc:
            log.exception("storing %d tracking hits failed", len(jobs))
            self.answer([(job, exc) for job in jobs])
            return
        self.answer([(job, answers.get(i)) for i, job in enumerate(jobs)])
        if self.on_stored is not None:
            self.on_stored()

    def _look_up(self, db: Session, keys: list[LinkKey]) -> dict[LinkKey, Target]:
        found: dict[LinkKey, Target] = {}
        missing: set[LinkKey] = set()
        for key in keys:
            cached = self.targets.get(key)
            if cached is not None:
                found[key] = cached
            else:
                missing.add(key)
        if missing:
            for key, value in targets(db, missing).items():
                self.targets.put(key, value)
                found[key] = value
        return found


# -- unsubscribes -----------------------------------------------------------------------------
def recipient_of(db: Session, delivery_id: int) -> str | None:
    return db.scalar(select(MessageDelivery.recipient).where(MessageDelivery.id == delivery_id))


def unsubscribe(db: Session, delivery_id: int, how: str) -> str | None:
    """The delivery's recipient unsubscribed from its workspace (once: asking again keeps the
    first); answers the address, or None when the delivery no longer exists."""
    row = db.execute(select(MessageDelivery.workspace_id, MessageDelivery.recipient,
                            MessageDelivery.message_pk)
                     .where(MessageDelivery.id == delivery_id)).first()
    if row is None:
        return None
    workspace_id, recipient, message_pk = row
    db.execute(insert_ignoring(db, Unsubscribe, Unsubscribe.workspace_id, Unsubscribe.email_lower)
               .values(workspace_id=workspace_id, email_lower=normalize_email(recipient),
                       message_pk=message_pk, how=how, at=utcnow()))
    sequencing.stop_addresses(db, workspace_id, [recipient], "unsubscribed", utcnow())
    return str(recipient)


# -- counts for GET /api/v1/messages/{id} -----------------------------------------------------
def recipient_counts(db: Session, workspace_id: str, message_pk: str
                     ) -> dict[str, dict[str, int]]:
    """recipient -> opens, clicks and downloads by people, and hits judged a machine's
    (hits not judged yet are not counted)."""
    counts = {r: {"opens": 0, "clicks": 0, "downloads": 0, "machine_hits": 0}
              for r in db.scalars(select(MessageDelivery.recipient).where(
                  MessageDelivery.workspace_id == workspace_id,
                  MessageDelivery.message_pk == message_pk))}
    rows = db.execute(
        select(MessageDelivery.recipient, TrackingHit.kind, TrackingHit.verdict, func.count())
        .join(TrackingHit, TrackingHit.delivery_id == MessageDelivery.id)
        .where(MessageDelivery.workspace_id == workspace_id,
               MessageDelivery.message_pk == message_pk, TrackingHit.judged.is_(True))
        .group_by(MessageDelivery.recipient, TrackingHit.kind, TrackingHit.verdict))
    names = {"open": "opens", "click": "clicks", "download": "downloads"}
    for recipient, kind, verdict, n in rows:
        into = counts.setdefault(recipient, {"opens": 0, "clicks": 0, "downloads": 0,
                                             "machine_hits": 0})
        if verdict == "machine":
            into["machine_hits"] += n
        elif verdict == "person" and kind in names:
            into[names[kind]] += n
    return counts


# -- the processor ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Sent:
    """What an event needs of a delivery and its message."""

    workspace_id: str
    membership_id: str
    user: str
    recipient: str
    accepted_at: dt.datetime | None
    subject: str
    message: dict[str, Any]
    sequence: dict[str, Any] | None = None  # {name, stage} of a sequence's email


class TrackingProcessor:
    """Judges hits once they have settled (hits arriving together are judged together) and
    stores one event per hit; the activity pipeline takes the events from there."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, *,
                 poll_seconds: float = 0.5,
                 on_events: Callable[[], None] | None = None) -> None:
        self.sessions = sessions
        self.settings = settings
        self.poll_seconds = poll_seconds
        self.on_events = on_events  # e.g. nudges the activity pipeline
        self.wakeup = asyncio.Event()

    def step(self, db_now: dt.datetime | None = None) -> int:
        """Judges up to BATCH settled hits in one transaction; answers how many."""
        now = db_now or utcnow()
        cutoff = now - dt.timedelta(seconds=self.settings.tracking_settle_seconds)
        with self.sessions() as db:
            query = (select(TrackingHit).where(TrackingHit.judged.is_(False),
                                               TrackingHit.at <= cutoff)
                     .order_by(TrackingHit.id).limit(BATCH))
            if db.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)  # two workers, two batches
            hits = list(db.scalars(query))
            if not hits:
                return 0
            stored = self._judge(db, hits, now)
            db.commit()
        if stored and self.on_events is not None:
            self.on_events()
        return len(hits)

    def _judge(self, db: Session, hits: list[TrackingHit], now: dt.datetime) -> int:
        delivery_ids = sorted({h.delivery_id for h in hits})
        sent = _sent(db, delivery_ids)
        links, files = _links(db, delivery_ids)
        near = _neighbours(db, hits)
        rows: list[dict[str, Any]] = []
        marks: list[dict[str, Any]] = []
        base = time.time_ns() // 1000 * 1000
        for hit in hits:
            verdict, evidence, row = self._one(hit, sent.get(hit.delivery_id), links, files,
                                               near, now)
            if row is not None:
                row["seq"] = base + len(rows)
                rows.append(row)
            marks.append({"hid": hit.id, "v": verdict, "e": evidence,
                          "eid": row["id"] if row is not None else None})
        events.store(db, rows)
        # Core: one executemany; "not judged yet" keeps a second processor's verdict out.
        db.execute(update(HITS).where(HITS.c.id == bindparam("hid"), HITS.c.judged.is_(False))
                   .values(judged=True, verdict=bindparam("v"), evidence=bindparam("e"),
                           event_id=bindparam("eid")), marks)
        return len(rows)

    def _one(self, hit: TrackingHit, sent: _Sent | None,
             links: dict[int, dict[int, str | None]], files: dict[tuple[int, int], str],
             near: dict[int, list[tuple[int, tracking.Hit]]], now: dt.datetime
             ) -> tuple[str | None, list[str], dict[str, Any] | None]:
        """(verdict, evidence, the event row or None) for one hit."""
        if sent is None:
            return None, ["its delivery or message no longer exists: no event"], None
        kind = tracking.kind_of(hit.kind)
        seen = _as_domain(hit, sent.accepted_at)
        verdict, evidence = tracking.judge(
            seen, neighbours=[n for hid, n in near.get(hit.delivery_id, []) if hid != hit.id],
            link_count=len(links.get(hit.delivery_id, {})),
            scanner_seconds=self.settings.scanner_click_seconds)
        payload: dict[str, Any] = {
            "id": f"hit-{hit.id}", "type": EVENT_TYPES[kind], "occurred_at": iso(hit.at),
            "user": sent.user, "message": {**sent.message, "subject": sent.subject},
            "recipient": sent.recipient, "tracking": {"verdict": verdict,
                                                      "evidence": evidence[:20]}}
        if sent.sequence is not None:
            payload["sequence"] = sent.sequence
        n = hit.link_n if hit.link_n is not None else -1
        if kind is tracking.Kind.CLICK:
            payload["url"] = links.get(hit.delivery_id, {}).get(n)
        elif kind is tracking.Kind.DOWNLOAD:
            payload["file_name"] = files.get((hit.delivery_id, n))
        try:
            row = events.internal_row(sent.workspace_id, sent.membership_id, payload, now)
        except events.NotAnEvent as exc:  # not expected: what Tether stored makes a valid event
            return verdict, [*evidence, f"no event: {exc}"][:20], None
        return verdict, evidence, row

    async def run_forever(self) -> None:
        await run_rounds(in_thread(self.step), self.wakeup, self.poll_seconds, log,
                         again=lambda judged: judged >= BATCH)


def _as_domain(hit: TrackingHit, accepted_at: dt.datetime | None) -> tracking.Hit:
    since = (hit.at - accepted_at).total_seconds() if accepted_at is not None else None
    return tracking.Hit(tracking.kind_of(hit.kind), hit.method, hit.user_agent or "",
                        hit.client_ip or "", hit.at, since, hit.link_n)


def _sent(db: Session, delivery_ids: Sequence[int]) -> dict[int, _Sent]:
    """The deliveries, and their messages read once each (a message to many recipients
    carries them all: read per delivery, they would be decoded again for each)."""
    deliveries = db.execute(
        select(MessageDelivery.id, MessageDelivery.workspace_id, MessageDelivery.message_pk,
               MessageDelivery.recipient, MessageDelivery.accepted_at, MessageDelivery.subject)
        .where(MessageDelivery.id.in_(delivery_ids))).all()
    messages = {r.id: r for r in db.execute(
        select(OutboundMessage.id, OutboundMessage.membership_id, OutboundMessage.message_id,
               OutboundMessage.thread_id, OutboundMessage.to, OutboundMessage.cc,
               OutboundMessage.bcc, OutboundMessage.in_reply_to, User.email,
               OutboundMessage.sequence_name, OutboundMessage.sequence_stage)
        .join(Membership, Membership.id == OutboundMessage.membership_id)
        .join(User, User.id == Membership.user_id)
        .where(OutboundMessage.id.in_(sorted({d.message_pk for d in deliveries}))))}
    found: dict[int, _Sent] = {}
    for d in deliveries:
        m = messages.get(d.message_pk)
        if m is None:
            continue
        found[d.id] = _Sent(d.workspace_id, m.membership_id, m.email, d.recipient,
                            d.accepted_at, d.subject, {
                                "id": m.message_id, "thread_id": m.thread_id,
                                "to": _bounded(m.to, d.recipient),
                                "cc": _bounded(m.cc, d.recipient),
                                "bcc": _bounded(m.bcc, d.recipient),
                                "is_reply": bool(m.in_reply_to),
                                "sent_via": "tether"},
                            events.sequence_of(m.sequence_name, m.sequence_stage))
    return found


def _bounded(addresses: list[Any] | None, recipient: str) -> list[str]:
    """At most MAX_ADDRESSES of a message's addresses (an event's limit), this recipient's
    kept: where it stood (To, Cc or Bcc) is part of what the planner reads."""
    found = [str(a) for a in addresses or []]
    if len(found) <= MAX_ADDRESSES:
        return found
    kept = found[:MAX_ADDRESSES - 1]
    if recipient in found and recipient not in kept:
        kept.append(recipient)
    return kept


def _links(db: Session, delivery_ids: Sequence[int]
           ) -> tuple[dict[int, dict[int, str | None]], dict[tuple[int, int], str]]:
    """Each delivery's links (position -> URL), and the file names of its file links."""
    links: dict[int, dict[int, str | None]] = {}
    files: dict[tuple[int, int], str] = {}
    rows = db.execute(select(TrackedLink.delivery_id, TrackedLink.n, TrackedLink.url,
                             TrackedFile.name)
                      .outerjoin(TrackedFile, TrackedFile.id == TrackedLink.file_id)
                      .where(TrackedLink.delivery_id.in_(delivery_ids)))
    for delivery_id, n, url, name in rows:
        links.setdefault(delivery_id, {})[n] = url
        if name is not None:
            files[(delivery_id, n)] = name
    return links, files


def _neighbours(db: Session, hits: Sequence[TrackingHit]
                ) -> dict[int, list[tuple[int, tracking.Hit]]]:
    """(hit id, hit) for the clicks and downloads of these hits' deliveries from
    BURST_SECONDS before the earliest to as long after the latest (judge() keeps those near
    each hit)."""
    window = dt.timedelta(seconds=tracking.BURST_SECONDS)
    followed = [h for h in hits if h.kind != "open"]
    if not followed:
        return {}
    start = min(h.at for h in followed) - window
    end = max(h.at for h in followed) + window
    rows = db.scalars(select(TrackingHit).where(
        and_(TrackingHit.delivery_id.in_(sorted({h.delivery_id for h in followed})),
             TrackingHit.kind.in_(["click", "download"]),
             TrackingHit.at >= start, TrackingHit.at <= end)))
    near: dict[int, list[tuple[int, tracking.Hit]]] = {}
    for row in rows:
        near.setdefault(row.delivery_id, []).append((row.id, _as_domain(row, None)))
    return near

"""The sequence engine: each due recipient's next stage run once, on time, and never after
they left.

- Durable: what is due is ``sequence_recipient.next_at`` in the database; a worker that dies
  leaves nothing half-done (a stage runs in one transaction) and the next round takes it up.
- Once: the stage's ``sequence_step`` row (unique per recipient and stage) is written in the
  transaction that queues its email (through the exactly-once sender) or creates its task.
- Never after an exit: a reply, a bounce, an unsubscribe or a meeting stops the recipient in
  the transaction that records it and cancels their queued emails; the sender takes the
  recipient's row before each copy goes, so a stop committed before a send starts stops it.
- An out-of-office answer with a return date within 30 days moves the next stage after it.
- Each mailbox's daily cap holds: a round's overflow waits for the next day, in the stated
  order (rescheduled by hand first, then later stages, then earlier additions).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from tether.config import Settings
from tether.domain import schedule
from tether.domain import sequences as domain
from tether.jobs.rounds import from_any_thread, in_thread, run_rounds
from tether.security import Vault
from tether.services import messages, tasks
from tether.services.errors import NotFound, ServiceError
from tether.services.records import Deps
from tether.services.workspaces import Actor, actor_for_membership
from tether.store.models import (
    Mailbox,
    MessageDelivery,
    OutboundMessage,
    Unsubscribe,
    as_utc,
    utcnow,
)
from tether.store.sequence_models import (
    SequenceRecipient,
    SequenceRow,
    SequenceStep,
    TetherTask,
)

log = logging.getLogger("tether.sequencing")
BATCH = 200
AWAY_DAYS = 30  # an out-of-office return date further off is not waited for
TZ_LABELS = ("Time Zone", "Timezone", "time_zone", "timezone")
LIVE = ("pending", "active", "paused")  # states with stages still to run
# A finished recipient may still have their last email waiting to go: a reply stops it too.
LEAVABLE = (*LIVE, "finished")
LEFT = "not sent: the recipient left the sequence"


# -- when --------------------------------------------------------------------------------------
def window_of(seq: SequenceRow) -> schedule.SendWindow | None:
    return schedule.SendWindow.parse(seq.send_window) if seq.send_window else None


def zone_of(seq: SequenceRow, r: SequenceRecipient) -> Any:
    """The recipient's zone (a 'Time Zone' variable) when the window says so, else the
    window's; UTC when neither names a real zone."""
    window = seq.send_window or {}
    name = window.get("timezone") or "UTC"
    if name == "recipient":
        given = next((str(r.variables[k]) for k in TZ_LABELS if r.variables.get(k)), None)
        return schedule.zone(given, "UTC")
    return schedule.zone(str(name), "UTC")


def due(seq: SequenceRow, r: SequenceRecipient, stage: domain.Stage, after: dt.datetime
        ) -> dt.datetime:
    return schedule.due_after(after, stage.delay, window_of(seq), zone_of(seq, r))


def start(seq: SequenceRow, r: SequenceRecipient, now: dt.datetime) -> None:
    """A recipient enters the sequence: the first stage after its delay."""
    stages = domain.stages_of(seq.stages)
    r.state, r.stage, r.last_at = "active", 1, now
    if not (r.by_hand and r.next_at is not None):  # a time set by hand is kept
        r.next_at = due(seq, r, stages[0], now)
    r.updated_at = now


# -- leaving -----------------------------------------------------------------------------------
def stop(db: Session, recipient_ids: Sequence[str], reason: str, now: dt.datetime) -> int:
    """The recipients leave (those still in), and their emails not yet sending are
    cancelled, in the caller's transaction."""
    if not recipient_ids:
        return 0
    ids = list(recipient_ids)
    done = db.execute(update(SequenceRecipient).where(
        SequenceRecipient.id.in_(ids), SequenceRecipient.state.in_(LEAVABLE)).values(
        state="stopped", stopped_reason=reason[:500], stopped_at=now, next_at=None,
        updated_at=now))
    db.execute(update(OutboundMessage).where(
        OutboundMessage.sequence_recipient_id.in_(ids),
        OutboundMessage.status.in_(("queued", "scheduled"))).values(
        status="cancelled", waiting_reason=None, error=f"not sent: {reason[:300]}"))
    return int(done.rowcount or 0)  # type: ignore[attr-defined]


def stop_addresses(db: Session, workspace_id: str, addresses: Iterable[str], reason: str,
                   now: dt.datetime) -> int:
    """Every sequence of the workspace stops for these people (an unsubscribe, a meeting)."""
    wanted = sorted({a.strip().lower() for a in addresses if a})
    if not wanted:
        return 0
    ids = list(db.scalars(select(SequenceRecipient.id).where(
        SequenceRecipient.workspace_id == workspace_id, SequenceRecipient.email.in_(wanted),
        SequenceRecipient.state.in_(LEAVABLE))))
    return stop(db, ids, reason, now)


def on_deliveries(db: Session, marks: Sequence[tuple[int, dict[str, Any]]],
                  colleagues: set[int], now: dt.datetime) -> None:
    """What the watcher marked on deliveries (inbound.store, same transaction): a reply or
    a bounce stops the sequence's recipient; a return date postpones their next stage."""
    ids = sorted({d for d, _ in marks})
    if not ids:
        return
    owners = dict(db.execute(select(MessageDelivery.id, OutboundMessage.sequence_recipient_id)
                             .join(OutboundMessage,
                                   OutboundMessage.id == MessageDelivery.message_pk)
                             .where(MessageDelivery.id.in_(ids),
                                    OutboundMessage.sequence_recipient_id.is_not(None))).all())
    for delivery_id, values in marks:
        rid = owners.get(delivery_id)
        if rid is None:
            continue
        r = db.get(SequenceRecipient, rid)
        seq = db.get(SequenceRow, r.sequence_id) if r is not None else None
        if r is None or seq is None or r.state not in LEAVABLE:
            continue
        if "replied_at" in values:
            if delivery_id in colleagues and not seq.exit_on_colleague_reply:
                continue
            who = "a colleague replied" if delivery_id in colleagues else "replied"
            stop(db, [rid], who, now)
        elif "bounced_at" in values:
            stop(db, [rid], "bounced", now)
        elif values.get("away_until") is not None and seq.postpone_out_of_office:
            _postpone(seq, r, values["away_until"], now)


def _postpone(seq: SequenceRow, r: SequenceRecipient, back: dt.date, now: dt.datetime) -> None:
    if back > now.date() + dt.timedelta(days=AWAY_DAYS) or r.next_at is None:
        return
    tz = zone_of(seq, r)
    opens = schedule.next_send(dt.datetime.combine(back, dt.time(), tz), window_of(seq), tz)
    if as_utc(r.next_at) < opens:
        r.next_at, r.updated_at = opens, now
        r.waiting_reason = f"out of office until {back.isoformat()}"


def still_on(db: Session, recipient_id: str, now: dt.datetime) -> str | None:
    """Before a sequence email's copy goes (the sender, in the transaction that marks it
    sending): the recipient's row taken, so a stop is either committed before (and answered
    here, as the reason) or waits for this send."""
    held = db.execute(update(SequenceRecipient).where(
        SequenceRecipient.id == recipient_id, SequenceRecipient.state != "stopped")
        .values(updated_at=now))
    if held.rowcount == 1:  # type: ignore[attr-defined]
        return None
    reason = db.scalar(select(SequenceRecipient.stopped_reason).where(
        SequenceRecipient.id == recipient_id))
    return f"{LEFT} ({reason or 'removed'})"


# -- tasks -------------------------------------------------------------------------------------
def task_changed(db: Session, task: TetherTask, now: dt.datetime) -> None:
    """A task a recipient waits on was completed, deferred or skipped."""
    r = db.scalar(select(SequenceRecipient).where(
        SequenceRecipient.id == task.sequence_recipient_id,
        SequenceRecipient.task_id == task.id))
    if r is None or r.state != "active":
        return
    seq = db.get(SequenceRow, r.sequence_id)
    if seq is None:
        return
    _after_task(seq, r, task, now)


def _after_task(seq: SequenceRow, r: SequenceRecipient, task: TetherTask, now: dt.datetime
                ) -> None:
    stages = domain.stages_of(seq.stages)
    stage = stages[task.stage - 1] if task.stage and task.stage <= len(stages) else None
    if stage is None:
        return
    today = now.astimezone(zone_of(seq, r)).date()
    then = domain.after_task(stage.next_when, task.status, task.due, today)
    if then.finish or (then.go and r.stage > len(stages)):
        r.state, r.next_at, r.task_id = "finished", None, None
    elif then.go:
        r.task_id = None
        r.next_at = now if then.at_once else due(seq, r, stages[r.stage - 1], now)
        r.last_at = now
    r.updated_at = now


# -- running a stage ---------------------------------------------------------------------------
def _actor(db: Session, seq: SequenceRow) -> Actor | None:
    try:
        return actor_for_membership(db, seq.membership_id)
    except NotFound:
        return None


def _exit_reason(db: Session, seq: SequenceRow, r: SequenceRecipient) -> str | None:
    """An exit the hooks would have recorded, looked for again (a stage must never go
    after one): a reply or bounce on their sequence emails, an unsubscribe."""
    hit = db.execute(select(MessageDelivery.replied_at, MessageDelivery.bounced_at)
                     .join(OutboundMessage, OutboundMessage.id == MessageDelivery.message_pk)
                     .where(OutboundMessage.sequence_recipient_id == r.id,
                            or_(MessageDelivery.replied_at.is_not(None),
                                MessageDelivery.bounced_at.is_not(None)))).first()
    if hit is not None:
        return "replied" if hit.replied_at is not None else "bounced"
    if db.scalar(select(Unsubscribe.email_lower).where(
            Unsubscribe.workspace_id == r.workspace_id, Unsubscribe.email_lower == r.email)):
        return "unsubscribed"
    return None


def _room(db: Session, mailbox: Mailbox, now: dt.datetime) -> int:
    """How many more copies the mailbox may send in the rolling day: its cap less those
    accepted in the last 24 hours and those queued."""
    since = now - dt.timedelta(days=1)
    used = db.scalar(select(func.count()).select_from(MessageDelivery).where(
        MessageDelivery.mailbox_id == mailbox.id, or_(
            and_(MessageDelivery.accepted_at.is_not(None), MessageDelivery.accepted_at >= since),
            MessageDelivery.state.in_(("queued", "sending", "unknown"))))) or 0
    return int(mailbox.daily_cap) - int(used)


def run_one(db: Session, deps: Deps, rid: str, now: dt.datetime,
            room: dict[str, int]) -> str:
    """The recipient's due stage, in the caller's transaction; answers what happened."""
    taken = db.execute(update(SequenceRecipient).where(
        SequenceRecipient.id == rid, SequenceRecipient.state == "active",
        SequenceRecipient.next_at <= now).values(updated_at=now))
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return "taken"
    r = db.get(SequenceRecipient, rid)
    seq = db.get(SequenceRow, r.sequence_id) if r is not None else None
    if r is None or seq is None or seq.status != "active":
        return "not active"
    if r.task_id is not None:  # waiting on a task: its overdue check
        task = db.get(TetherTask, r.task_id)
        r.next_at = None
        if task is not None:
            _after_task(seq, r, task, now)
        if r.next_at is None or as_utc(r.next_at) > now:
            return "waiting"
    reason = _exit_reason(db, seq, r)
    if reason is not None:
        stop(db, [r.id], reason, now)
        return "stopped"
    stages = domain.stages_of(seq.stages)
    if r.stage > len(stages):
        r.state, r.next_at = "finished", None
        return "finished"
    stage = stages[r.stage - 1]
    window, tz = window_of(seq), zone_of(seq, r)
    opens = schedule.next_send(now, window, tz)
    if opens > now:  # outside the window (it changed, or the clock passed it)
        r.next_at = opens
        return "window"
    actor = _actor(db, seq)
    if actor is None:
        stop(db, [r.id], "the sequence's owner left the workspace", now)
        return "stopped"
    if stage.kind == "email":
        return _email(db, deps, actor, seq, r, stage, stages, now, room)
    return _task(db, actor, seq, r, stage, stages, now)


def _advance(seq: SequenceRow, r: SequenceRecipient, stages: list[domain.Stage],
             now: dt.datetime) -> None:
    r.stage += 1
    r.last_at, r.by_hand, r.waiting_reason = now, False, None
    if r.stage > len(stages):
        r.state, r.next_at = "finished", None
    else:
        r.next_at = due(seq, r, stages[r.stage - 1], now)


def _email(db: Session, deps: Deps, actor: Actor, seq: SequenceRow, r: SequenceRecipient,
           stage: domain.Stage, stages: list[domain.Stage], now: dt.datetime,
           room: dict[str, int]) -> str:
    mailbox = db.scalar(select(Mailbox).where(Mailbox.membership_id == seq.membership_id))
    if mailbox is None:
        r.waiting_reason = "the sequence's owner has no mailbox connected"
        r.next_at = now + dt.timedelta(minutes=15)
        return "no mailbox"
    if mailbox.id not in room:
        room[mailbox.id] = _room(db, mailbox, now)
    if room[mailbox.id] <= 0:
        tz = zone_of(seq, r)
        tomorrow = dt.datetime.combine(now.astimezone(tz).date() + dt.timedelta(days=1),
                                       dt.time(), tz)
        r.next_at = schedule.next_send(tomorrow, window_of(seq), tz)
        r.waiting_reason = (f"the mailbox's daily cap of {mailbox.daily_cap} is reached: "
                            "moved to the next day")
        return "capped"
    first = db.get(OutboundMessage, r.thread_message_pk) if r.thread_message_pk else None
    threaded = first is not None and stage.n > 1 and not stage.new_thread
    subject = stage.subject
    if threaded and first is not None and not subject:
        subject = domain.reply_subject(first.subject)
    compose = messages.Compose(
        to=[r.email], subject=subject, body_html=stage.body, template_id=stage.template_id,
        in_reply_to=first.id if threaded and first is not None else None,
        variables=r.variables, sequence=messages.SequenceRef(r.id, seq.name, stage.n))
    try:
        row = messages.record_now(db, deps, actor, compose)
    except ServiceError as exc:  # a missing variable, an unsubscribe: this recipient stops
        stop(db, [r.id], f"stage {stage.n} could not be sent: {exc.message}", now)
        return "stopped"
    db.add(SequenceStep(sequence_id=seq.id, recipient_id=r.id, n=stage.n, kind="email",
                        message_pk=row.id, due_at=r.next_at, created_at=now))
    if r.thread_message_pk is None or stage.new_thread:
        r.thread_message_pk = row.id
    room[mailbox.id] -= 1
    _advance(seq, r, stages, now)
    return "sent"


def _task(db: Session, actor: Actor, seq: SequenceRow, r: SequenceRecipient,
          stage: domain.Stage, stages: list[domain.Stage], now: dt.datetime) -> str:
    today = now.astimezone(zone_of(seq, r)).date()
    draft = dict(stage.draft) if stage.draft else None
    task = tasks.create(db, actor, tasks.TaskIn(
        stage.task_kind or "todo", stage.subject or f"{seq.name} (#{stage.n})", today,
        r.email, stage.notes, stage.linkedin, draft), recipient_id=r.id, stage=stage.n, now=now)
    db.add(SequenceStep(sequence_id=seq.id, recipient_id=r.id, n=stage.n, kind="task",
                        task_id=task.id, due_at=r.next_at, created_at=now))
    r.stage += 1
    r.last_at, r.by_hand, r.waiting_reason = now, False, None
    if stage.next_when == "regardless":
        if r.stage > len(stages):
            r.state, r.next_at = "finished", None
        else:
            r.next_at = due(seq, r, stages[r.stage - 1], now)
        return "task"
    r.task_id = task.id
    if stage.next_when == "overdue":  # looked at again when the due day is over
        tz = zone_of(seq, r)
        r.next_at = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tz
                                        ).astimezone(dt.UTC)
    else:
        r.next_at = None  # the task's completion or deferral moves it
    return "task"


def priority(r: SequenceRecipient) -> tuple[int, int, int]:
    """The stated order for a round (and a day's overflow): rescheduled by hand first, then
    later stages, then earlier additions."""
    return (0 if r.by_hand else 1, -r.stage, r.added_n)


class Sequencer:
    """The worker's loop: due recipients each run their stage in a transaction of its own."""

    def __init__(self, sessions: sessionmaker[Session], vault: Vault, settings: Settings, *,
                 poll_seconds: float = 0.5, on_sent: Any = None) -> None:
        self.deps = Deps(sessions, vault, settings)
        self.sessions = sessions
        self.poll_seconds = poll_seconds
        self.on_sent = on_sent  # wakes the sender (called on the worker's loop)
        self._wake: Callable[[], None] = lambda: None
        self.wakeup = asyncio.Event()

    def step(self, now: dt.datetime | None = None) -> int:
        now = now or utcnow()
        with self.sessions() as db:
            due_rows = list(db.scalars(select(SequenceRecipient).join(
                SequenceRow, SequenceRow.id == SequenceRecipient.sequence_id).where(
                SequenceRecipient.state == "active", SequenceRecipient.next_at <= now,
                SequenceRow.status == "active").order_by(SequenceRecipient.next_at)
                .limit(BATCH)))
            order = [r.id for r in sorted(due_rows, key=priority)]
        room: dict[str, int] = {}
        sent = 0
        for rid in order:
            with self.sessions() as db:
                try:
                    what = run_one(db, self.deps, rid, now, room)
                    db.commit()
                except Exception:  # one recipient's trouble must not stop the others
                    db.rollback()
                    log.exception("sequence recipient %s: its stage failed; tried again", rid)
                    self._later(rid, now)
                    continue
            sent += what == "sent"
        if sent:
            self._wake()
        return len(order)

    def _later(self, rid: str, now: dt.datetime) -> None:
        with self.sessions() as db:
            db.execute(update(SequenceRecipient).where(SequenceRecipient.id == rid).values(
                next_at=now + dt.timedelta(seconds=30),
                waiting_reason="retrying after an error"))
            db.commit()

    async def run_forever(self) -> None:
        if self.on_sent is not None:
            self._wake = from_any_thread(self.on_sent)  # rounds run in a thread
        await run_rounds(in_thread(self.step), self.wakeup, self.poll_seconds, log)

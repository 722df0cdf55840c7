"""Planning stage: new events become activity-log rows and planned writes, in one
transaction per workspace's batch (a crash mid-batch plans it again, to the same activity
keys)."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from tether.domain import planner
from tether.domain.events import TRACKING, Event, recipients
from tether.domain.matching import DEFAULT_TIE_BREAK, TieBreak
from tether.services import roles
from tether.services.errors import described
from tether.services.events import parse_event
from tether.services.workspaces import effective_for, exclusion_lists
from tether.store.models import (
    ActivityRow,
    ActivityWrite,
    ActivityWriteRef,
    EventRow,
    Membership,
    MirrorRecord,
    SalesforceConnection,
    User,
    Workspace,
    as_utc,
    new_id,
    utcnow,
)
from tether.sync import mirror_view

log = logging.getLogger("tether.planning")

QUEUED_REASON = "queued for Salesforce"
PLANNING_FAILED = "TETHER_PLANNING_FAILED"  # an activity's error code: see _quarantine
BATCH = 200
# A pending recipient whose email the mirror has is looked at again this often at most.
REPLAN_EVERY = dt.timedelta(seconds=2)


@dataclass(frozen=True)
class _Member:
    context: planner.UserContext
    role_id: str | None
    writer: str  # the membership whose connection writes its activity (itself, or the Sync User)


@dataclass
class _Workspace:
    row: Workspace
    addresses: frozenset[str]
    domains: frozenset[str]
    users: dict[str, _Member]
    sync_user_connected: bool = False

    @property
    def connection_window(self) -> dt.timedelta:
        return dt.timedelta(days=self.row.unconnected_pending_days)

    def window(self, cause: str | None) -> dt.timedelta:
        """How long an activity pending for this cause waits."""
        if cause == planner.UNCONNECTED:
            return self.connection_window
        return dt.timedelta(hours=self.row.pending_window_hours)


def _workspace(db: Session, workspace_id: str) -> _Workspace | None:
    row = db.get(Workspace, workspace_id)
    if row is None:
        return None
    ws = _Workspace(row, *exclusion_lists(db, workspace_id), {})
    if row.unconnected_activity == "sync_user" and row.sync_user_membership_id:
        ws.sync_user_connected = _connected(db, row.sync_user_membership_id) is not None
    return ws


def _connected(db: Session, membership_id: str) -> SalesforceConnection | None:
    conn = db.scalar(select(SalesforceConnection).where(
        SalesforceConnection.membership_id == membership_id))
    return conn if conn is not None and conn.status == "connected" else None


def tie_break_of(row: Workspace) -> tuple[TieBreak, ...]:
    if not row.tie_break:
        return DEFAULT_TIE_BREAK
    return tuple(TieBreak(v) for v in row.tie_break)


def _user(db: Session, ws: _Workspace, membership_id: str) -> _Member:
    cached = ws.users.get(membership_id)
    if cached is not None:
        return cached
    member = db.get(Membership, membership_id)
    user = db.get(User, member.user_id) if member is not None else None
    conn = _connected(db, membership_id)
    via_sync_user = conn is None and ws.sync_user_connected
    ctx = planner.UserContext(
        workspace_id=ws.row.id, email=user.email if user else "",
        display_name=(user.name or user.email) if user else "",
        effective=effective_for(db, ws.row.id, membership_id), connected=conn is not None,
        salesforce_user_id=conn.salesforce_user_id if conn is not None else None,
        excluded_addresses=ws.addresses, excluded_domains=ws.domains,
        tie_break=tie_break_of(ws.row), via_sync_user=via_sync_user)
    writer = str(ws.row.sync_user_membership_id) if via_sync_user else membership_id
    # A member without a role of their own is in the default role: their activity is too.
    role_id = roles.role_of(member.role_id if member else None, ws.row.default_role_id)
    ws.users[membership_id] = _Member(ctx, role_id, writer)
    return ws.users[membership_id]


def plan_new_events(db: Session, limit: int = BATCH) -> int:
    """Plan up to ``limit`` new events, oldest first; answers how many."""
    rows = db.scalars(select(EventRow).where(EventRow.state == "new")
                      .order_by(EventRow.seq).limit(limit)).all()
    by_ws: dict[str, list[EventRow]] = defaultdict(list)
    for row in rows:
        by_ws[row.workspace_id].append(row)
    for workspace_id, events in by_ws.items():
        _plan_isolated(db, workspace_id, [(r, None) for r in events])
    return len(rows)


def _plan_isolated(db: Session, workspace_id: str,
                   items: Sequence[tuple[EventRow, ActivityRow | None]]) -> None:
    """A batch planned and committed as one.  If anything in it fails, it is rolled back and
    each event is planned (and committed) alone, and one that still fails is quarantined: no
    event, and no workspace, holds back any other.  The database failing (locked, gone) is
    no event's fault: that is raised, and the whole round is tried again later.

    No savepoint: on SQLite it would make the reads part of the write transaction, whose
    snapshot is then stale by the time it writes if ingest committed meanwhile (refused at
    once, SQLITE_BUSY_SNAPSHOT), so planning would starve while events arrive."""
    try:
        _plan_batch(db, workspace_id, items)
        for row, only in items:
            if only is None:
                row.state, row.error = "planned", None
        db.commit()
        return
    except (OperationalError, InterfaceError):
        db.rollback()
        raise
    except Exception as exc:
        db.rollback()
        if len(items) == 1:
            log.warning("planning event %s failed; quarantined", items[0][0].id,
                        exc_info=True)
            _quarantine(db, workspace_id, *items[0], exc)
            db.commit()
            return
    for item in items:  # outside the handler: a later failure is not chained to this one
        _plan_isolated(db, workspace_id, [item])


def _quarantine(db: Session, workspace_id: str, event: EventRow, only: ActivityRow | None,
                exc: Exception) -> None:
    """The event (or, when one recipient was planned again, that activity) is errored with
    the exception's class and message: in the log, and retryable from it."""
    why = described(exc)
    now = utcnow()
    activity = only
    if activity is None:
        event.state, event.error = "errored", why
        activity = db.scalar(select(ActivityRow).where(
            ActivityRow.workspace_id == workspace_id, ActivityRow.event_id == event.id,
            ActivityRow.recipient == ""))
        if activity is None:
            activity = ActivityRow(
                id=new_id(), workspace_id=workspace_id, event_id=event.id,
                membership_id=event.membership_id,
                role_id=roles.role_id_of(db, workspace_id, event.membership_id), recipient="",
                type=event.type, occurred_at=event.occurred_at, created_at=now,
                salesforce_ids=[], attempts=0)
            db.add(activity)
    activity.status, activity.error_code, activity.error_message = "errored", PLANNING_FAILED, why
    activity.reason = f"Tether could not plan this event: {why}"
    activity.pending_until, activity.updated_at = None, now
    db.flush()


def replan_pending(db: Session, limit: int = 500) -> int:
    """Pending recipients whose Lead or Contact the mirror now has, and those whose wait is
    over: planned again.  Answers how many activities were looked at."""
    now = utcnow()
    found = select(MirrorRecord.sf_id).where(
        MirrorRecord.workspace_id == ActivityRow.workspace_id,
        MirrorRecord.email_lower == ActivityRow.recipient,
        MirrorRecord.is_deleted.is_(False)).exists()
    # A member waited for has connected, or the workspace now has a connected Sync User
    # write for members who are not.
    connected = select(SalesforceConnection.id).where(
        SalesforceConnection.membership_id == ActivityRow.membership_id,
        SalesforceConnection.status == "connected").exists()
    via_sync_user = select(Workspace.id).join(
        SalesforceConnection,
        SalesforceConnection.membership_id == Workspace.sync_user_membership_id).where(
        Workspace.id == ActivityRow.workspace_id,
        Workspace.unconnected_activity == "sync_user",
        SalesforceConnection.status == "connected").exists()
    unconnected = ActivityRow.pending_cause == planner.UNCONNECTED
    may_land = or_(
        and_(ActivityRow.pending_cause.is_distinct_from(planner.UNCONNECTED), found),
        and_(unconnected, or_(connected, via_sync_user)))
    due = db.scalars(select(ActivityRow).where(
        ActivityRow.status == "pending", ActivityRow.pending_until.is_not(None),
        or_(ActivityRow.pending_until <= now,
            and_(ActivityRow.updated_at <= now - REPLAN_EVERY, may_land)))
        .limit(limit)).all()
    by_ws: dict[str, list[tuple[EventRow, ActivityRow]]] = defaultdict(list)
    for activity in due:
        event = db.get(EventRow, (activity.workspace_id, activity.event_id))
        if event is not None:
            by_ws[activity.workspace_id].append((event, activity))
    for workspace_id, items in by_ws.items():
        _plan_isolated(db, workspace_id, items)
    return len(due)


def _plan_batch(db: Session, workspace_id: str,
                items: Sequence[tuple[EventRow, ActivityRow | None]]) -> None:
    """Everything is read first and planned in memory; the rows are then written in one
    flush, so that on SQLite the write lock is held for the writing only, not the reading
    (ingest waits for that lock)."""
    ws = _workspace(db, workspace_id)
    if ws is None:
        return
    parsed = [(row, parse_event(row.payload), only) for row, only in items]
    emails = {r for _, e, _ in parsed for r, _ in recipients(e)}
    view = mirror_view.build(db, workspace_id, [e for e in emails if e])
    logged = _already_logged(db, workspace_id, [e for _, e, _ in parsed])
    planned: list[tuple[EventRow, Event, ActivityRow | None, _Member,
                        list[planner.ActivityPlan]]] = []
    for row, event, only in parsed:
        member = _user(db, ws, row.membership_id)
        expired = only is not None and only.pending_until is not None and \
            as_utc(only.pending_until) <= utcnow()
        plans = planner.plan(planner.PlanInput(
            event, member.context, view, frozenset(logged), pending_expired=expired,
            pending_window=ws.window(planner.NO_RECORD_YET),
            waited_for=only.pending_cause if only is not None else None,
            connection_window=ws.connection_window))
        if only is not None:
            plans = [p for p in plans if (p.recipient or "") == only.recipient]
        for p in plans:
            if p.status == "queued" and event.type in TRACKING and event.message is not None:
                logged.add((event.type.value, event.message.id, p.recipient or ""))
        planned.append((row, event, only, member, plans))
    batch = _Batch.load(db, workspace_id, planned)
    touched: list[str] = []  # the writes planned or deleted: their activities' status
    with db.no_autoflush:
        for row, event, only, member, plans in planned:
            saved = [batch.save(row, event, member, p, ws.window(p.cause)) for p in plans]
            touched += [w.key for p in plans for w in p.writes]
            if only is None:
                deleted = batch.drop_stale_group_writes(plans)
                batch.link_deletions(plans, saved, deleted)
                touched += deleted
    db.flush()
    refresh_activities(db, workspace_id, touched)


def _already_logged(db: Session, workspace_id: str,
                    events: Iterable[Event]) -> set[tuple[str, str, str]]:
    messages = {e.message.id for e in events if e.type in TRACKING and e.message is not None}
    if not messages:
        return set()
    rows = db.execute(select(ActivityRow.type, ActivityRow.message_id, ActivityRow.recipient)
                      .where(ActivityRow.workspace_id == workspace_id,
                             ActivityRow.message_id.in_(messages),
                             ActivityRow.type.in_([t.value for t in TRACKING]),
                             ActivityRow.status.in_(("synced", "pending", "errored")))).all()
    return {(t, m or "", r) for t, m, r in rows}


@dataclass
class _Batch:
    """What a batch's plans touch, read in a few queries before anything is written, and
    kept up to date in memory as the batch adds rows (a later event of the same batch sees
    an earlier one's activity and writes)."""

    db: Session
    workspace_id: str
    activities: dict[tuple[str, str], ActivityRow]  # (event id, recipient)
    writes: dict[str, ActivityWrite]  # by key
    by_group: dict[str, list[ActivityWrite]]  # upserts by group
    refs: set[tuple[str, str]]  # (activity id, key)

    @classmethod
    def load(cls, db: Session, workspace_id: str,
             planned: Sequence[tuple[EventRow, Event, ActivityRow | None, _Member,
                                     list[planner.ActivityPlan]]]) -> _Batch:
        event_ids = sorted({row.id for row, *_ in planned})
        keys = sorted({w.key for *_, plans in planned for p in plans for w in p.writes})
        groups = sorted({p.group for *_, plans in planned for p in plans if p.group})
        activities: dict[tuple[str, str], ActivityRow] = {}
        for chunk in _chunks(event_ids):
            for a in db.scalars(select(ActivityRow).where(
                    ActivityRow.workspace_id == workspace_id, ActivityRow.event_id.in_(chunk))):
                activities[(a.event_id, a.recipient)] = a
        writes: dict[str, ActivityWrite] = {}
        for chunk in _chunks(keys):
            for w in db.scalars(select(ActivityWrite).where(
                    ActivityWrite.workspace_id == workspace_id, ActivityWrite.key.in_(chunk))):
                writes[w.key] = w
        for chunk in _chunks(groups):
            for w in db.scalars(select(ActivityWrite).where(
                    ActivityWrite.workspace_id == workspace_id,
                    ActivityWrite.group_key.in_(chunk))):
                writes.setdefault(w.key, w)
        by_group: dict[str, list[ActivityWrite]] = defaultdict(list)
        for w in writes.values():
            if w.group_key:
                by_group[w.group_key].append(w)
        refs: set[tuple[str, str]] = set()
        activity_ids = sorted(a.id for a in activities.values())
        for chunk in _chunks(activity_ids):
            refs.update((a, k) for a, k in db.execute(
                select(ActivityWriteRef.activity_id, ActivityWriteRef.key)
                .where(ActivityWriteRef.activity_id.in_(chunk))))
        return cls(db, workspace_id, activities, writes, by_group, refs)

    def save(self, row: EventRow, event: Event, member: _Member, p: planner.ActivityPlan,
             window: dt.timedelta) -> ActivityRow:
        recipient = p.recipient or ""
        activity = self.activities.get((row.id, recipient))
        now = utcnow()
        if activity is None:
            activity = ActivityRow(id=new_id(), workspace_id=row.workspace_id,
                                   event_id=row.id, membership_id=row.membership_id,
                                   recipient=recipient, type=event.type.value,
                                   occurred_at=event.occurred_at,
                                   message_id=event.message.id if event.message else None,
                                   created_at=now, salesforce_ids=[], attempts=0,
                                   status="pending", reason=QUEUED_REASON)
            self.db.add(activity)
            self.activities[(row.id, recipient)] = activity
        activity.role_id, activity.group_key = member.role_id, p.group
        activity.priority, activity.match, activity.updated_at = p.priority, p.match, now
        activity.error_code = activity.error_message = None
        if p.status == "pending":
            activity.status, activity.reason = "pending", p.reason
            if activity.pending_until is None or activity.pending_cause != p.cause:
                activity.pending_until = now + window  # a new wait
            activity.pending_cause = p.cause
            return activity
        activity.pending_until = activity.pending_cause = None
        if p.status == "errored":
            activity.status, activity.reason = "errored", p.reason
            activity.error_code, activity.error_message = planner.NOT_CONNECTED, p.reason
            return activity
        if p.status == "ignored":
            activity.status, activity.reason = "ignored", p.reason
            return activity
        for w in p.writes:
            self._merge_write(row, member.writer, recipient, p, w)
            self._link(activity, w.key)
        activity.status, activity.reason = "pending", QUEUED_REASON
        activity.match = {**(p.match or {}), "plan": p.reason}
        return activity

    def _link(self, activity: ActivityRow, key: str) -> None:
        if (activity.id, key) not in self.refs:
            self.db.add(ActivityWriteRef(activity_id=activity.id,
                                         workspace_id=self.workspace_id, key=key))
            self.refs.add((activity.id, key))

    def _merge_write(self, row: EventRow, writer: str, recipient: str, p: planner.ActivityPlan,
                     w: planner.PlannedWrite) -> None:
        write = self.writes.get(w.key)
        now = utcnow()
        if write is None:
            write = ActivityWrite(
                workspace_id=row.workspace_id, key=w.key, membership_id=writer,
                owner_email=w.owner_email, sobject=w.sobject, op="upsert", fields=w.fields,
                recipient=recipient, group_key=p.group, priority=p.priority, status="queued",
                version=1, sent_version=0, attempts=0, next_attempt_at=now, log=[], created_at=now,
                updated_at=now)
            self.db.add(write)
            self.writes[w.key] = write
            if p.group:
                self.by_group[p.group].append(write)
            return
        fields = w.fields
        if w.owner_email and write.owner_email == w.owner_email:
            fields = {**fields, "OwnerId": write.fields.get("OwnerId")}  # found when sent
        if write.op == "upsert" and write.fields == fields and write.status in (
                "queued", "sending", "done"):
            return  # planned again, unchanged (a replay, or a re-plan): nothing to send
        write.fields, write.op, write.version = fields, "upsert", write.version + 1
        write.priority, write.updated_at = min(write.priority, p.priority), now
        write.error_code = write.error_message = None
        write.error_fields = None
        if write.status != "sending":
            write.status, write.next_attempt_at, write.attempts = "queued", now, 0

    def drop_stale_group_writes(self, plans: Sequence[planner.ActivityPlan]) -> list[str]:
        """A meeting updated or cancelled, a task's related records changed: the group's
        writes this plan no longer has are deleted in Salesforce (recipients still pending
        keep theirs)."""
        groups = {p.group for p in plans if p.group}
        keep = {w.key for p in plans for w in p.writes}
        waiting = {p.recipient or "" for p in plans if p.status == "pending"}
        now = utcnow()
        deleted: list[str] = []
        for group in sorted(groups):
            for write in self.by_group.get(group, []):
                if write.op != "upsert" or write.key in keep or write.recipient in waiting:
                    continue
                write.op, write.version, write.updated_at = "delete", write.version + 1, now
                deleted.append(write.key)
                if write.status != "sending":
                    write.status, write.next_attempt_at, write.attempts = "queued", now, 0
        return deleted

    def link_deletions(self, plans: Sequence[planner.ActivityPlan],
                       saved: Sequence[ActivityRow], deleted: Sequence[str]) -> None:
        """A plan with nothing to write but deletions (a cancelled meeting) is synced once
        the deletions are done."""
        for p, activity in zip(plans, saved, strict=True):
            if p.status != "queued" or p.writes:
                continue
            for key in deleted:
                self._link(activity, key)
            if not deleted:
                activity.status, activity.reason = "synced", p.reason


def _chunks(values: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def refresh_activities(db: Session, workspace_id: str, keys: Iterable[str]) -> None:
    """Recompute the status of the activities that planned these writes: synced when all
    their writes are done, errored when one is errored, else pending (queued)."""
    keys = list(set(keys))
    if not keys:
        return
    ids = set(db.scalars(select(ActivityWriteRef.activity_id).where(
        ActivityWriteRef.workspace_id == workspace_id, ActivityWriteRef.key.in_(keys))))
    if not ids:
        return
    rows = db.execute(select(ActivityWriteRef.activity_id, ActivityWrite).join(
        ActivityWrite, and_(ActivityWrite.workspace_id == ActivityWriteRef.workspace_id,
                            ActivityWrite.key == ActivityWriteRef.key)).where(
        ActivityWriteRef.activity_id.in_(ids))).all()
    by_activity: dict[str, list[ActivityWrite]] = defaultdict(list)
    for activity_id, write in rows:
        by_activity[activity_id].append(write)
    now = utcnow()
    for activity in db.scalars(select(ActivityRow).where(ActivityRow.id.in_(ids))):
        writes = by_activity.get(activity.id, [])
        if activity.status == "ignored" or not writes:
            continue
        attempts = max((w.attempts for w in writes), default=0)
        errored = [w for w in writes if w.status == "errored"]
        values: dict[str, Any] = {"attempts": max(activity.attempts, attempts)}
        if errored:
            first = errored[0]
            by_tether = (first.error_code or "").startswith("TETHER_")
            values.update(status="errored", error_code=first.error_code,
                          error_message=first.error_message,
                          reason=str(first.error_message) if by_tether else
                          f"Salesforce refused the {first.sobject}: {first.error_code}: "
                          f"{first.error_message}")
        elif all(w.status == "done" for w in writes):
            ids_done = [w.sf_id for w in writes if w.sf_id and w.op == "upsert"]
            values.update(status="synced", salesforce_ids=ids_done, error_code=None,
                          error_message=None,
                          reason=str((activity.match or {}).get("plan") or activity.reason))
        else:
            values.update(status="pending", reason=QUEUED_REASON)
        changed = {k: v for k, v in values.items() if getattr(activity, k) != v}
        if changed:
            for k, v in changed.items():
                setattr(activity, k, v)
            activity.updated_at = now


def requeue_event(db: Session, workspace_id: str, event_id: str) -> None:
    """Plan an event again from scratch (its Who or What was gone in Salesforce)."""
    db.execute(update(EventRow).where(EventRow.workspace_id == workspace_id,
                                      EventRow.id == event_id).values(state="new", error=None))

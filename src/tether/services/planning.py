"""Planning stage: new events become activity-log rows and planned writes, in one
transaction per batch (a crash mid-batch plans it again, to the same activity keys)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from tether.domain import planner
from tether.domain.events import TRACKING, Event, recipients
from tether.domain.matching import DEFAULT_TIE_BREAK, TieBreak
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
    utcnow,
)
from tether.sync import mirror_view

QUEUED_REASON = "queued for Salesforce"
BATCH = 200
# A pending recipient whose email the mirror has is looked at again this often at most.
REPLAN_EVERY = dt.timedelta(seconds=2)


@dataclass
class _Workspace:
    row: Workspace
    addresses: frozenset[str]
    domains: frozenset[str]
    users: dict[str, tuple[planner.UserContext, str | None]]


def _workspace(db: Session, workspace_id: str) -> _Workspace | None:
    row = db.get(Workspace, workspace_id)
    if row is None:
        return None
    return _Workspace(row, *exclusion_lists(db, workspace_id), {})


def tie_break_of(row: Workspace) -> tuple[TieBreak, ...]:
    if not row.tie_break:
        return DEFAULT_TIE_BREAK
    return tuple(TieBreak(v) for v in row.tie_break)


def _user(db: Session, ws: _Workspace, membership_id: str
          ) -> tuple[planner.UserContext, str | None]:
    cached = ws.users.get(membership_id)
    if cached is not None:
        return cached
    member = db.get(Membership, membership_id)
    user = db.get(User, member.user_id) if member is not None else None
    conn = db.scalar(select(SalesforceConnection).where(
        SalesforceConnection.membership_id == membership_id))
    connected = conn is not None and conn.status == "connected"
    ctx = planner.UserContext(
        workspace_id=ws.row.id, email=user.email if user else "",
        display_name=(user.name or user.email) if user else "",
        effective=effective_for(db, ws.row.id, membership_id), connected=connected,
        salesforce_user_id=conn.salesforce_user_id if conn is not None else None,
        excluded_addresses=ws.addresses, excluded_domains=ws.domains,
        tie_break=tie_break_of(ws.row))
    ws.users[membership_id] = (ctx, member.role_id if member else None)
    return ws.users[membership_id]


def plan_new_events(db: Session, limit: int = BATCH) -> int:
    """Plan up to ``limit`` new events, oldest first; answers how many."""
    rows = db.scalars(select(EventRow).where(EventRow.state == "new")
                      .order_by(EventRow.seq).limit(limit)).all()
    by_ws: dict[str, list[EventRow]] = defaultdict(list)
    for row in rows:
        by_ws[row.workspace_id].append(row)
    for workspace_id, events in by_ws.items():
        _plan_batch(db, workspace_id, [(r, None) for r in events])
        for r in events:
            r.state = "planned"
    return len(rows)


def replan_pending(db: Session, limit: int = 500) -> int:
    """Pending recipients whose Lead or Contact the mirror now has, and those whose wait is
    over: planned again.  Answers how many activities were looked at."""
    now = utcnow()
    found = select(MirrorRecord.sf_id).where(
        MirrorRecord.workspace_id == ActivityRow.workspace_id,
        MirrorRecord.email_lower == ActivityRow.recipient,
        MirrorRecord.is_deleted.is_(False)).exists()
    due = db.scalars(select(ActivityRow).where(
        ActivityRow.status == "pending", ActivityRow.pending_until.is_not(None),
        (ActivityRow.pending_until <= now)
        | (found & (ActivityRow.updated_at <= now - REPLAN_EVERY))).limit(limit)).all()
    by_ws: dict[str, list[tuple[EventRow, ActivityRow]]] = defaultdict(list)
    for activity in due:
        event = db.get(EventRow, (activity.workspace_id, activity.event_id))
        if event is not None:
            by_ws[activity.workspace_id].append((event, activity))
    for workspace_id, items in by_ws.items():
        _plan_batch(db, workspace_id, items)
    return len(due)


def _plan_batch(db: Session, workspace_id: str,
                items: Sequence[tuple[EventRow, ActivityRow | None]]) -> None:
    ws = _workspace(db, workspace_id)
    if ws is None:
        return
    parsed = [(row, parse_event(row.payload), only) for row, only in items]
    emails = {r for _, e, _ in parsed for r, _ in recipients(e)}
    view = mirror_view.build(db, workspace_id, [e for e in emails if e])
    logged = _already_logged(db, workspace_id, [e for _, e, _ in parsed])
    window = dt.timedelta(hours=ws.row.pending_window_hours)
    touched: list[str] = []  # the writes planned or deleted: their activities' status
    for row, event, only in parsed:
        user, role_id = _user(db, ws, row.membership_id)
        expired = only is not None and only.pending_until is not None and \
            as_utc(only.pending_until) <= utcnow()
        plans = planner.plan(planner.PlanInput(event, user, view, frozenset(logged),
                                               pending_expired=expired, pending_window=window))
        if only is not None:
            plans = [p for p in plans if (p.recipient or "") == only.recipient]
        saved = []
        for p in plans:
            saved.append(_save(db, row, event, role_id, p, window))
            touched += [w.key for w in p.writes]
            if p.status == "queued" and event.type in TRACKING and event.message is not None:
                logged.add((event.type.value, event.message.id, p.recipient or ""))
        if only is None:
            deleted = _drop_stale_group_writes(db, workspace_id, plans)
            _link_deletions(db, workspace_id, plans, saved, deleted)
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


def _save(db: Session, row: EventRow, event: Event, role_id: str | None,
          p: planner.ActivityPlan, window: dt.timedelta) -> ActivityRow:
    recipient = p.recipient or ""
    activity = db.scalar(select(ActivityRow).where(
        ActivityRow.workspace_id == row.workspace_id, ActivityRow.event_id == row.id,
        ActivityRow.recipient == recipient))
    now = utcnow()
    if activity is None:
        activity = ActivityRow(workspace_id=row.workspace_id, event_id=row.id,
                               membership_id=row.membership_id, recipient=recipient,
                               type=event.type.value, occurred_at=event.occurred_at,
                               message_id=event.message.id if event.message else None,
                               created_at=now, salesforce_ids=[], attempts=0,
                               status="pending", reason=QUEUED_REASON)
        db.add(activity)
    activity.role_id, activity.group_key, activity.priority = role_id, p.group, p.priority
    activity.match, activity.updated_at = p.match, now
    activity.error_code = activity.error_message = None
    if p.status == "pending":
        activity.status, activity.reason = "pending", p.reason
        if activity.pending_until is None:
            activity.pending_until = now + window
        return activity
    activity.pending_until = None
    if p.status == "ignored":
        activity.status, activity.reason = "ignored", p.reason
        return activity
    db.flush()
    for w in p.writes:
        _merge_write(db, row, recipient, p, w)
        if db.get(ActivityWriteRef, (activity.id, w.key)) is None:
            db.add(ActivityWriteRef(activity_id=activity.id, workspace_id=row.workspace_id,
                                    key=w.key))
    activity.status, activity.reason = "pending", QUEUED_REASON
    activity.match = {**(p.match or {}), "plan": p.reason}
    return activity


def _link_deletions(db: Session, workspace_id: str, plans: Sequence[planner.ActivityPlan],
                    saved: Sequence[ActivityRow], deleted: Sequence[str]) -> None:
    """A plan with nothing to write but deletions (a cancelled meeting) is synced once the
    deletions are done."""
    for p, activity in zip(plans, saved, strict=True):
        if p.status != "queued" or p.writes:
            continue
        for key in deleted:
            if db.get(ActivityWriteRef, (activity.id, key)) is None:
                db.add(ActivityWriteRef(activity_id=activity.id, workspace_id=workspace_id,
                                        key=key))
        if not deleted:
            activity.status, activity.reason = "synced", p.reason


def _merge_write(db: Session, row: EventRow, recipient: str, p: planner.ActivityPlan,
                 w: planner.PlannedWrite) -> None:
    write = db.get(ActivityWrite, (row.workspace_id, w.key))
    now = utcnow()
    if write is None:
        db.add(ActivityWrite(workspace_id=row.workspace_id, key=w.key,
                             membership_id=row.membership_id, sobject=w.sobject, op="upsert",
                             fields=w.fields, recipient=recipient, group_key=p.group,
                             priority=p.priority, status="queued", version=1, sent_version=0,
                             attempts=0, next_attempt_at=now, log=[], created_at=now,
                             updated_at=now))
        return
    if write.op == "upsert" and write.fields == w.fields and write.status in (
            "queued", "sending", "done"):
        return  # planned again, unchanged (a replay, or a re-plan): nothing to send
    write.fields, write.op, write.version = w.fields, "upsert", write.version + 1
    write.priority, write.updated_at = min(write.priority, p.priority), now
    write.error_code = write.error_message = None
    write.error_fields = None
    if write.status != "sending":
        write.status, write.next_attempt_at, write.attempts = "queued", now, 0


def _drop_stale_group_writes(db: Session, workspace_id: str,
                             plans: Sequence[planner.ActivityPlan]) -> list[str]:
    """A meeting updated or cancelled, a task's related records changed: the group's writes
    this plan no longer has are deleted in Salesforce (recipients still pending keep theirs)."""
    groups = {p.group for p in plans if p.group}
    if not groups:
        return []
    keep = {w.key for p in plans for w in p.writes}
    waiting = {p.recipient or "" for p in plans if p.status == "pending"}
    now = utcnow()
    deleted: list[str] = []
    for write in db.scalars(select(ActivityWrite).where(
            ActivityWrite.workspace_id == workspace_id, ActivityWrite.group_key.in_(groups),
            ActivityWrite.op == "upsert")):
        if write.key in keep or write.recipient in waiting:
            continue
        write.op, write.version, write.updated_at = "delete", write.version + 1, now
        deleted.append(write.key)
        if write.status != "sending":
            write.status, write.next_attempt_at, write.attempts = "queued", now, 0
    return deleted


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
            values.update(status="errored", error_code=first.error_code,
                          error_message=first.error_message,
                          reason=f"Salesforce refused the {first.sobject}: "
                                 f"{first.error_code}: {first.error_message}")
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
                                      EventRow.id == event_id).values(state="new"))

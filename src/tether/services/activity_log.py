"""The activity log (L1): what happened to every event, for one member or (admins) for any
member or role; the detail of one activity; retrying errored ones; CSV export."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from tether.domain.csv_cells import SafeCsvWriter
from tether.domain.events import EventType, recipients
from tether.services import roles
from tether.services.errors import Invalid, NotFound
from tether.services.events import parse_event
from tether.services.planning import PLANNING_FAILED, QUEUED_REASON, requeue_event
from tether.services.workspaces import Actor
from tether.store.models import (
    ActivityRow,
    ActivityWrite,
    ActivityWriteRef,
    EventRow,
    Membership,
    User,
    Workspace,
    as_utc,
    iso,
    utcnow,
)

STATUSES = ("synced", "ignored", "pending", "errored")
RECEIVED_REASON = "received: Tether plans it in a moment"
CSV_COLUMNS = ("created_at", "occurred_at", "user", "type", "recipient", "status", "reason",
               "salesforce_ids", "error_code", "error_message", "attempts", "event_id", "id")


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    type: str | None = None
    membership_id: str | None = None
    role_id: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def check(self) -> Filters:
        if self.status is not None and self.status not in STATUSES:
            raise Invalid(f"status must be one of {', '.join(STATUSES)}", "status")
        if self.type is not None and self.type not in {t.value for t in EventType}:
            raise Invalid(f"unknown event type {self.type}", "type")
        return self


def filters_from(db: Session, actor: Actor, status: str | None, type: str | None,
                 user: str | None, role: str | None, since: dt.datetime | None,
                 until: dt.datetime | None) -> Filters:
    """Filters from a request's parameters (empty means none; naive datetimes are UTC)."""
    return Filters(status or None, type or None, member_id_for(db, actor, user), role or None,
                   _utc(since, "since"), _utc(until, "until"))


def _utc(value: dt.datetime | None, field: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return as_utc(value)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 has no UTC time
        raise Invalid(f"{field} is out of range: {value.isoformat()}", field) from None


def scoped(db: Session, actor: Actor, filters: Filters) -> Filters:
    """Members see their own activity; admins anyone's (a member asking for another's: 403
    would leak who exists, so the filter is simply replaced by their own)."""
    filters = filters.check()
    if not actor.is_admin:
        return Filters(filters.status, filters.type, actor.membership_id, None,
                       filters.since, filters.until)
    if filters.membership_id is not None:
        m = db.get(Membership, filters.membership_id)
        if m is None or m.workspace_id != actor.workspace_id:
            raise NotFound("no such member", "user")
    return filters


def member_id_for(db: Session, actor: Actor, user: str | None) -> str | None:
    """``user`` may be a membership id or an email address."""
    if not user:
        return None
    if "@" not in user:
        return user
    found = db.scalar(select(Membership.id).join(User, User.id == Membership.user_id).where(
        Membership.workspace_id == actor.workspace_id, func.lower(User.email) == user.lower()))
    if found is None:
        raise NotFound(f"no member {user}", "user")
    return str(found)


def _where(workspace_id: str, f: Filters, *, with_status: bool = True) -> Any:
    conditions = [ActivityRow.workspace_id == workspace_id]
    if with_status and f.status:
        conditions.append(ActivityRow.status == f.status)
    if f.type:
        conditions.append(ActivityRow.type == f.type)
    if f.membership_id:
        conditions.append(ActivityRow.membership_id == f.membership_id)
    if f.role_id:
        conditions.append(ActivityRow.role_id == f.role_id)
    if f.since:
        conditions.append(ActivityRow.created_at >= f.since)
    if f.until:
        conditions.append(ActivityRow.created_at < f.until)
    return and_(*conditions)


def _older_than(when: dt.datetime, last_id: str, at: Any = ActivityRow.created_at,
                ident: Any = ActivityRow.id) -> Any:
    """Keyset paging, newest first: rows after (when, last_id) in that order."""
    return or_(at < when, and_(at == when, ident < last_id))


def _received_where(workspace_id: str, f: Filters) -> Any | None:
    """Events accepted and not planned yet (no activity of theirs yet), as the filters
    choose them; None when the filters leave them out (they are pending)."""
    if f.status not in (None, "pending"):
        return None
    planned = select(ActivityRow.id).where(ActivityRow.workspace_id == EventRow.workspace_id,
                                           ActivityRow.event_id == EventRow.id).exists()
    conditions = [EventRow.workspace_id == workspace_id, EventRow.state == "new", ~planned]
    if f.type:
        conditions.append(EventRow.type == f.type)
    if f.membership_id:
        conditions.append(EventRow.membership_id == f.membership_id)
    if f.role_id:
        conditions.append(EventRow.membership_id.in_(roles.memberships_in(workspace_id,
                                                                          f.role_id)))
    if f.since:
        conditions.append(EventRow.received_at >= f.since)
    if f.until:
        conditions.append(EventRow.received_at < f.until)
    return and_(*conditions)


def _recipients(payload: dict[str, Any]) -> str | None:
    try:
        found = recipients(parse_event(payload))
    except ValueError:  # planning will quarantine it, saying why
        return None
    return ", ".join(a for a, _ in found if a) or None


def received_json(row: EventRow, emails: dict[str, str], role_id: str | None
                  ) -> dict[str, Any]:
    """An accepted event that planning has not reached yet, as a line of the log."""
    received = iso(row.received_at)
    return {"id": None, "event_id": row.id, "type": row.type,
            "recipient": _recipients(row.payload), "status": "pending",
            "reason": RECEIVED_REASON, "salesforce_ids": [], "error_code": None,
            "error_message": None, "attempts": 0, "user": emails.get(row.membership_id),
            "role_id": role_id, "occurred_at": iso(row.occurred_at), "created_at": received,
            "updated_at": received, "matched": None, "received": True}


def _emails(db: Session, workspace_id: str) -> dict[str, str]:
    rows = db.execute(select(Membership.id, User.email).join(
        User, User.id == Membership.user_id).where(Membership.workspace_id == workspace_id))
    return {mid: email for mid, email in rows}


def item_json(row: ActivityRow, emails: dict[str, str]) -> dict[str, Any]:
    return {"id": row.id, "event_id": row.event_id, "type": row.type,
            "recipient": row.recipient or None, "status": row.status, "reason": row.reason,
            "salesforce_ids": list(row.salesforce_ids or []), "error_code": row.error_code,
            "error_message": row.error_message, "attempts": row.attempts,
            "user": emails.get(row.membership_id), "role_id": row.role_id,
            "occurred_at": iso(row.occurred_at), "created_at": iso(row.created_at),
            "updated_at": iso(row.updated_at),
            "matched": {k: (row.match or {}).get(k) for k in ("object", "Id", "reason")}
            if row.match else None}


def _cursor(cursor: str | None) -> tuple[dt.datetime, str] | None:
    if not cursor:
        return None
    at, _, last_id = cursor.partition("~")
    try:
        return dt.datetime.fromisoformat(at), last_id
    except ValueError:
        raise Invalid("cursor is not one this API gave", "cursor") from None


def page(db: Session, actor: Actor, filters: Filters, *, limit: int = 50,
         cursor: str | None = None, received: bool = False) -> dict[str, Any]:
    """Newest first, ``limit`` a page; ``next_cursor`` continues (keyset paging: as fast on
    the thousandth page as on the first).  With ``received`` (the dashboard), events
    accepted but not planned yet are lines too, pending, at the time they arrived."""
    f = scoped(db, actor, filters)
    after = _cursor(cursor)
    query: Select[ActivityRow] = select(ActivityRow).where(
        _where(actor.workspace_id, f))
    if after is not None:
        query = query.where(_older_than(*after))
    rows = db.scalars(query.order_by(ActivityRow.created_at.desc(), ActivityRow.id.desc())
                      .limit(limit + 1)).all()
    emails = _emails(db, actor.workspace_id)
    lines = [(r.created_at, r.id, item_json(r, emails)) for r in rows]
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({s: int(n) for s, n in db.execute(
        select(ActivityRow.status, func.count()).where(
            _where(actor.workspace_id, f, with_status=False)).group_by(ActivityRow.status))})
    waiting = _received_where(actor.workspace_id, f) if received else None
    if waiting is not None:
        events = select(EventRow).where(waiting)
        if after is not None:
            events = events.where(_older_than(*after, EventRow.received_at, EventRow.id))
        found = db.scalars(events.order_by(EventRow.received_at.desc(), EventRow.id.desc())
                           .limit(limit + 1)).all()
        member_roles = _roles(db, actor.workspace_id) if found else {}
        lines += [(e.received_at, e.id, received_json(e, emails, member_roles.get(
            e.membership_id))) for e in found]
        lines.sort(key=lambda line: line[0], reverse=True)
        counts["pending"] += int(db.scalar(select(func.count()).select_from(EventRow)
                                           .where(waiting)) or 0)
    more = len(lines) > limit
    lines = lines[:limit]
    return {"items": [item for *_, item in lines], "counts": counts,
            "next_cursor": f"{iso(lines[-1][0])}~{lines[-1][1]}" if more and lines else None}


def _roles(db: Session, workspace_id: str) -> dict[str, str | None]:
    """Each member's role now (their own, or the default)."""
    workspace = db.get(Workspace, workspace_id)
    default = workspace.default_role_id if workspace is not None else None
    rows = db.execute(select(Membership.id, Membership.role_id).where(
        Membership.workspace_id == workspace_id))
    return {mid: roles.role_of(role_id, default) for mid, role_id in rows}


def _get(db: Session, actor: Actor, activity_id: str) -> ActivityRow:
    row = db.get(ActivityRow, activity_id)
    if row is None or row.workspace_id != actor.workspace_id or (
            not actor.is_admin and row.membership_id != actor.membership_id):
        raise NotFound("no such activity")
    return row


def detail(db: Session, actor: Actor, activity_id: str) -> dict[str, Any]:
    """One activity: the event, how it matched, what was sent, every attempt's answer."""
    row = _get(db, actor, activity_id)
    event = db.get(EventRow, (row.workspace_id, row.event_id))
    writes = db.scalars(select(ActivityWrite).join(ActivityWriteRef, and_(
        ActivityWriteRef.workspace_id == ActivityWrite.workspace_id,
        ActivityWriteRef.key == ActivityWrite.key)).where(
        ActivityWriteRef.activity_id == row.id).order_by(ActivityWrite.key)).all()
    return {**item_json(row, _emails(db, row.workspace_id)), "match": row.match,
            "event": event.payload if event else None,
            "writes": [{"key": w.key, "sobject": w.sobject, "op": w.op, "status": w.status,
                        "salesforce_id": w.sf_id, "fields": w.fields,
                        "error_code": w.error_code, "error_message": w.error_message,
                        "error_fields": w.error_fields, "attempts": w.attempts,
                        "log": w.log} for w in writes]}


REPLAN_REASON = "retried: to be planned again"  # an activity errored before it had writes


def retry(db: Session, actor: Actor, filters: Filters | None = None,
          activity_id: str | None = None) -> int:
    """Errored activities (one, or all matching the filters) queued again; answers how many."""
    if activity_id is not None:
        rows = [_get(db, actor, activity_id)]
        if rows[0].status != "errored":
            raise Invalid(f"only errored activities are retried; this one is {rows[0].status}",
                          "status")
    else:
        f = scoped(db, actor, filters or Filters())
        f = Filters("errored", f.type, f.membership_id, f.role_id, f.since, f.until)
        rows = list(db.scalars(select(ActivityRow).where(_where(actor.workspace_id, f))))
    now = utcnow()
    ids = [r.id for r in rows]
    with_writes: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        with_writes.update(db.scalars(select(ActivityWriteRef.activity_id).where(
            ActivityWriteRef.activity_id.in_(chunk))))
        keys = select(ActivityWriteRef.key).where(ActivityWriteRef.activity_id.in_(chunk))
        for w in db.scalars(select(ActivityWrite).where(
                ActivityWrite.workspace_id == actor.workspace_id, ActivityWrite.key.in_(keys),
                ActivityWrite.status == "errored")):
            # The attempts so far stay counted (the log lists them); the budget restarts.
            w.status, w.attempts_at_retry, w.next_attempt_at, w.updated_at = (
                "queued", w.attempts, now, now)
            w.error_code = w.error_message = None
            w.error_fields = None
    for r in rows:
        if r.id not in with_writes:
            # Errored before any write was planned (planning failed, or the member never
            # connected in time): the event is planned again from the start.
            requeue_event(db, actor.workspace_id, r.event_id)
            if r.error_code == PLANNING_FAILED and r.recipient == "":
                db.delete(r)  # a stand-in for the event as a whole; planning makes it anew
                continue
            r.pending_until = None
            r.status, r.reason = "pending", REPLAN_REASON
        else:
            r.status, r.reason = "pending", QUEUED_REASON
        r.error_code, r.error_message = None, None
        r.updated_at = now
    return len(rows)


def csv_lines(sessions: sessionmaker[Session], actor: Actor, scoped_filters: Filters
              ) -> Iterator[str]:
    """The log as CSV, streamed in pages (never the whole log in memory).  The filters are
    already :func:`scoped`: the caller checks them before the answer starts.  Recipients and
    messages come from outside: no cell of theirs runs as a spreadsheet formula."""
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer)
    writer.header(CSV_COLUMNS)
    f = scoped_filters
    with sessions() as db:
        emails = _emails(db, actor.workspace_id)
        last: tuple[dt.datetime, str] | None = None
        while True:
            query = select(ActivityRow).where(_where(actor.workspace_id, f))
            if last is not None:
                query = query.where(_older_than(*last))
            rows = db.scalars(query.order_by(ActivityRow.created_at.desc(),
                                             ActivityRow.id.desc()).limit(1000)).all()
            for r in rows:
                item = item_json(r, emails)
                writer.row([
                    item["created_at"], item["occurred_at"], item["user"], r.type,
                    r.recipient, r.status, r.reason, " ".join(item["salesforce_ids"]),
                    r.error_code or "", r.error_message or "", r.attempts, r.event_id, r.id])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if len(rows) < 1000:
                return
            last = (rows[-1].created_at, rows[-1].id)
            db.expunge_all()


def role_summary(db: Session, actor: Actor, role_id: str, days: int = 7) -> dict[str, int]:
    """How a role's activity fared over the last ``days``: counts by status."""
    actor.require_admin()
    since = utcnow() - dt.timedelta(days=days)
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({s: int(n) for s, n in db.execute(
        select(ActivityRow.status, func.count()).where(
            ActivityRow.workspace_id == actor.workspace_id, ActivityRow.role_id == role_id,
            ActivityRow.created_at >= since).group_by(ActivityRow.status))})
    return counts

"""The queue interface callers use.  Jobs are rows; the row is the truth.

Implementations: `EmbeddedQueue` (this module; SQLite or PostgreSQL, one process) and, later, a
distributed adapter (procrastinate on PostgreSQL: per-key locks, queueing locks, periodic tasks,
many workers) behind the same two calls, so callers never change.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from tether.store.models import Job, utcnow


class Queue(Protocol):
    def enqueue(self, db: Session, kind: str, payload: dict[str, Any], *,
                workspace_id: str | None = None, lock_key: str | None = None,
                run_at: dt.datetime | None = None, dedupe: bool = False) -> str:
        """Add a job; with ``dedupe``, answer the id of an equal job already queued."""
        ...

    def claim(self, db: Session, lease: dt.timedelta, job_id: str | None = None) -> Job | None:
        """Take the next due job whose lock key is free (or that one), leasing it."""
        ...


class EmbeddedQueue:
    """Jobs in the `job` table, claimed under a lease: a worker that dies leaves its job to
    be claimed again when the lease runs out (at least once, nothing lost on restart)."""

    def enqueue(self, db: Session, kind: str, payload: dict[str, Any], *,
                workspace_id: str | None = None, lock_key: str | None = None,
                run_at: dt.datetime | None = None, dedupe: bool = False) -> str:
        if dedupe:
            found = db.scalar(select(Job.id).where(
                Job.kind == kind, Job.workspace_id == workspace_id, Job.status == "queued"))
            if found is not None:
                return found
        job = Job(kind=kind, payload=payload, workspace_id=workspace_id, lock_key=lock_key,
                  run_at=run_at or utcnow())
        db.add(job)
        db.flush()
        return job.id

    def claim(self, db: Session, lease: dt.timedelta, job_id: str | None = None) -> Job | None:
        """The next due job whose lock key is free (or that one job, if it is)."""
        now = utcnow()
        other = aliased(Job)
        busy = exists().where(other.lock_key == Job.lock_key, other.id != Job.id,
                              other.status == "running", other.lease_until > now)
        due = or_(and_(Job.status == "queued", Job.run_at <= now),
                  and_(Job.status == "running", Job.lease_until <= now))  # a lost worker's
        query = (select(Job).where(due, or_(Job.lock_key.is_(None), ~busy))
                 .order_by(Job.run_at).limit(1))
        if job_id is not None:
            query = query.where(Job.id == job_id)
        if db.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        job = db.scalar(query)
        if job is None:
            return None
        # Take it only if nobody else did meanwhile (SQLite has no SKIP LOCKED).
        taken = db.execute(update(Job).where(Job.id == job.id, Job.status == job.status,
                                             Job.attempts == job.attempts)
                           .values(status="running", lease_until=now + lease,
                                   attempts=Job.attempts + 1))
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return None
        db.refresh(job)
        return job


def renew(db: Session, job_id: str, attempt: int, lease: dt.timedelta) -> bool:
    """Extend a running job's lease; False when it is no longer this attempt's to renew."""
    renewed = db.execute(update(Job).where(Job.id == job_id, Job.status == "running",
                                           Job.attempts == attempt)
                         .values(lease_until=utcnow() + lease))
    return bool(renewed.rowcount == 1)  # type: ignore[attr-defined]


def finish(db: Session, job_id: str, *, error: str | None = None,
           retry_in: dt.timedelta | None = None, max_attempts: int = 5,
           attempt: int | None = None) -> None:
    """Record how a job ended.  With ``attempt``, only if that attempt still holds the job
    (a lease that ran out and was taken over belongs to the newer attempt)."""
    job = db.get(Job, job_id)
    if job is None or (attempt is not None and (job.attempts != attempt
                                                or job.status != "running")):
        return
    if error is None:
        job.status, job.lease_until, job.last_error = "done", None, None
    elif job.attempts < max_attempts and retry_in is not None:
        job.status, job.lease_until, job.last_error = "queued", None, error
        job.run_at = utcnow() + retry_in
    else:
        job.status, job.lease_until, job.last_error = "failed", None, error

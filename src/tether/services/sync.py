"""Running syncs: as jobs (one per workspace at a time, via the job lock key), on the
workspace's schedules, and on demand ("Sync now", `tether sync …`)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tether.config import Settings
from tether.jobs.queue import EmbeddedQueue
from tether.security import Vault
from tether.services.connection import sync_user_client
from tether.services.errors import Invalid
from tether.store.models import Job, SyncRun, Workspace, as_utc, utcnow
from tether.sync import pull

SYNC_JOB = "salesforce.sync"
PERIODS = {"deletions": dt.timedelta(days=7), "fields": dt.timedelta(days=1)}


def lock_key(workspace_id: str) -> str:
    return f"sync:{workspace_id}"


def enqueue_sync(db: Session, workspace_id: str, kind: str) -> str:
    if kind not in pull.KINDS:
        raise Invalid(f"kind must be one of {', '.join(pull.KINDS)}", "kind")
    return EmbeddedQueue().enqueue(db, SYNC_JOB, {"kind": kind}, workspace_id=workspace_id,
                                   lock_key=lock_key(workspace_id))


async def run_sync(sessions: sessionmaker[Session], vault: Vault, settings: Settings,
                   workspace_id: str, kind: str,
                   progress: pull.Progress | None = None) -> dict[str, Any]:
    """One sync now, in this process (callers hold the workspace's lock: a job, or the CLI)."""
    counter = pull.CallCounter()
    client = sync_user_client(sessions, vault, settings, workspace_id, on_usage=counter)
    async with client:
        ctx = pull.PullContext(sessions, client, workspace_id, counter, progress,
                               dt.timedelta(seconds=settings.interval_overlap_seconds))
        return await pull.run(ctx, kind)


def sync_handler(sessions: sessionmaker[Session], vault: Vault, settings: Settings) -> Any:
    async def handle(payload: dict[str, Any], workspace_id: str | None) -> None:
        if workspace_id is None:
            raise ValueError("a sync job needs a workspace")
        await run_sync(sessions, vault, settings, workspace_id, str(payload["kind"]))
    return handle


async def wait_for_job(sessions: sessionmaker[Session], job_id: str,
                       timeout: float = 600.0) -> Job | None:
    """Poll the job row until it is done or failed (None on timeout)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        with sessions() as db:
            job = db.get(Job, job_id)
            if job is not None and job.status in ("done", "failed"):
                return job
            if job is not None and job.status == "queued" and job.last_error:
                return job  # failed once and waiting for its retry: report now
        await asyncio.sleep(0.1)
    return None


def latest_run(db: Session, workspace_id: str, kind: str,
               since: dt.datetime | None = None) -> SyncRun | None:
    query = select(SyncRun).where(SyncRun.workspace_id == workspace_id, SyncRun.kind == kind)
    if since is not None:
        query = query.where(SyncRun.started_at >= since)
    return db.scalar(query.order_by(SyncRun.started_at.desc()).limit(1))


def schedule_due(db: Session) -> list[str]:
    """The periodic schedules: interval sync every workspace's interval, deletions weekly,
    field metadata daily, for workspaces with a Sync User.  Answers the jobs it queued."""
    queued: list[str] = []
    now = utcnow()
    for ws in db.scalars(select(Workspace).where(
            Workspace.sync_user_membership_id.is_not(None))):
        periods = {"interval": dt.timedelta(minutes=ws.interval_minutes), **PERIODS}
        for kind, period in periods.items():
            pending = db.scalar(select(Job.id).where(
                Job.kind == SYNC_JOB, Job.workspace_id == ws.id,
                Job.status.in_(("queued", "running")), Job.payload["kind"].as_string() == kind))
            if pending is not None:
                continue
            last = latest_run(db, ws.id, kind)
            if last is None or now - as_utc(last.started_at) >= period:
                queued.append(enqueue_sync(db, ws.id, kind))
    return queued

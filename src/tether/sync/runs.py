"""Sync runs: the lifecycle record each sync leaves (kind, times, outcome, changes, cost)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tether.store.models import SyncRun, iso, utcnow

KINDS = ("audit", "interval", "realtime", "deletions", "fields")


def start_run(db: Session, workspace_id: str, kind: str) -> SyncRun:
    if kind not in KINDS:
        raise ValueError(f"unknown sync kind {kind}")
    run = SyncRun(workspace_id=workspace_id, kind=kind, started_at=utcnow())
    db.add(run)
    db.flush()
    return run


def finish_run(db: Session, run: SyncRun, outcome: str, *, records_changed: int = 0,
               api_calls: int = 0, error: str | None = None) -> None:
    if outcome not in ("succeeded", "failed", "halted"):
        raise ValueError(f"unknown outcome {outcome}")
    run.outcome = outcome
    run.finished_at = utcnow()
    run.records_changed = records_changed
    run.api_calls = api_calls
    run.error = error
    db.flush()


def run_json(run: SyncRun) -> dict[str, Any]:
    return {"id": run.id, "kind": run.kind, "started_at": iso(run.started_at),
            "finished_at": iso(run.finished_at) if run.finished_at else None,
            "outcome": run.outcome, "records_changed": run.records_changed,
            "api_calls": run.api_calls, "error": run.error}


def recent_runs(db: Session, workspace_id: str, limit: int = 50) -> list[dict[str, Any]]:
    rows = db.scalars(select(SyncRun).where(SyncRun.workspace_id == workspace_id)
                      .order_by(SyncRun.started_at.desc()).limit(limit))
    return [run_json(r) for r in rows]

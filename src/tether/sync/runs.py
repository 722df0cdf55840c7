"""Sync runs: the lifecycle record each sync leaves (kind, times, outcome, what it read and
changed, cost).

A real-time run whose every record was Tether's own Task or Event write (the webhook echoes
each write Tether makes) is an *echo*: the list folds those unless asked for them, so that
Salesforce's own changes are not lost among Tether's."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, and_, func, not_, select
from sqlalchemy.orm import Session

from tether.store.models import SyncRun, iso, utcnow
from tether.sync.mirror import Tally

KINDS = ("audit", "interval", "realtime", "deletions", "fields")


def start_run(db: Session, workspace_id: str, kind: str) -> SyncRun:
    if kind not in KINDS:
        raise ValueError(f"unknown sync kind {kind}")
    run = SyncRun(workspace_id=workspace_id, kind=kind, started_at=utcnow())
    db.add(run)
    db.flush()
    return run


def finish_run(db: Session, run: SyncRun, outcome: str, tally: Tally | None = None, *,
               api_calls: int = 0, error: str | None = None) -> None:
    if outcome not in ("succeeded", "failed", "halted"):
        raise ValueError(f"unknown outcome {outcome}")
    tally = tally or Tally()
    run.outcome = outcome
    run.finished_at = utcnow()
    run.records_read = tally.read
    run.records_changed = tally.changed
    run.own_writes = tally.own_writes
    run.api_calls = api_calls
    run.error = error
    db.flush()


# An echo: see the module's docstring.  The same rule, in SQL for the list and in Python for
# each run's answer.
def _echo() -> ColumnElement[bool]:
    return and_(SyncRun.kind == "realtime", SyncRun.outcome == "succeeded",
                SyncRun.records_read > 0, SyncRun.own_writes == SyncRun.records_read)


def is_echo(run: SyncRun) -> bool:
    return (run.kind == "realtime" and run.outcome == "succeeded"
            and 0 < run.records_read == run.own_writes)


def run_json(run: SyncRun) -> dict[str, Any]:
    return {"id": run.id, "kind": run.kind, "started_at": iso(run.started_at),
            "finished_at": iso(run.finished_at) if run.finished_at else None,
            "outcome": run.outcome, "records_read": run.records_read,
            "records_changed": run.records_changed, "own_writes": run.own_writes,
            "echo": is_echo(run), "api_calls": run.api_calls, "error": run.error}


def recent_runs(db: Session, workspace_id: str, limit: int = 50, *, echoes: bool = True
                ) -> list[dict[str, Any]]:
    """The newest runs; without ``echoes``, real-time runs that only echoed Tether's own
    writes are left out."""
    query = select(SyncRun).where(SyncRun.workspace_id == workspace_id)
    if not echoes:
        query = query.where(not_(_echo()))
    rows = db.scalars(query.order_by(SyncRun.started_at.desc()).limit(limit))
    return [run_json(r) for r in rows]


def echoes_among(db: Session, workspace_id: str, runs: list[dict[str, Any]], limit: int
                 ) -> int:
    """How many echo runs a list of ``limit`` runs without them leaves out: those since its
    oldest run, or every one when the list is not full."""
    query = select(func.count()).select_from(SyncRun).where(
        SyncRun.workspace_id == workspace_id, _echo())
    if len(runs) >= limit:
        query = query.where(SyncRun.started_at >= dt.datetime.fromisoformat(
            runs[-1]["started_at"]))
    return int(db.scalar(query) or 0)

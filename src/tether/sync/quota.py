"""The API budget: the share of the org's daily API limit Tether's writes may use.

Usage comes from the ledger (Sforce-Limit-Info of every call).  When the budget is reached or
Salesforce answers REQUEST_LIMIT_EXCEEDED, the workspace's writes pause; when the pause ends,
one ``/limits`` call (the probe) tells whether they may resume.  Nothing is dropped: paused
writes stay queued, and resume in priority order (replies, sends, meetings, calls first).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tether.store.models import ApiUsage, Workspace, as_utc, iso, utcnow

MIN_BUDGET, MAX_BUDGET = 10, 90


@dataclass(frozen=True)
class State:
    allowed: bool
    probe_due: bool = False


def today(db: Session, workspace_id: str) -> ApiUsage | None:
    return db.get(ApiUsage, (workspace_id, utcnow().date().isoformat()))


def ledger_row(db: Session, workspace_id: str) -> ApiUsage:
    """Today's row of the usage ledger, made empty if there is none yet."""
    row = today(db, workspace_id)
    if row is None:
        row = ApiUsage(workspace_id=workspace_id, day=utcnow().date().isoformat(),
                       tether_calls=0, hours={})
        db.add(row)
    return row


def over_budget(usage: ApiUsage | None, percent: int) -> bool:
    return bool(usage is not None and usage.org_max
                and usage.org_used >= usage.org_max * percent / 100)


def paused_workspaces(db: Session, now: dt.datetime) -> set[str]:
    """Workspaces whose pause has not ended (an ended pause is probed by the writer)."""
    return set(db.scalars(select(Workspace.id).where(Workspace.writes_paused_until > now)))


def check(sessions: sessionmaker[Session], workspace_id: str) -> State:
    now = utcnow()
    with sessions() as db:
        ws = db.get(Workspace, workspace_id)
        if ws is None:
            return State(allowed=False)
        if ws.writes_paused_until is not None:
            return State(allowed=False, probe_due=as_utc(ws.writes_paused_until) <= now)
        usage = today(db, workspace_id)
        if over_budget(usage, ws.api_budget_percent):
            assert usage is not None
            ws.writes_paused_until = now
            ws.writes_paused_reason = _budget_reason(usage, ws.api_budget_percent)
            db.commit()
            return State(allowed=False, probe_due=True)
    return State(allowed=True)


def _budget_reason(usage: ApiUsage, percent: int) -> str:
    return (f"the API budget is reached: the org has used {usage.org_used:,} of its "
            f"{usage.org_max:,} daily API requests, and Tether may write while under "
            f"{percent} %")


def pause(sessions: sessionmaker[Session], workspace_id: str, reason: str,
          seconds: float) -> None:
    with sessions() as db:
        ws = db.get(Workspace, workspace_id)
        if ws is not None:
            ws.writes_paused_until = utcnow() + dt.timedelta(seconds=seconds)
            ws.writes_paused_reason = reason
            db.commit()


def after_probe(sessions: sessionmaker[Session], workspace_id: str,
                limits: Mapping[str, Any], seconds: float) -> bool:
    """Resume (True) when the org's usage from ``/limits`` is under the budget."""
    daily = limits.get("DailyApiRequests") or {}
    maximum = int(daily.get("Max") or 0)
    used = maximum - int(daily.get("Remaining") or 0)
    with sessions() as db:
        ws = db.get(Workspace, workspace_id)
        if ws is None:
            return False
        usage = ledger_row(db, workspace_id)
        usage.org_used, usage.org_max, usage.updated_at = used, maximum, utcnow()
        if over_budget(usage, ws.api_budget_percent):
            ws.writes_paused_until = utcnow() + dt.timedelta(seconds=seconds)
            ws.writes_paused_reason = _budget_reason(usage, ws.api_budget_percent)
            db.commit()
            return False
        ws.writes_paused_until = None
        ws.writes_paused_reason = None
        db.commit()
        return True


def usage_json(db: Session, workspace_id: str, queued: int) -> dict[str, Any]:
    """GET /api/v1/salesforce/usage: Tether's calls, the org's remaining, budget, forecast."""
    ws = db.get(Workspace, workspace_id)
    assert ws is not None
    usage = today(db, workspace_id)
    now = utcnow()
    used = usage.org_used if usage else 0
    maximum = usage.org_max if usage else 0
    tether = usage.tether_calls if usage else 0
    hours = {int(h): int(n) for h, n in ((usage.hours or {}) if usage else {}).items()}
    budget_calls = maximum * ws.api_budget_percent // 100
    elapsed = max(1.0, now.hour + now.minute / 60)
    rate = tether / elapsed  # Tether's calls an hour so far today
    left = 24 - elapsed
    forecast = int(tether + rate * left)
    hours_to_budget = ((budget_calls - used) / rate if rate and budget_calls > used else None)
    return {
        "day": now.date().isoformat(),
        "tether_calls": tether,
        "calls_by_hour": [hours.get(h, 0) for h in range(24)],
        "org": {"used": used, "max": maximum, "remaining": max(0, maximum - used)},
        # The same, flat (the first version of this answer).
        "org_used": used, "org_max": maximum, "org_remaining": max(0, maximum - used),
        "updated_at": iso(usage.updated_at) if usage else None,
        "budget": {"percent": ws.api_budget_percent, "calls": budget_calls,
                   "remaining": max(0, budget_calls - used)},
        "paused": ws.writes_paused_until is not None,
        "paused_reason": ws.writes_paused_reason,
        "paused_until": iso(ws.writes_paused_until) if ws.writes_paused_until else None,
        "queued_writes": queued,
        "forecast": {"tether_calls_today": forecast, "calls_per_hour": round(rate, 1),
                     "hours_until_budget": round(hours_to_budget, 1)
                     if hours_to_budget is not None else None},
    }

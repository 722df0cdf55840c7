"""API usage (calls by Tether, the org's remaining, the budget, calls per hour, the pause) and
the sync runs with "Sync now"."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response

from tether.services import sync as sync_service
from tether.services import workspaces as ws
from tether.services.errors import Invalid
from tether.sync import push, quota
from tether.sync.runs import recent_runs
from tether.web.ui.common import AdminPage, Page, PageOf, redirect

router = APIRouter(prefix="/app")
SYNC_KINDS = {"interval": "Interval sync", "audit": "Audit (full)",
              "deletions": "Deletions", "fields": "Get latest fields"}


def _usage(page: Page) -> dict[str, Any]:
    with page.app.sessions() as db:
        usage = quota.usage_json(db, page.actor.workspace_id,
                                 push.queued_count(db, page.actor.workspace_id))
    peak = max(usage["calls_by_hour"]) or 1
    return {"usage": usage, "peak": peak}


@router.get("/usage", response_class=HTMLResponse)
def usage(page: PageOf) -> HTMLResponse:
    return page.render("usage.html", **_usage(page))


@router.post("/usage/budget", response_class=HTMLResponse)
def save_budget(page: AdminPage, api_budget_percent: Annotated[str, Form()] = "") -> Response:
    if not api_budget_percent.isdigit():
        return page.error("usage.html", Invalid(
            "the API budget must be a whole percentage from 10 to 90", "api_budget_percent"),
            **_usage(page))
    return page.act(lambda db: ws.update_workspace(
        db, page.actor, {"api_budget_percent": int(api_budget_percent)}), done="/app/usage",
        notice="budget_saved", template="usage.html", context=_usage)


@router.get("/syncs", response_class=HTMLResponse)
def syncs(page: PageOf) -> HTMLResponse:
    with page.app.sessions() as db:
        runs = recent_runs(db, page.actor.workspace_id, 50)
    return page.render("syncs.html", runs=runs, kinds=SYNC_KINDS)


@router.post("/syncs", response_class=HTMLResponse)
def sync_now(page: AdminPage, kind: Annotated[str, Form()] = "interval") -> Response:
    if kind not in SYNC_KINDS:
        with page.app.sessions() as db:
            runs = recent_runs(db, page.actor.workspace_id, 50)
        return page.error("syncs.html", Invalid(f"no sync called '{kind}'", "kind"), runs=runs,
                          kinds=SYNC_KINDS)
    with page.app.sessions() as db:
        sync_service.enqueue_sync(db, page.actor.workspace_id, kind)
        db.commit()
    page.app.nudge_worker()
    return redirect("/app/syncs", "sync_queued")

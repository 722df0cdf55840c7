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
from tether.sync.runs import echoes_among, recent_runs
from tether.web.ui.common import AdminPage, Page, PageOf, redirect

router = APIRouter(prefix="/app")
SYNC_KINDS = {"interval": "Interval sync", "audit": "Audit (full)",
              "deletions": "Deletions", "fields": "Get latest fields"}
RUNS = 50  # runs a page


def _usage(page: Page) -> dict[str, Any]:
    with page.app.sessions() as db:
        usage = quota.usage_json(db, page.actor.workspace_id,
                                 push.queued_count(db, page.actor.workspace_id))
    peak = max(usage["calls_by_hour"]) or 1
    # The org's count is every client's (Tether's, other integrations', Salesforce's own):
    # the page says how much of it is not Tether's.
    others = max(0, usage["org"]["used"] - usage["tether_calls"])
    return {"usage": usage, "peak": peak, "others": others}


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


def _runs(page: Page, echoes: bool = False) -> dict[str, Any]:
    """The newest runs; real-time runs that only echoed Tether's own writes are folded (counted,
    not listed) unless asked for."""
    with page.app.sessions() as db:
        runs = recent_runs(db, page.actor.workspace_id, RUNS, echoes=echoes)
        folded = 0 if echoes else echoes_among(db, page.actor.workspace_id, runs, RUNS)
    return {"runs": runs, "kinds": SYNC_KINDS, "echoes": echoes, "folded": folded}


@router.get("/syncs", response_class=HTMLResponse)
def syncs(page: PageOf, echoes: bool = False) -> HTMLResponse:
    return page.render("syncs.html", **_runs(page, echoes))


@router.post("/syncs", response_class=HTMLResponse)
def sync_now(page: AdminPage, kind: Annotated[str, Form()] = "interval") -> Response:
    if kind not in SYNC_KINDS:
        return page.error("syncs.html", Invalid(f"no sync called '{kind}'", "kind"),
                          **_runs(page))
    with page.app.sessions() as db:
        sync_service.enqueue_sync(db, page.actor.workspace_id, kind)
        db.commit()
    page.app.nudge_worker()
    return redirect("/app/syncs", "sync_queued")

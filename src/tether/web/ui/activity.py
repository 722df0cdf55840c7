"""The activity log: filters, live refresh, each row's detail, retry, CSV export."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy.orm import Session

from tether.domain.events import EventType
from tether.services import activity_log
from tether.services import workspaces as ws
from tether.services.errors import Invalid, ServiceError
from tether.web.ui.common import Page, PageOf, redirect

router = APIRouter(prefix="/app/activity")
TYPES = [t.value for t in EventType]


def _day(value: str, end: bool = False) -> dt.datetime | None:
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"'{value}' is not a date (YYYY-MM-DD)",
                      "until" if end else "since") from None
    return dt.datetime.combine(day + dt.timedelta(days=1) if end else day, dt.time(),
                               tzinfo=dt.UTC)


def _filters(db: Session, page: Page, status: str | None, type: str, user: str, role: str,
             since: str, until: str) -> activity_log.Filters:
    """The log's filters from the page's query (dates as days, the last one included)."""
    return activity_log.filters_from(db, page.actor, status, type, user, role, _day(since),
                                     _day(until, end=True))


def _listing(page: Page, status: str, type: str, user: str, role: str, since: str,
             until: str, cursor: str | None) -> dict[str, Any]:
    with page.app.sessions() as db:
        filters = _filters(db, page, status, type, user, role, since, until)
        listing = activity_log.page(db, page.actor, filters, limit=50, cursor=cursor,
                                    received=True)
        members = ws.list_members(db, page.actor) if page.actor.is_admin else []
        roles = ws.list_roles(db, page.actor)
    return {"listing": listing, "members": members, "roles": {r["id"]: r["name"] for r in roles},
            "types": TYPES, "f": {"status": status, "type": type, "user": user, "role": role,
                                  "since": since, "until": until}}


@router.get("", response_class=HTMLResponse)
def activity(page: PageOf, status: str = "", type: str = "", user: str = "", role: str = "",
             since: str = "", until: str = "", cursor: str | None = None) -> HTMLResponse:
    try:
        context = _listing(page, status, type, user, role, since, until, cursor)
    except ServiceError as exc:
        return page.error("activity.html", exc,
                          **_listing(page, "", "", "", "", "", "", None))
    return page.render("activity.html", **context)


@router.get("/rows", response_class=HTMLResponse)
def rows(page: PageOf, status: str = "", type: str = "", user: str = "", role: str = "",
         since: str = "", until: str = "", cursor: str | None = None) -> HTMLResponse:
    """The table alone, for the page's live refresh (htmx, every few seconds)."""
    return page.render("activity_rows.html",
                       **_listing(page, status, type, user, role, since, until, cursor))


@router.get(".csv")
def export(page: PageOf, status: str = "", type: str = "", user: str = "", role: str = "",
           since: str = "", until: str = "") -> Response:
    with page.app.sessions() as db:
        filters = activity_log.scoped(db, page.actor,
                                      _filters(db, page, status, type, user, role, since, until))
    return StreamingResponse(
        activity_log.csv_lines(page.app.sessions, page.actor, filters), media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="activity-log.csv"'})


@router.get("/{activity_id}", response_class=HTMLResponse)
def detail(page: PageOf, activity_id: str) -> HTMLResponse:
    with page.app.sessions() as db:
        item = activity_log.detail(db, page.actor, activity_id)
    return page.render("activity_detail.html", item=item)


@router.post("/{activity_id}/retry")
def retry_one(page: PageOf, activity_id: str) -> Response:
    with page.app.sessions() as db:
        activity_log.retry(db, page.actor, activity_id=activity_id)
        db.commit()
    page.app.nudge_pipeline()
    return redirect(f"/app/activity/{activity_id}", "retried")


@router.post("/retry")
def retry_all(page: PageOf, type: str = Query(""), user: str = Query(""),
              role: str = Query(""), since: str = Query(""), until: str = Query("")
              ) -> Response:
    """Every errored activity the page's filters show, queued again."""
    with page.app.sessions() as db:
        activity_log.retry(db, page.actor,
                           _filters(db, page, None, type, user, role, since, until))
        db.commit()
    page.app.nudge_pipeline()
    return redirect("/app/activity", "retried")

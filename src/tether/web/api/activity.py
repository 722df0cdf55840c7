"""JSON API v1: events in (POST /api/v1/events), the activity log out, and API usage."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from tether.services import activity_log
from tether.services.errors import Invalid
from tether.sync import push, quota
from tether.web import strict
from tether.web.api import event_schema
from tether.web.deps import Db, Me, State, bearer_key

router = APIRouter(prefix="/api/v1")


@router.post("/events", status_code=202, openapi_extra=event_schema.OPERATION)
async def post_events(request: Request, app: State,
                      authorization: Annotated[str | None, Header()] = None) -> JSONResponse:
    """One event or ``{"events": [...]}`` (≤ 1,000): stored (idempotently) before 202.
    The key is checked and the events stored by the app's event sink (group commit); the
    body's size was bounded before it was read (tether/web/body.py)."""
    key = bearer_key(authorization)
    body = await request.body()
    data = strict.loads(body, "events")
    single = not (isinstance(data, dict) and "events" in data)
    raw = [data] if single else data["events"]
    if not isinstance(raw, list):
        raise Invalid("events must be a list", "events")
    accepted = await app.event_sink.submit(key, raw, single=single)
    app.nudge_pipeline()
    return JSONResponse({"accepted": accepted}, status_code=202)


@router.get("/activity-log")
def activity_log_page(db: Db, actor: Me, status: str | None = None, type: str | None = None,
                      user: str | None = None, role: str | None = None,
                      since: dt.datetime | None = None, until: dt.datetime | None = None,
                      limit: int = Query(50, ge=1, le=1000), cursor: str | None = None
                      ) -> dict[str, Any]:
    """Newest first; ``user`` (member id or email) and ``role`` for admins; a member sees
    their own.  ``next_cursor`` pages on."""
    filters = activity_log.filters_from(db, actor, status, type, user, role, since, until)
    return activity_log.page(db, actor, filters, limit=limit, cursor=cursor)


@router.get("/activity-log.csv")
def activity_log_csv(db: Db, actor: Me, app: State, status: str | None = None,
                     type: str | None = None, user: str | None = None,
                     role: str | None = None, since: dt.datetime | None = None,
                     until: dt.datetime | None = None) -> StreamingResponse:
    filters = activity_log.scoped(db, actor, activity_log.filters_from(
        db, actor, status, type, user, role, since, until))
    return StreamingResponse(
        activity_log.csv_lines(app.sessions, actor, filters), media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="activity-log.csv"'})


@router.get("/activity-log/{activity_id}")
def activity_detail(activity_id: str, db: Db, actor: Me) -> dict[str, Any]:
    return activity_log.detail(db, actor, activity_id)


@router.post("/activity-log/{activity_id}/retry")
def retry_one(activity_id: str, db: Db, actor: Me, app: State) -> dict[str, Any]:
    count = activity_log.retry(db, actor, activity_id=activity_id)
    db.commit()
    app.nudge_pipeline()
    return {"retried": count}


@router.post("/activity-log/retry")
def retry_all(db: Db, actor: Me, app: State, type: str | None = None, user: str | None = None,
              role: str | None = None) -> dict[str, Any]:
    """Every errored activity (matching the filters) queued again."""
    count = activity_log.retry(db, actor, activity_log.filters_from(
        db, actor, None, type, user, role, None, None))
    db.commit()
    app.nudge_pipeline()
    return {"retried": count}


@router.get("/salesforce/usage")
def usage(db: Db, actor: Me) -> dict[str, Any]:
    """Calls by Tether today, the org's remaining, the budget, the pause and a forecast."""
    return quota.usage_json(db, actor.workspace_id, push.queued_count(db, actor.workspace_id))

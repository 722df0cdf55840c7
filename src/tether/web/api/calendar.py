"""JSON API v1: the caller's primary calendar (CONTRACTS: "Calendar")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from tether.services import calendars
from tether.services.records import Deps
from tether.web.deps import Db, Me, State
from tether.web.strict import StrictRoute

router = APIRouter(prefix="/api/v1", route_class=StrictRoute)


class CalendarIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=8, max_length=2000)
    username: str = Field(min_length=1, max_length=320)
    password: str | None = Field(default=None, max_length=8192)


@router.put("/calendar")
async def put_calendar(body: CalendarIn, app: State, actor: Me) -> dict[str, Any]:
    """Checked by a PROPFIND on the URL before anything is saved."""
    deps = Deps(app.sessions, app.vault, app.settings)
    saved = await calendars.save(deps, actor, calendars.CalendarIn(
        body.url, body.username, body.password))
    app.nudge_watchers()
    return saved


@router.get("/calendar")
def get_calendar(db: Db, actor: Me) -> dict[str, Any]:
    return calendars.get(db, actor)


@router.delete("/calendar", status_code=204)
def delete_calendar(db: Db, actor: Me) -> Response:
    calendars.delete(db, actor)
    return Response(status_code=204)

"""POST /webhooks/salesforce/{workspace_id}: the real-time package calls in here.

The token is checked before the body is read; the body is at most MAX_BODY, which the
BodyLimit middleware enforces before reading it (after the token, see token_gate).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import Headers
from starlette.types import Scope

from tether.domain.paths import join
from tether.security import secret_matches
from tether.services.errors import Invalid
from tether.store.models import Workspace
from tether.sync.realtime import Outcome, RealtimeDocument, apply_document
from tether.web.body import Gate
from tether.web.deps import AppState, Db, State
from tether.web.errors import error_json
from tether.web.strict import loads

router = APIRouter()
PREFIX = "/webhooks/salesforce/"
# The package splits documents at 131,072 characters, but posts a single record with very
# large Long Text fields whole: room for that, well under a callout's 12 MB.
MAX_BODY = 8 * 1024 * 1024


def authorized(db: Session, workspace_id: str, token: str) -> Workspace | None:
    workspace = db.get(Workspace, workspace_id)
    if workspace is None or not secret_matches(token, workspace.realtime_token_hash):
        return None
    return workspace


def _unauthorized() -> JSONResponse:
    # The same answer for an unknown workspace and a wrong token: nothing to probe.
    return error_json(401, "invalid X-Tether-Token", code="unauthorized")


def token_gate(state: AppState) -> Gate:
    """The token, checked before a large body is read."""
    async def gate(scope: Scope) -> Response | None:
        workspace_id = str(scope["path"])[len(PREFIX):]
        token = Headers(scope=scope).get("x-tether-token") or ""

        def check() -> bool:
            with state.sessions() as db:
                return authorized(db, workspace_id, token) is not None
        return None if await run_in_threadpool(check) else _unauthorized()
    return gate


@router.post(PREFIX + "{workspace_id}")
async def salesforce_webhook(workspace_id: str, request: Request, db: Db, app: State,
                             x_tether_token: Annotated[str | None, Header()] = None
                             ) -> JSONResponse:
    workspace = authorized(db, workspace_id, x_tether_token or "")
    if workspace is None:
        return _unauthorized()
    body = await request.body()
    try:
        doc = RealtimeDocument.model_validate(loads(body))
    except Invalid as exc:
        return error_json(422, exc.message, code=exc.code, field=exc.field)
    except ValidationError as exc:
        return _malformed([(join("", e["loc"]), e["msg"]) for e in exc.errors()])
    if workspace.salesforce_org_id and doc.org_id[:15] != workspace.salesforce_org_id[:15]:
        return error_json(422, f"org_id {doc.org_id} is not this workspace's org",
                          code="invalid", field="org_id")
    # The database work runs off the event loop, and commits in the same thread: a write
    # lock held until the loop gets round to the session's teardown could wait on a loop
    # that is itself waiting for that lock (SQLite).
    def apply_and_commit() -> Outcome:
        outcome = apply_document(db, workspace, doc, app.settings.date_window())
        db.commit()
        return outcome

    outcome = await run_in_threadpool(apply_and_commit)
    counts = {"applied": outcome.applied, "ignored": outcome.ignored}
    if outcome.refused:  # the good records are applied; these never will be (see the docs)
        return _malformed(outcome.refused, **counts)
    return JSONResponse(counts)


def _malformed(problems: Sequence[tuple[str, str]], **counts: int) -> JSONResponse:
    where, what = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return JSONResponse({
        "detail": f"{where}: {what}{more}" if where else f"{what}{more}", "code": "invalid",
        "field": where or None, "errors": [{"field": f, "detail": d} for f, d in problems],
        **counts}, status_code=422)

"""POST /webhooks/salesforce/{workspace_id}: the real-time package calls in here."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from tether.security import secret_matches
from tether.store.models import Workspace
from tether.sync.realtime import RealtimeDocument, apply_document
from tether.web.deps import Db

router = APIRouter()
MAX_BODY = 8 * 1024 * 1024


@router.post("/webhooks/salesforce/{workspace_id}")
async def salesforce_webhook(workspace_id: str, request: Request, db: Db,
                             x_tether_token: Annotated[str | None, Header()] = None
                             ) -> JSONResponse:
    workspace = db.get(Workspace, workspace_id)
    # The same answer for an unknown workspace and a wrong token: nothing to probe.
    if workspace is None or not secret_matches(x_tether_token or "",
                                               workspace.realtime_token_hash):
        return JSONResponse({"detail": "invalid X-Tether-Token"}, status_code=401)
    body = await request.body()
    if len(body) > MAX_BODY:
        return JSONResponse({"detail": "payload too large"}, status_code=413)
    try:
        doc = RealtimeDocument.model_validate(json.loads(body))
    except (ValueError, ValidationError) as exc:
        errors: Any = exc.errors() if isinstance(exc, ValidationError) else str(exc)
        return JSONResponse({"detail": "malformed payload", "errors": json.loads(
            json.dumps(errors, default=str))}, status_code=422)
    if workspace.salesforce_org_id and doc.org_id[:15] != workspace.salesforce_org_id[:15]:
        return JSONResponse({"detail": f"org_id {doc.org_id} is not this workspace's org"},
                            status_code=422)
    # The database work runs off the event loop, and commits in the same thread: a write
    # lock held until the loop gets round to the session's teardown could wait on a loop
    # that is itself waiting for that lock (SQLite).
    def apply_and_commit() -> dict[str, int]:
        applied = apply_document(db, workspace, doc)
        db.commit()
        return applied

    result = await run_in_threadpool(apply_and_commit)
    return JSONResponse(result)

"""JSON API v1: the Salesforce side of a workspace (connection, Sync User, real-time token,
custom objects, sync runs, lookup)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tether.services import connection, custom_objects
from tether.services import sync as sync_service
from tether.services import workspaces as ws
from tether.services.errors import Invalid, NotFound
from tether.store.models import FieldMetadata, iso, utcnow
from tether.sync import mirror
from tether.sync.runs import recent_runs, run_json
from tether.web.deps import Db, Me, State
from tether.web.strict import StrictRoute

router = APIRouter(prefix="/api/v1/salesforce", route_class=StrictRoute)


class SyncUserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    membership_id: str = Field(min_length=1, max_length=64)


@router.get("/lookup")
def lookup(db: Db, actor: Me, email: str = Query(min_length=3, max_length=320)
           ) -> dict[str, Any]:
    if "@" not in email:
        raise Invalid(f"'{email}' is not an email address", "email")
    return {"matches": mirror.lookup(db, actor.workspace_id, email)}


@router.get("/sync-runs")
def sync_runs(db: Db, actor: Me, limit: int = Query(50, ge=1, le=500)) -> list[dict[str, Any]]:
    return recent_runs(db, actor.workspace_id, limit)


@router.post("/realtime-token", status_code=201)
def create_realtime_token(db: Db, actor: Me) -> dict[str, str]:
    token = ws.create_realtime_token(db, actor)
    return {"token": token, "webhook_path": f"/webhooks/salesforce/{actor.workspace_id}",
            "note": "This is the only time the token is shown; put it in the package's "
                    "Tether Setting now. Creating a new token revokes this one."}


@router.delete("/realtime-token", status_code=204)
def revoke_realtime_token(db: Db, actor: Me) -> None:
    ws.revoke_realtime_token(db, actor)


@router.put("/sync-user")
def set_sync_user(body: SyncUserIn, db: Db, actor: Me) -> dict[str, str]:
    """The Sync User's connection is used for bulk reads (audit, interval, deletions)."""
    return connection.set_sync_user(db, actor, body.membership_id)


# -- the connection -----------------------------------------------------------------------------
class ConnectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sandbox: bool = False  # "Use a Salesforce Sandbox"


class SyncIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["audit", "interval", "deletions", "fields"]


class CustomObjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sobject: str = Field(max_length=80)  # checked by the service (the dashboard's form too)
    relationship_fields: list[Annotated[str, Field(max_length=80)]] = Field(max_length=100)


@router.get("/connection")
def my_connection(db: Db, actor: Me) -> dict[str, Any]:
    return connection.connection_json(connection.get_connection(db, actor.membership_id))


@router.post("/connect")
def connect(body: ConnectIn, db: Db, actor: Me, app: State) -> dict[str, str]:
    url = connection.start_connect(db, app.vault, app.settings, actor, body.sandbox)
    return {"authorize_url": url}


@router.delete("/connection", status_code=204)
async def disconnect(actor: Me, app: State) -> None:
    await connection.disconnect(app.sessions, app.vault, app.settings, actor)


@router.post("/sync")
async def sync_now(body: SyncIn, actor: Me, app: State) -> JSONResponse:
    """Runs one sync now (through the job queue, so never two at once for a workspace)."""
    actor.require_admin()
    asked_at = utcnow()
    with app.sessions() as db:
        job_id = sync_service.enqueue_sync(db, actor.workspace_id, body.kind)
        db.commit()
    app.nudge_worker()
    job = await sync_service.wait_for_job(app.sessions, job_id)
    with app.sessions() as db:
        # Only a run this request caused: an older one must not pass for its outcome.
        run = sync_service.latest_run(db, actor.workspace_id, body.kind, since=asked_at)
        if job is None:
            return JSONResponse({"job_id": job_id, "status": "queued"}, status_code=202)
        body_json: dict[str, Any] = run_json(run) if run is not None else {"kind": body.kind}
        body_json["job_id"] = job_id
        if job.last_error and (run is None or run.outcome == "running"):
            body_json.update(outcome="failed", error=job.last_error)
        return JSONResponse(body_json)


@router.get("/custom-objects")
def list_custom_objects(db: Db, actor: Me) -> list[dict[str, Any]]:
    return custom_objects.list_objects(db, actor)


@router.post("/custom-objects", status_code=201)
async def add_custom_object(body: CustomObjectIn, actor: Me, app: State) -> dict[str, Any]:
    return await custom_objects.add_object(app.sessions, app.vault, app.settings, actor,
                                           body.sobject, body.relationship_fields)


@router.delete("/custom-objects/{sobject}", status_code=204)
def delete_custom_object(sobject: str, db: Db, actor: Me) -> None:
    custom_objects.remove_object(db, actor, sobject)


@router.get("/fields/{sobject}")
def fields(sobject: str, db: Db, actor: Me) -> dict[str, Any]:
    """The org's field metadata for an object, as last synced ("Get latest fields" refreshes
    it), with the fields the page layout makes required."""
    row = db.get(FieldMetadata, (actor.workspace_id, sobject))
    if row is None:
        raise NotFound(f"no field metadata for {sobject}: run the fields sync", "sobject")
    return {"sobject": sobject, "fetched_at": iso(row.fetched_at),
            "layout_required": row.layout_required,
            "fields": [{k: f.get(k) for k in ("name", "label", "type", "length", "nillable",
                                              "createable", "updateable", "referenceTo",
                                              "picklistValues", "custom")}
                       for f in row.fields]}

"""JSON API v1: the Salesforce side of a workspace (connection, Sync User, real-time token,
custom objects, sync runs, lookup)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from tether.services import workspaces as ws
from tether.services.errors import Invalid
from tether.store.models import SalesforceConnection
from tether.sync import mirror
from tether.sync.runs import recent_runs
from tether.web.deps import Db, Me

router = APIRouter(prefix="/api/v1/salesforce")


class SyncUserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    membership_id: str


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
    actor.require_admin()
    member = ws.actor_for_membership(db, body.membership_id)
    if member.workspace_id != actor.workspace_id:
        raise Invalid("no such member", "membership_id")
    connection = db.query(SalesforceConnection).filter_by(
        membership_id=body.membership_id, workspace_id=actor.workspace_id).one_or_none()
    if connection is None or connection.status != "connected":
        raise Invalid(f"{member.email} has no working Salesforce connection; they connect "
                      "first", "membership_id")
    workspace = ws.get_workspace(db, actor)
    workspace.sync_user_membership_id = body.membership_id
    return {"membership_id": body.membership_id, "salesforce_username":
            connection.salesforce_username}

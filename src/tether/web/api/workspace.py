"""JSON API v1: the workspace, members and invitations, API keys, roles, settings and
exclusions."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from tether.services import workspaces as ws
from tether.web.deps import Db, Me, State
from tether.web.strict import StrictRoute

router = APIRouter(prefix="/api/v1", route_class=StrictRoute)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InvitationIn(Strict):
    """No password and no name: the invitee chooses their own when they accept."""

    email: str
    access: Literal["admin", "member"] = "member"
    role_id: str | None = None


class RoleIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    settings: dict[str, Any] = Field(default_factory=dict)
    members_manage_own: bool = False


class ExclusionIn(Strict):
    kind: Literal["address", "domain"]
    value: str = Field(min_length=1, max_length=320)


@router.get("/me")
def me(db: Db, actor: Me) -> dict[str, Any]:
    return {"email": actor.email, "membership_id": actor.membership_id,
            "workspace_id": actor.workspace_id, "admin": actor.is_admin,
            "salesforce_settings": ws.effective_json(
                ws.effective_for(db, actor.workspace_id, actor.membership_id))}


@router.get("/me/salesforce-settings")
def my_settings(db: Db, actor: Me) -> dict[str, Any]:
    return ws.effective_json(ws.effective_for(db, actor.workspace_id, actor.membership_id))


@router.put("/me/salesforce-settings")
def save_my_settings(body: dict[str, Any], db: Db, actor: Me) -> dict[str, Any]:
    return ws.effective_json(ws.save_own_settings(db, actor, body))


@router.get("/workspace")
def get_workspace(db: Db, actor: Me) -> dict[str, Any]:
    return ws.workspace_json(ws.get_workspace(db, actor))


@router.patch("/workspace")
def patch_workspace(body: dict[str, Any], db: Db, actor: Me) -> dict[str, Any]:
    return ws.workspace_json(ws.update_workspace(db, actor, body))


@router.get("/members")
def list_members(db: Db, actor: Me) -> list[dict[str, Any]]:
    return ws.list_members(db, actor)


@router.post("/members", status_code=201)
def invite_member(body: InvitationIn, db: Db, actor: Me, app: State) -> dict[str, Any]:
    """Adding a member is inviting them: the link is in this answer only."""
    row, token = ws.invite_member(db, actor, email=body.email, access=body.access,
                                  role_id=body.role_id)
    return ws.new_invitation_json(row, token, app.settings.base_url)


@router.get("/invitations")
def list_invitations(db: Db, actor: Me) -> list[dict[str, Any]]:
    return ws.list_invitations(db, actor)


@router.delete("/invitations/{invitation_id}", status_code=204)
def revoke_invitation(invitation_id: str, db: Db, actor: Me) -> None:
    ws.revoke_invitation(db, actor, invitation_id)


@router.patch("/members/{membership_id}")
def patch_member(membership_id: str, body: dict[str, Any], db: Db, actor: Me
                 ) -> dict[str, str]:
    ws.update_member(db, actor, membership_id, body)
    return {"id": membership_id}


@router.get("/members/{membership_id}/salesforce-settings")
def member_settings(membership_id: str, db: Db, actor: Me) -> dict[str, Any]:
    if membership_id != actor.membership_id:
        actor.require_admin()
    ws.actor_for_membership(db, membership_id)
    return ws.effective_json(ws.effective_for(db, actor.workspace_id, membership_id))


@router.get("/api-keys")
def list_keys(db: Db, actor: Me) -> list[dict[str, Any]]:
    return ws.list_api_keys(db, actor)


@router.post("/api-keys", status_code=201)
def create_key(db: Db, actor: Me) -> dict[str, str]:
    return {"key": ws.create_api_key(db, actor),
            "note": "This is the only time the key is shown; store it now."}


@router.delete("/api-keys/{key_id}", status_code=204)
def revoke_key(key_id: str, db: Db, actor: Me) -> None:
    ws.revoke_api_key(db, actor, key_id)


@router.get("/roles")
def list_roles(db: Db, actor: Me) -> list[dict[str, Any]]:
    return ws.list_roles(db, actor)


@router.post("/roles", status_code=201)
def create_role(body: RoleIn, db: Db, actor: Me) -> dict[str, Any]:
    return ws.create_role(db, actor, body.name, body.settings, body.members_manage_own)


@router.get("/roles/{role_id}")
def get_role(role_id: str, db: Db, actor: Me) -> dict[str, Any]:
    row = ws.get_role_row(db, actor.workspace_id, role_id)
    return ws.role_json(row, ws.get_workspace(db, actor).default_role_id)


@router.patch("/roles/{role_id}")
def patch_role(role_id: str, body: dict[str, Any], db: Db, actor: Me) -> dict[str, Any]:
    return ws.update_role(db, actor, role_id, body)


@router.delete("/roles/{role_id}", status_code=204)
def delete_role(role_id: str, db: Db, actor: Me) -> None:
    ws.delete_role(db, actor, role_id)


@router.get("/exclusions")
def list_exclusions(db: Db, actor: Me) -> list[dict[str, str]]:
    return ws.list_exclusions(db, actor)


@router.post("/exclusions", status_code=201)
def add_exclusion(body: ExclusionIn, db: Db, actor: Me) -> dict[str, str]:
    return ws.add_exclusion(db, actor, body.kind, body.value)


@router.delete("/exclusions/{exclusion_id}", status_code=204)
def delete_exclusion(exclusion_id: str, db: Db, actor: Me) -> None:
    ws.delete_exclusion(db, actor, exclusion_id)

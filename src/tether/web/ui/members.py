"""Members & Roles: members with their role and connection; invitations (adding a member is
inviting them); roles, and each role's Salesforce tab (every setting of the guide's Roles
section) with its last 7 days of sync."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from tether.services import activity_log, roles
from tether.services import workspaces as ws
from tether.services.errors import ServiceError
from tether.web.ui.common import AdminPage, Page, redirect
from tether.web.ui.settings_form import form_context, settings_from_form

router = APIRouter(prefix="/app")


def _members(page: Page) -> dict[str, Any]:
    with page.app.sessions() as db:
        members = ws.list_members(db, page.actor)
        workspace = ws.workspace_json(ws.get_workspace(db, page.actor))
        return {"members": members, "roles": ws.list_roles(db, page.actor),
                "invitations": ws.list_invitations(db, page.actor), "workspace": workspace,
                "in_roles": roles.member_counts(members, workspace["default_role_id"])}


@router.get("/members", response_class=HTMLResponse)
def members(page: AdminPage) -> HTMLResponse:
    return page.render("members.html", **_members(page))


@router.post("/members", response_class=HTMLResponse)
def invite_member(page: AdminPage, email: Annotated[str, Form()] = "",
                  role_id: Annotated[str, Form()] = "",
                  access: Annotated[str, Form()] = "member") -> Response:
    """Adding a member is inviting them: the link is on this answer only (its hash is what is
    stored), for the admin to hand over; the invitee chooses their own password."""
    try:
        with page.app.sessions() as db:
            row, token = ws.invite_member(db, page.actor, email=email, access=access,
                                          role_id=role_id or None)
            created = ws.new_invitation_json(row, token, page.app.settings.base_url)
            db.commit()
    except ServiceError as exc:
        return page.error("members.html", exc, **_members(page), typed_email=email)
    return page.render("members.html", **_members(page), new_invitation=created)


@router.post("/invitations/{invitation_id}/revoke", response_class=HTMLResponse)
def revoke_invitation(page: AdminPage, invitation_id: str) -> Response:
    return page.act(lambda db: ws.revoke_invitation(db, page.actor, invitation_id),
                    done="/app/members", notice="invitation_revoked", template="members.html",
                    context=_members)


@router.post("/members/{membership_id}", response_class=HTMLResponse)
def save_member(page: AdminPage, membership_id: str, role_id: Annotated[str, Form()] = "",
                access: Annotated[str, Form()] = "member") -> Response:
    return page.act(lambda db: ws.update_member(db, page.actor, membership_id, {
        "role_id": role_id or None, "access": access}), done="/app/members",
        notice="member_saved", template="members.html", context=_members)


@router.post("/roles", response_class=HTMLResponse)
def create_role(page: AdminPage, name: Annotated[str, Form()] = "") -> Response:
    try:
        with page.app.sessions() as db:
            role = ws.create_role(db, page.actor, name)
            db.commit()
    except ServiceError as exc:
        return page.error("members.html", exc, **_members(page))
    return redirect(f"/app/roles/{role['id']}", "role_created")


def _role(page: Page, role_id: str) -> dict[str, Any]:
    with page.app.sessions() as db:
        row = ws.get_role_row(db, page.actor.workspace_id, role_id)
        default_role_id = ws.get_workspace(db, page.actor).default_role_id
        role = ws.role_json(row, default_role_id)
        summary = activity_log.role_summary(db, page.actor, role_id)
        in_role = roles.members_in(ws.list_members(db, page.actor), role_id, default_role_id)
        return {"role": role, "summary": summary, "in_role": in_role,
                **form_context(db, page.actor)}


@router.get("/roles/{role_id}", response_class=HTMLResponse)
def role(page: AdminPage, role_id: str) -> HTMLResponse:
    return page.render("role.html", **_role(page, role_id))


@router.post("/roles/{role_id}", response_class=HTMLResponse)
def save_role(page: AdminPage, role_id: str) -> Response:
    form = page.form or FormData()
    context = _role(page, role_id)
    changes = {"name": str(form.get("name") or ""),
               "settings": settings_from_form(form, context["object_fields"]),
               "members_manage_own": form.get("members_manage_own") == "on",
               "is_default": form.get("is_default") == "on"}
    # Refused, the page shows what was typed, not what is stored.
    typed = {**context, "role": {**context["role"], **changes,
                                 "is_default": context["role"]["is_default"]}}
    return page.act(lambda db: ws.update_role(db, page.actor, role_id, changes),
                    done=f"/app/roles/{role_id}", notice="role_saved", template="role.html",
                    context=lambda _: typed)


@router.post("/roles/{role_id}/delete", response_class=HTMLResponse)
def delete_role(page: AdminPage, role_id: str) -> Response:
    return page.act(lambda db: ws.delete_role(db, page.actor, role_id), done="/app/members",
                    notice="role_deleted", template="role.html",
                    context=lambda p: _role(p, role_id))

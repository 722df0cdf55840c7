"""Integrations: the Salesforce connection (with "Use a Salesforce Sandbox"), the Sync User,
API keys, the real-time package token, "Get latest fields" and custom objects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from tether.salesforce.errors import SalesforceError
from tether.services import connection, custom_objects
from tether.services import sync as sync_service
from tether.services import workspaces as ws
from tether.services.errors import Invalid, ServiceError
from tether.web.ui.common import AdminPage, Page, PageOf, redirect

router = APIRouter(prefix="/app/integrations")


def _context(page: Page) -> dict[str, Any]:
    with page.app.sessions() as db:
        workspace = ws.workspace_json(ws.get_workspace(db, page.actor))
        mine = connection.connection_json(connection.get_connection(db,
                                                                    page.actor.membership_id))
        members = ws.list_members(db, page.actor) if page.actor.is_admin else []
        keys = ws.list_api_keys(db, page.actor)
        objects = custom_objects.list_objects(db, page.actor)
    return {"workspace": workspace, "mine": mine, "members": members, "keys": keys,
            "objects": objects, "base_url": page.app.settings.base_url}


def _page_with(page: Page, **extra: Any) -> HTMLResponse:
    return page.render("integrations.html", **_context(page), **extra)


def _shown_once(page: Page, create: Callable[[Session], str], name: str) -> HTMLResponse:
    """A new secret, on this answer only: its hash is what is stored."""
    with page.app.sessions() as db:
        secret = create(db)
        db.commit()
    return _page_with(page, **{name: secret})


def _act(page: Page, change: Callable[[Session], object], notice: str) -> Response:
    return page.act(change, done="/app/integrations", notice=notice,
                    template="integrations.html", context=_context)


@router.get("", response_class=HTMLResponse)
def integrations(page: PageOf) -> HTMLResponse:
    return _page_with(page)


@router.post("/connect", response_class=HTMLResponse)
def connect(page: PageOf, sandbox: Annotated[str, Form()] = "") -> Response:
    """To Salesforce's login page; it sends the browser back to the OAuth callback."""
    try:
        with page.app.sessions() as db:
            url = connection.start_connect(db, page.app.vault, page.app.settings, page.actor,
                                           sandbox == "on")
            db.commit()
    except ServiceError as exc:
        return page.error("integrations.html", exc, **_context(page))
    return RedirectResponse(url, status_code=303)


@router.post("/disconnect", response_class=HTMLResponse)
async def disconnect(page: PageOf) -> Response:
    try:
        await connection.disconnect(page.app.sessions, page.app.vault, page.app.settings,
                                    page.actor)
    except ServiceError as exc:
        return page.error("integrations.html", exc, **_context(page))
    except SalesforceError as exc:
        return page.error("integrations.html", Invalid(
            f"Salesforce answered {exc.error_code}: {exc.message}"), **_context(page))
    return redirect("/app/integrations", "disconnected")


@router.post("/sync-user", response_class=HTMLResponse)
def sync_user(page: AdminPage, membership_id: Annotated[str, Form()] = "") -> Response:
    return _act(page, lambda db: connection.set_sync_user(db, page.actor, membership_id),
                "sync_user_set")


@router.post("/unconnected", response_class=HTMLResponse)
def unconnected(page: AdminPage, unconnected_activity: Annotated[str, Form()] = "wait",
                unconnected_pending_days: Annotated[str, Form()] = "30") -> Response:
    """What happens to the activity of members not connected yet (the API's workspace
    settings of the same names)."""
    def change(db: Session) -> object:
        try:
            days = int(unconnected_pending_days)
        except ValueError:
            raise Invalid("the days must be a whole number from 1 to 365",
                          "unconnected_pending_days") from None
        return ws.update_workspace(db, page.actor, {
            "unconnected_activity": unconnected_activity, "unconnected_pending_days": days})
    return _act(page, change, "unconnected_set")


@router.post("/api-keys", response_class=HTMLResponse)
def create_key(page: PageOf) -> HTMLResponse:
    return _shown_once(page, lambda db: ws.create_api_key(db, page.actor), "new_key")


@router.post("/api-keys/{key_id}/revoke", response_class=HTMLResponse)
def revoke_key(page: PageOf, key_id: str) -> Response:
    return _act(page, lambda db: ws.revoke_api_key(db, page.actor, key_id), "key_revoked")


@router.post("/realtime-token", response_class=HTMLResponse)
def create_token(page: AdminPage) -> HTMLResponse:
    return _shown_once(page, lambda db: ws.create_realtime_token(db, page.actor), "new_token")


@router.post("/realtime-token/revoke", response_class=HTMLResponse)
def revoke_token(page: AdminPage) -> Response:
    return _act(page, lambda db: ws.revoke_realtime_token(db, page.actor), "token_revoked")


@router.post("/fields", response_class=HTMLResponse)
def latest_fields(page: AdminPage) -> Response:
    """'Get latest fields': a fields sync, run by the worker."""
    answer = _act(page, lambda db: sync_service.enqueue_sync(db, page.actor.workspace_id,
                                                             "fields"), "fields_queued")
    page.app.nudge_worker()
    return answer


@router.post("/custom-objects", response_class=HTMLResponse)
async def add_object(page: AdminPage, sobject: Annotated[str, Form()] = "",
                     relationship_fields: Annotated[str, Form()] = "") -> Response:
    fields = [f.strip() for f in relationship_fields.replace(",", " ").split() if f.strip()]
    try:
        await custom_objects.add_object(page.app.sessions, page.app.vault, page.app.settings,
                                        page.actor, sobject.strip(), fields)
    except ServiceError as exc:
        return page.error("integrations.html", exc, **_context(page))
    except SalesforceError as exc:
        return page.error("integrations.html", Invalid(
            f"Salesforce answered {exc.error_code}: {exc.message}", "sobject"), **_context(page))
    return redirect("/app/integrations", "object_added")


@router.post("/custom-objects/{sobject}/remove", response_class=HTMLResponse)
def remove_object(page: AdminPage, sobject: str) -> Response:
    return _act(page, lambda db: custom_objects.remove_object(db, page.actor, sobject),
                "object_removed")

"""CRM & Live Feed: a rep's own Salesforce settings when the role allows it, otherwise the
role's, read-only, with the guide's "reach out to your administrator" (for an admin, a link
to the role's page, where they change them); and exclusions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from tether.services import roles
from tether.services import workspaces as ws
from tether.web.ui.common import AdminPage, Page, PageOf
from tether.web.ui.settings_form import form_context, settings_from_form

router = APIRouter(prefix="/app/settings")


def _context(page: Page) -> dict[str, Any]:
    with page.app.sessions() as db:
        eff = ws.effective_json(ws.effective_for(db, page.actor.workspace_id,
                                                 page.actor.membership_id))
        # An admin changes a role's settings themselves: the page links their role's page.
        role_id = roles.role_id_of(db, page.actor.workspace_id, page.actor.membership_id) \
            if page.actor.is_admin else None
        return {"eff": eff, "exclusions": ws.list_exclusions(db, page.actor),
                "role_page": f"/app/roles/{role_id}" if role_id else None,
                **form_context(db, page.actor)}


@router.get("", response_class=HTMLResponse)
def settings(page: PageOf) -> HTMLResponse:
    return page.render("settings.html", **_context(page))


@router.post("", response_class=HTMLResponse)
def save(page: PageOf) -> Response:
    context = _context(page)
    chosen = settings_from_form(page.form or FormData(), context["object_fields"])
    # Refused, the page shows what was chosen, not what is stored.
    typed = {**context, "eff": {**context["eff"],
                                "settings": {**context["eff"]["settings"], **chosen}}}
    return page.act(lambda db: ws.save_own_settings(db, page.actor, chosen),
                    done="/app/settings", notice="settings_saved", template="settings.html",
                    context=lambda _: typed)


@router.post("/exclusions", response_class=HTMLResponse)
def add_exclusion(page: AdminPage, kind: Annotated[str, Form()] = "domain",
                  value: Annotated[str, Form()] = "") -> Response:
    return page.act(lambda db: ws.add_exclusion(db, page.actor, kind, value),
                    done="/app/settings", notice="exclusion_added", template="settings.html",
                    context=_context)


@router.post("/exclusions/{exclusion_id}/delete", response_class=HTMLResponse)
def delete_exclusion(page: AdminPage, exclusion_id: str) -> Response:
    return page.act(lambda db: ws.delete_exclusion(db, page.actor, exclusion_id),
                    done="/app/settings", notice="exclusion_removed", template="settings.html",
                    context=_context)

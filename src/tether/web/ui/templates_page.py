"""Templates: the workspace's and the member's own email templates (list, new, edit, delete),
and a preview for a recipient.  The preview's body is the template's HTML: it is shown in a
sandboxed frame (``srcdoc``, no scripts, an origin of its own), never in Tether's page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response

from tether.services import templates as service
from tether.services.errors import ServiceError
from tether.web.ui.common import Page, PageOf, redirect

router = APIRouter(prefix="/app/templates")
LIST, ONE = "email_templates.html", "email_template.html"
Text = Annotated[str, Form()]


def _list(page: Page) -> dict[str, Any]:
    with page.app.sessions() as db:
        return {"items": service.list_templates(db, page.actor), "limits": service.LIMITS}


def _one(page: Page, template_id: str, to: str = "") -> dict[str, Any]:
    with page.app.sessions() as db:
        item = service.get_template(db, page.actor, template_id)
        context: dict[str, Any] = {"t": item, "typed": item, "to": to,
                                   "editable": service.can_edit(page.actor, item),
                                   "limits": service.LIMITS}
        if to.strip():
            try:
                context["preview"] = service.render(db, page.actor, template_id, to)
            except ServiceError as exc:
                context["preview_error"] = exc.message
        return context


@router.get("", response_class=HTMLResponse)
def list_page(page: PageOf) -> HTMLResponse:
    return page.render(LIST, **_list(page), typed={})


@router.post("", response_class=HTMLResponse)
def create(page: PageOf, name: Text = "", subject: Text = "", body: Text = "",
           scope: Text = "personal") -> Response:
    typed = {"name": name, "subject": subject, "body": body, "scope": scope}
    try:
        with page.app.sessions() as db:
            made = service.create_template(db, page.actor, **typed)
            db.commit()
    except ServiceError as exc:
        return page.error(LIST, exc, **_list(page), typed=typed)
    return redirect(f"/app/templates/{made['id']}", "template_created")


@router.get("/{template_id}", response_class=HTMLResponse)
def template_page(page: PageOf, template_id: str, to: str = "") -> HTMLResponse:
    return page.render(ONE, **_one(page, template_id, to))


@router.post("/{template_id}", response_class=HTMLResponse)
def save(page: PageOf, template_id: str, name: Text = "", subject: Text = "",
         body: Text = "") -> Response:
    typed = {"name": name, "subject": subject, "body": body}
    return page.act(lambda db: service.update_template(db, page.actor, template_id, **typed),
                    done=f"/app/templates/{template_id}", notice="template_saved",
                    template=ONE, context=lambda p: {**_one(p, template_id), "typed": typed})


@router.post("/{template_id}/delete", response_class=HTMLResponse)
def delete(page: PageOf, template_id: str) -> Response:
    return page.act(lambda db: service.delete_template(db, page.actor, template_id),
                    done="/app/templates", notice="template_deleted", template=ONE,
                    context=lambda p: _one(p, template_id))

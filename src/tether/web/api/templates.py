"""JSON API v1: email templates (CONTRACTS: Templates), and rendering one for a recipient."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from tether.services import templates as service
from tether.web.deps import Db, Me
from tether.web.strict import StrictRoute

router = APIRouter(prefix="/api/v1", route_class=StrictRoute)


# Lengths and scopes are the service's checks (the dashboard's forms get the same answers).
class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    subject: str
    body: str  # HTML
    scope: str = "personal"  # personal | workspace (an admin's)


class TemplatePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    subject: str | None = None
    body: str | None = None
    scope: str | None = None


class RenderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str


@router.get("/templates")
def list_templates(db: Db, actor: Me) -> list[dict[str, Any]]:
    """The workspace's templates and the caller's own."""
    return service.list_templates(db, actor)


@router.post("/templates", status_code=201)
def create_template(body: TemplateIn, db: Db, actor: Me) -> dict[str, Any]:
    return service.create_template(db, actor, name=body.name, subject=body.subject,
                                   body=body.body, scope=body.scope)


@router.get("/templates/{template_id}")
def get_template(template_id: str, db: Db, actor: Me) -> dict[str, Any]:
    return service.get_template(db, actor, template_id)


@router.patch("/templates/{template_id}")
def update_template(template_id: str, body: TemplatePatch, db: Db, actor: Me
                    ) -> dict[str, Any]:
    return service.update_template(db, actor, template_id, name=body.name,
                                   subject=body.subject, body=body.body, scope=body.scope)


@router.delete("/templates/{template_id}", status_code=204)
def delete_template(template_id: str, db: Db, actor: Me) -> None:
    service.delete_template(db, actor, template_id)


@router.post("/templates/{template_id}/render")
def render_template(template_id: str, body: RenderIn, db: Db, actor: Me) -> dict[str, Any]:
    """The subject and body for one recipient, from the mirror (no Salesforce API call)."""
    return service.render(db, actor, template_id, body.to)

"""The dashboard: server-rendered pages (Jinja2 + htmx), signed in with a session cookie."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tether.services.errors import ServiceError
from tether.web.ui import (
    activity,
    auth,
    compose_page,
    integrations,
    mailbox_page,
    members,
    outbox_page,
    sequences_page,
    settings,
    sidebar,
    sidebar_tasks,
    tasks_page,
    templates_page,
    usage,
)
from tether.web.ui.common import HERE, SignInRequired, templates

ROUTERS: list[APIRouter] = [auth.router, activity.router, integrations.router,
                            members.router, settings.router, sidebar.router, templates_page.router,
                            usage.router, mailbox_page.router, compose_page.router,
                            outbox_page.router, sequences_page.router, tasks_page.router,
                            sidebar_tasks.router]
TITLES = {401: "Please sign in", 403: "Not allowed", 404: "Not found"}

__all__ = ["HERE", "ROUTERS", "SignInRequired", "error_page", "is_page"]


def is_page(request: Request) -> bool:
    path = request.url.path
    return path == "/app" or path.startswith(("/app/", "/login", "/logout"))


def error_page(request: Request, exc: ServiceError) -> HTMLResponse:
    return templates.TemplateResponse(request, "error.html", {
        "title": TITLES.get(exc.status, "That did not work"), "message": exc.message},
        status_code=exc.status)

"""What every dashboard page shares: templates, the sign-in cookie, CSRF, and the caller.

- The cookie holds a random session token (HttpOnly, SameSite=Lax, Secure over https); the
  database keeps its hash (services/accounts.py).
- Every POST carries a CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token`` for
  htmx), an HMAC of the session token under the install's secret: nothing more to store, and
  checked in constant time.  The sign-in form, before any session, uses a double-submit cookie.
- Permission checks are the services' own (the same as the JSON API's): a member reaching an
  admin page gets 403, never just a hidden button.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from tether.services import accounts
from tether.services.errors import Forbidden, ServiceError
from tether.services.workspaces import Actor
from tether.web.deps import AppState, state
from tether.web.ui import display

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters.update(when=display.when, sid=display.sid)
COOKIE = "tether_session"
LOGIN_CSRF_COOKIE = "tether_login_csrf"


class SignInRequired(Exception):
    """Answered with a redirect to the sign-in page (see app.py); for htmx, an HX-Redirect
    of the whole page, not a sign-in form swapped into a fragment."""

    def __init__(self, next_path: str, htmx: bool = False) -> None:
        self.next_path = next_path
        self.htmx = htmx


@dataclass
class Page:
    """The signed-in caller of a dashboard page, and what a template needs about them."""

    request: Request
    app: AppState
    actor: Actor
    token: str
    form: FormData | None = None  # a POST's fields (read once, for the CSRF check)
    workspace_name: str = ""
    workspace_count: int = 1  # the user's workspaces: more than one, and the header switches

    @property
    def csrf(self) -> str:
        return csrf_token(self.app.settings.effective_secret_key(), self.token)

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(self.request, template, {
            "me": self.actor, "csrf": self.csrf, "path": self.request.url.path,
            "workspace_name": self.workspace_name, "can_switch": self.workspace_count > 1,
            "notice": self.request.query_params.get("notice"), **context},
            status_code=status_code)

    def act(self, change: Callable[[Session], object], *, done: str, notice: str,
            template: str, context: Callable[[Page], dict[str, Any]]) -> Response:
        """A form's change in one transaction: then Post/Redirect/Get to ``done`` with the
        notice, or, refused, the page again with the refusal next to the form."""
        try:
            with self.app.sessions() as db:
                change(db)
                db.commit()
        except ServiceError as exc:
            return self.error(template, exc, **context(self))
        return redirect(done, notice)

    def error(self, template: str, exc: ServiceError, **context: Any) -> HTMLResponse:
        """The page again, with the refusal said next to the form (and the right status)."""
        return self.render(template, status_code=exc.status, error=exc.message,
                           error_field=exc.field, **context)


def csrf_token(secret_key: str, session_token: str) -> str:
    return hmac.new(secret_key.encode(), b"csrf:" + session_token.encode(),
                    hashlib.sha256).hexdigest()


def redirect(path: str, notice: str | None = None) -> RedirectResponse:
    """Post/Redirect/Get; ``notice`` is one of the fixed messages in base.html."""
    return RedirectResponse(f"{path}?notice={notice}" if notice else path, status_code=303)


def same_site(request: Request, default: Literal["lax", "strict"]
              ) -> Literal["lax", "strict", "none"]:
    """A cookie's SameSite: ``none`` when other sites may frame the sidebar (a browser sends
    no Lax or Strict cookie to a frame on another site) and the request is over https (None
    needs Secure); every form still carries its CSRF token."""
    framed = bool(request.app.state.tether.settings.frame_ancestors)
    return "none" if framed and request.url.scheme == "https" else default


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(COOKIE, token, max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
                        httponly=True, samesite=same_site(request, "lax"),
                        secure=request.url.scheme == "https", path="/")


def new_login_csrf() -> str:
    return secrets.token_urlsafe(32)


def _next_path(request: Request) -> str:
    """Where to come back after signing in: the page (with its filters) for a GET, the page
    htmx was polling from, and the dashboard for a form posted after the session ended."""
    if request.headers.get("hx-request"):
        current = urlsplit(request.headers.get("hx-current-url", ""))
        return f"{current.path}?{current.query}" if current.query else current.path or "/app"
    if request.method != "GET":
        return "/app"
    query = request.url.query
    return f"{request.url.path}?{query}" if query else request.url.path


async def _page(request: Request, app: Annotated[AppState, Depends(state)]) -> Page:
    token = request.cookies.get(COOKIE, "")
    found = None
    if token:
        # In a thread: a database call on the event loop would stall every request.
        found = await run_in_threadpool(_signed_in, app, token)
    if found is None:
        raise SignInRequired(_next_path(request), htmx=bool(request.headers.get("hx-request")))
    page = Page(request, app, found.actor, token, workspace_name=found.workspace_name,
                workspace_count=found.workspace_count)
    if request.method == "POST":
        page.form = await request.form()
        presented = str(page.form.get("csrf_token") or request.headers.get("x-csrf-token")
                        or "")
        if not hmac.compare_digest(presented.encode(), page.csrf.encode()):
            raise Forbidden("this form has expired or did not come from Tether (CSRF check "
                            "failed): reload the page and try again")
    return page


def _signed_in(app: AppState, token: str) -> accounts.SignedIn | None:
    with app.sessions() as db:
        return accounts.signed_in(db, token)


async def _admin_page(page: Annotated[Page, Depends(_page)]) -> Page:
    page.actor.require_admin()
    return page


PageOf = Annotated[Page, Depends(_page)]
AdminPage = Annotated[Page, Depends(_admin_page)]

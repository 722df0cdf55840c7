"""Signing in and out, choosing and switching the workspace, accepting an invitation, and the
account page (password change)."""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tether.services import accounts
from tether.services.errors import Gone, NotFound, ServiceError
from tether.web.deps import AppState, state
from tether.web.throttle import Guesses, client_of, wrong_password
from tether.web.ui.common import (
    COOKIE,
    LOGIN_CSRF_COOKIE,
    PageOf,
    new_login_csrf,
    redirect,
    same_site,
    set_session_cookie,
    templates,
)

router = APIRouter()
App = Annotated[AppState, Depends(state)]


def _safe_next(value: str) -> str:
    """Only a page of this dashboard (no scheme, no host): nobody is sent elsewhere after
    sign-in."""
    ok = (value == "/app" or value.startswith(("/app/", "/app?"))) and not any(
        bad in value for bad in ("//", "\\"))
    return value if ok else "/app"


def _sentence(exc: ServiceError) -> str:
    return exc.message[:1].upper() + exc.message[1:] + "."


def _before_session(request: Request, template: str, cookie_path: str, status_code: int,
                    context: dict[str, object]) -> HTMLResponse:
    """A form posted before any session (sign-in, an invitation): its CSRF token is a
    double-submit cookie, kept to the form's own path."""
    token = new_login_csrf()
    response = templates.TemplateResponse(request, template, {"login_csrf": token, **context},
                                          status_code=status_code)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True,
                        samesite=same_site(request, "strict"),
                        secure=request.url.scheme == "https", path=cookie_path)
    return response


def _csrf_cookie_matches(request: Request, presented: str) -> bool:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return bool(expected) and hmac.compare_digest(expected.encode(), presented.encode())


def _signed_in_response(request: Request, target: str, token: str, cookie_path: str
                        ) -> Response:
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=cookie_path)
    return response


def _login_page(request: Request, status_code: int = 200, next_path: str | None = None,
                **context: object) -> HTMLResponse:
    return _before_session(request, "login.html", "/login", status_code, {
        "next": _safe_next(next_path or request.query_params.get("next", "")), **context})


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return _login_page(request, signed_out=request.query_params.get("signed_out") == "1")


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, app: App, guesses: Guesses, email: Annotated[str, Form()] = "",
          password: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "",
          next: Annotated[str, Form()] = "/app") -> Response:
    if not _csrf_cookie_matches(request, csrf_token):
        return _login_page(request, 403, next, error="This sign-in form has expired; please "
                           "try again.", email=email)
    client = client_of(request)
    if (refusal := guesses.refusal(email, client)) is not None:
        page = _login_page(request, 429, next, error=refusal.sign_in_message, email=email)
        page.headers.update(refusal.headers)
        return page
    try:
        with app.sessions() as db:
            token, actor = accounts.sign_in(db, email, password)
            choices = len(accounts.workspaces_of(db, actor.user_id))
            db.commit()
    except ServiceError as exc:
        if wrong_password(exc):
            guesses.failed(email, client)
        return _login_page(request, exc.status, next, error=_sentence(exc),
                           email=email)
    guesses.succeeded(email, client)
    target = _safe_next(next)
    if choices > 1:  # a user of several workspaces chooses one first
        target = f"/app/workspaces?next={quote(target, safe='')}"
    return _signed_in_response(request, target, token, "/login")


@router.post("/logout")
def logout(page: PageOf) -> Response:
    with page.app.sessions() as db:
        accounts.sign_out(db, page.token)
        db.commit()
    response = RedirectResponse("/login?signed_out=1", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/app", response_class=HTMLResponse)
def home(page: PageOf) -> Response:
    return redirect("/app/activity")


@router.get("/app/workspaces", response_class=HTMLResponse)
def workspaces(page: PageOf) -> HTMLResponse:
    with page.app.sessions() as db:
        choices = accounts.workspaces_of(db, page.actor.user_id)
    return page.render("workspaces.html", workspaces=choices,
                       next=_safe_next(page.request.query_params.get("next", "")))


@router.post("/app/workspaces/{membership_id}")
def switch_workspace(page: PageOf, membership_id: str,
                     next: Annotated[str, Form()] = "/app") -> Response:
    """The session moves to another of the user's workspaces (refused, 404, for one they do
    not belong to)."""
    with page.app.sessions() as db:
        token = accounts.switch_workspace(db, page.token, membership_id)
        db.commit()
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(page.request, response, token)
    return response


# -- invitations: the link an admin hands to the invitee --------------------------------------
def _invite_page(request: Request, token: str, status_code: int = 200, **context: object
                 ) -> HTMLResponse:
    return _before_session(request, "invite.html", "/invite", status_code,
                           {"token": token, **context})


@router.get("/invite/{token}", response_class=HTMLResponse)
def invitation(request: Request, app: App, token: str) -> HTMLResponse:
    try:
        with app.sessions() as db:
            view = accounts.open_invitation(db, token)
    except ServiceError as exc:
        return _invite_page(request, token, exc.status, error=_sentence(exc))
    return _invite_page(request, token, invitation=view)


@router.post("/invite/{token}", response_class=HTMLResponse)
def accept_invitation(request: Request, app: App, guesses: Guesses, token: str,
                      password: Annotated[str, Form()] = "", name: Annotated[str, Form()] = "",
                      csrf_token: Annotated[str, Form()] = "") -> Response:
    try:
        with app.sessions() as db:
            view = accounts.open_invitation(db, token)
    except ServiceError as exc:
        return _invite_page(request, token, exc.status, error=_sentence(exc))
    if not _csrf_cookie_matches(request, csrf_token):
        return _invite_page(request, token, 403, invitation=view, name=name,
                            error="This form has expired; please try again.")
    # An existing account's password is asked for here too: guesses count as at sign-in.
    client = client_of(request)
    if (refusal := guesses.refusal(view.email, client)) is not None:
        page = _invite_page(request, token, 429, invitation=view, name=name,
                            error=refusal.password_message)
        page.headers.update(refusal.headers)
        return page
    try:
        with app.sessions() as db:
            session, _ = accounts.accept_invitation(db, token, password=password, name=name)
            old = request.cookies.get(COOKIE)
            if old:  # this browser's earlier session is replaced: end it
                accounts.sign_out(db, old)
            db.commit()
    except ServiceError as exc:
        if wrong_password(exc):
            guesses.failed(view.email, client)
        still_open = not isinstance(exc, Gone | NotFound)  # else no form to show again
        return _invite_page(request, token, exc.status, invitation=view if still_open else None,
                            name=name, error=_sentence(exc), error_field=exc.field)
    guesses.succeeded(view.email, client)
    return _signed_in_response(request, "/app/activity?notice=joined", session, "/invite")


@router.get("/app/account", response_class=HTMLResponse)
def account(page: PageOf) -> HTMLResponse:
    return page.render("account.html")


@router.post("/app/account/password", response_class=HTMLResponse)
def change_password(page: PageOf, guesses: Guesses,
                    current_password: Annotated[str, Form()] = "",
                    new_password: Annotated[str, Form()] = "") -> Response:
    client, email = client_of(page.request), page.actor.email
    if (refusal := guesses.refusal(email, client)) is not None:
        response = page.render("account.html", 429, error=refusal.password_message,
                               error_field="current_password")
        response.headers.update(refusal.headers)
        return response
    try:
        with page.app.sessions() as db:
            accounts.change_password(db, page.actor, current_password, new_password,
                                     page.token)
            db.commit()
    except ServiceError as exc:
        if wrong_password(exc):
            guesses.failed(email, client)
        return page.error("account.html", exc)
    guesses.succeeded(email, client)
    return redirect("/app/account", "password_changed")

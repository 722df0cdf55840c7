"""Signing in and out, and the account page (password change)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tether.services import accounts
from tether.services.errors import ServiceError
from tether.web.deps import AppState, state
from tether.web.throttle import Guesses, client_of, wrong_password
from tether.web.ui.common import (
    COOKIE,
    LOGIN_CSRF_COOKIE,
    PageOf,
    new_login_csrf,
    redirect,
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


def _login_page(request: Request, status_code: int = 200, next_path: str | None = None,
                **context: object) -> HTMLResponse:
    token = new_login_csrf()
    response = templates.TemplateResponse(request, "login.html", {
        "login_csrf": token,
        "next": _safe_next(next_path or request.query_params.get("next", "")),
        **context}, status_code=status_code)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/login")
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return _login_page(request, signed_out=request.query_params.get("signed_out") == "1")


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, app: App, guesses: Guesses, email: Annotated[str, Form()] = "",
          password: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "",
          next: Annotated[str, Form()] = "/app") -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
        return _login_page(request, 403, next, error="This sign-in form has expired; please "
                           "try again.", email=email)
    client = client_of(request)
    if (refusal := guesses.refusal(email, client)) is not None:
        page = _login_page(request, 429, next, error=refusal.sign_in_message, email=email)
        page.headers.update(refusal.headers)
        return page
    try:
        with app.sessions() as db:
            token, _ = accounts.sign_in(db, email, password)
            db.commit()
    except ServiceError as exc:
        if wrong_password(exc):
            guesses.failed(email, client)
        return _login_page(request, exc.status, next, error=exc.message.capitalize() + ".",
                           email=email)
    guesses.succeeded(email, client)
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(request, response, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


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

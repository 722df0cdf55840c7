"""OAuth 2.0 with Salesforce: the web-server flow (state + PKCE), refresh, password, revoke,
and the identity URL.

Each function makes one call and raises :class:`SalesforceError` on failure (``invalid_grant``
is AUTH and not retryable); retries and refresh-on-401 belong to the client.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from tether.salesforce.datetimes import from_epoch_ms
from tether.salesforce.errors import SalesforceError, parse_error, transport_error

PRODUCTION_LOGIN_URL = "https://login.salesforce.com"
SANDBOX_LOGIN_URL = "https://test.salesforce.com"


@dataclass(frozen=True)
class OAuthApp:
    """A connected app.  ``login_url`` is the default login host: production
    (``https://login.salesforce.com``), sandbox (``https://test.salesforce.com``), a My Domain,
    or an emulator's base (sfemu's sandbox host is ``<base>/test``)."""

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    login_url: str = PRODUCTION_LOGIN_URL


@dataclass(frozen=True)
class Credentials:
    """One user's connection to one org.  Tokens stay out of ``repr`` (and so out of logs)."""

    instance_url: str
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    identity_url: str
    issued_at: dt.datetime
    org_id: str
    user_id: str
    login_url: str  # the host the tokens came from, where they are refreshed and revoked


@dataclass(frozen=True)
class Identity:
    user_id: str
    org_id: str
    username: str
    email: str
    display_name: str | None = None
    is_sandbox: bool | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


def new_state() -> str:
    """An unguessable OAuth ``state`` to tie the callback to the browser that started it."""
    return secrets.token_urlsafe(32)


def new_pkce() -> tuple[str, str]:
    """(code_verifier, code_challenge) for PKCE with S256 (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)
    return verifier, pkce_challenge(verifier)


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def authorize_url(app: OAuthApp, redirect_uri: str, state: str, code_challenge: str, *,
                  login_url: str | None = None, scope: str | None = None,
                  prompt: str | None = None) -> str:
    """Where to send the user's browser to start the web-server flow."""
    params = {"response_type": "code", "client_id": app.client_id,
              "redirect_uri": redirect_uri, "state": state, "code_challenge": code_challenge,
              "code_challenge_method": "S256"}
    if scope:
        params["scope"] = scope
    if prompt:
        params["prompt"] = prompt
    return f"{_base(login_url or app.login_url)}/services/oauth2/authorize?{urlencode(params)}"


def _base(url: str) -> str:
    return url.rstrip("/")


def ids_from_identity_url(url: str) -> tuple[str, str]:
    """(org_id, user_id) from ``https://…/id/00D…/005…``."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    if len(parts) < 3 or parts[-3] != "id":
        raise ValueError(f"not an identity URL: {url}")
    return parts[-2], parts[-1]


def credentials_from_token(body: Mapping[str, Any], login_url: str,
                           refresh_token: str | None = None) -> Credentials:
    """Credentials from a token answer.  A refresh answer carries no refresh token: the one
    used is kept."""
    identity_url = str(body["id"])
    org_id, user_id = ids_from_identity_url(identity_url)
    issued = body.get("issued_at")
    return Credentials(
        instance_url=str(body["instance_url"]).rstrip("/"),
        access_token=str(body["access_token"]),
        refresh_token=str(body["refresh_token"]) if body.get("refresh_token") else refresh_token,
        identity_url=identity_url,
        issued_at=from_epoch_ms(str(issued)) if issued else dt.datetime.now(dt.UTC),
        org_id=org_id, user_id=user_id, login_url=_base(login_url))


async def _post_form(http: httpx.AsyncClient, url: str, form: dict[str, str]) -> httpx.Response:
    try:
        response = await http.post(url, data=form, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        # A token request changes nothing the caller could lose by asking again.
        raise transport_error(exc, sent=False) from exc
    if response.status_code >= 400:
        raise parse_error(response)
    return response


async def _token(http: httpx.AsyncClient, app: OAuthApp, login_url: str,
                 form: dict[str, str], refresh_token: str | None = None) -> Credentials:
    form = {**form, "client_id": app.client_id}
    if app.client_secret is not None:
        form["client_secret"] = app.client_secret
    response = await _post_form(http, f"{_base(login_url)}/services/oauth2/token", form)
    try:
        return credentials_from_token(response.json(), login_url, refresh_token)
    except (ValueError, KeyError, TypeError) as exc:
        raise SalesforceError(response.status_code, "invalid_request",
                              f"unreadable token answer: {exc}") from exc


async def exchange_code(http: httpx.AsyncClient, app: OAuthApp, *, code: str,
                        redirect_uri: str, code_verifier: str | None = None,
                        login_url: str | None = None) -> Credentials:
    """The web-server flow's last step: the authorization code for tokens."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if code_verifier is not None:
        form["code_verifier"] = code_verifier
    return await _token(http, app, login_url or app.login_url, form)


async def refresh(http: httpx.AsyncClient, app: OAuthApp,
                  credentials: Credentials) -> Credentials:
    """New credentials from the refresh token (kept: Salesforce does not rotate it here)."""
    if not credentials.refresh_token:
        raise SalesforceError(401, "invalid_grant", "no refresh token to refresh the session")
    return await _token(http, app, credentials.login_url,
                        {"grant_type": "refresh_token",
                         "refresh_token": credentials.refresh_token},
                        refresh_token=credentials.refresh_token)


async def password_login(http: httpx.AsyncClient, app: OAuthApp, *, username: str,
                         password: str, login_url: str | None = None) -> Credentials:
    """The username-password flow (no refresh token): for scripts, tests and the demo."""
    return await _token(http, app, login_url or app.login_url,
                        {"grant_type": "password", "username": username, "password": password})


async def revoke(http: httpx.AsyncClient, token: str, *, login_url: str) -> bool:
    """Revoke a refresh token (and the access tokens issued from it) or an access token.
    False when Salesforce no longer knew the token, which is what the caller wanted anyway."""
    try:
        await _post_form(http, f"{_base(login_url)}/services/oauth2/revoke", {"token": token})
    except SalesforceError as exc:
        if exc.error_code in ("unsupported_token_type", "invalid_token"):
            return False
        raise
    return True


def parse_identity(body: Mapping[str, Any]) -> Identity:
    return Identity(user_id=str(body["user_id"]), org_id=str(body["organization_id"]),
                    username=str(body["username"]), email=str(body.get("email") or ""),
                    display_name=body.get("display_name"), is_sandbox=body.get("is_sandbox"),
                    raw=dict(body))


async def identity(http: httpx.AsyncClient, credentials: Credentials) -> Identity:
    """Who the tokens belong to (no refresh here: see ``SalesforceClient.identity``)."""
    try:
        response = await http.get(credentials.identity_url, headers={
            "Authorization": f"Bearer {credentials.access_token}",
            "Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise transport_error(exc, sent=False) from exc
    if response.status_code >= 400:
        raise parse_error(response)
    return parse_identity(response.json())

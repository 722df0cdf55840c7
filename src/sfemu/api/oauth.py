"""OAuth 2.0 as Salesforce does it: web-server flow with a login page, token, revoke, identity.

Both login hosts live on one server: production at the root, sandbox under ``/test``.  A user
of a sandbox org on the production host (or the reverse) fails as on Salesforce.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from sfemu.core import Emulator, Session, hash_secret
from sfemu.errors import ApiError

CONNECTED_APPS = {"tether": "tether-secret"}
CODE_TTL = 15 * 60.0
_LOCAL_REDIRECT = re.compile(r"^http://(127\.0\.0\.1|localhost)(:\d+)?(/.*)?$")


def oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def login_base(origin: str, sandbox_host: bool) -> str:
    """The login host: production (login.salesforce.com) at the root, sandbox
    (test.salesforce.com) under ``/test``."""
    return origin + ("/test" if sandbox_host else "")


def identity_url(origin: str, org_id: str, user_id: str, sandbox_host: bool) -> str:
    """The identity URL, on the login host (as Salesforce builds it)."""
    return f"{login_base(origin, sandbox_host)}/id/{org_id}/{user_id}"


def redirect_allowed(uri: str) -> bool:
    return bool(_LOCAL_REDIRECT.match(uri))


def _org_matches_host(emu: Emulator, org_id: str, sandbox_host: bool) -> bool:
    return emu.org(org_id).is_sandbox == sandbox_host


def _login_page(params: dict[str, str], error: str = "", status: int = 200) -> HTMLResponse:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items() if k not in ("username", "password"))
    message = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Login | Salesforce (sfemu)</title>
<style>body{{font-family:sans-serif;background:#f3f3f3}}main{{max-width:22rem;margin:4rem auto;
background:#fff;padding:2rem;border-radius:.5rem}}label{{display:block;margin-top:1rem}}
input[type=text],input[type=password]{{width:100%;padding:.5rem}}.error{{color:#b00}}
button{{margin-top:1.5rem;width:100%;padding:.6rem;background:#0070d2;color:#fff;border:0}}
</style></head><body><main><h1>sfemu</h1>{message}
<form method="post" id="login_form">{hidden}
<label for="username">Username</label>
<input type="text" id="username" name="username" autocomplete="username" value="{html.escape(
        params.get("username", ""))}">
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password">
<button type="submit" id="Login" name="Login">Log In</button>
</form></main></body></html>"""
    return HTMLResponse(body, status_code=status)


def _error_page(message: str) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><title>Error</title><h1>error</h1><p>"
                        f"{html.escape(message)}</p>", status_code=400)


def _redirect_error(redirect_uri: str, error: str, description: str, state: str) -> Response:
    query = {"error": error, "error_description": description}
    if state:
        query["state"] = state
    return RedirectResponse(f"{redirect_uri}?{urlencode(query)}", status_code=302)


async def authorize(request: Request, emu: Emulator, sandbox_host: bool) -> Response:
    params: dict[str, str] = dict(request.query_params)
    if request.method == "POST":
        form = await request.form()
        params.update({k: str(v) for k, v in form.items()})
    client_id = params.get("client_id", "")
    redirect_uri = params.get("redirect_uri", "")
    state = params.get("state", "")
    if client_id not in CONNECTED_APPS:
        return _error_page("invalid_client_id: client identifier invalid")
    if not redirect_allowed(redirect_uri):
        return _error_page("redirect_uri_mismatch: redirect_uri must match configuration")
    if params.get("response_type") != "code":
        return _redirect_error(redirect_uri, "unsupported_response_type",
                               "response type not supported", state)
    method = params.get("code_challenge_method", "S256" if params.get("code_challenge") else "")
    if params.get("code_challenge") and method != "S256":
        return _redirect_error(redirect_uri, "invalid_request",
                               "code_challenge_method must be S256", state)
    if request.method != "POST":
        return _login_page(params)
    found = emu.authenticate(params.get("username", ""), params.get("password", ""))
    if found is None or not _org_matches_host(emu, found[0].id, sandbox_host):
        return _login_page(params, "Please check your username and password. If you still "
                           "can't log in, contact your Salesforce administrator.")
    org, user_id = found
    code = emu.issue_token(org, user_id, "code", ttl=CODE_TTL, data={
        "client_id": client_id, "redirect_uri": redirect_uri,
        "code_challenge": params.get("code_challenge", ""), "sandbox": sandbox_host})
    query = {"code": code}
    if state:
        query["state"] = state
    return RedirectResponse(f"{redirect_uri}?{urlencode(query)}", status_code=302)


def _token_response(request: Request, emu: Emulator, sandbox_host: bool, org_id: str,
                    user_id: str, client_id: str, refresh: str | None,
                    refresh_hash: str | None = None) -> JSONResponse:
    """Issue an access token; one issued from a refresh token dies when that one is revoked.
    Its ``id`` names the login host the token was asked of."""
    org = emu.org(org_id)
    if refresh:
        refresh_hash = hash_secret(refresh)
    data = {"refresh_hash": refresh_hash} if refresh_hash else {}
    access = emu.issue_token(org, user_id, "access", ttl=emu.token_ttl, data=data)
    issued_at = str(int(emu.clock() * 1000))
    identity = identity_url(base_url(request), org.id, user_id, sandbox_host)
    signature = base64.b64encode(hmac.new(CONNECTED_APPS[client_id].encode(),
                                          (identity + issued_at).encode(),
                                          hashlib.sha256).digest()).decode()
    body: dict[str, Any] = {"access_token": access, "signature": signature,
                            "scope": "refresh_token api id", "instance_url": base_url(request),
                            "id": identity, "token_type": "Bearer", "issued_at": issued_at}
    if refresh:
        body["refresh_token"] = refresh
    return JSONResponse(body)


async def token(request: Request, emu: Emulator, sandbox_host: bool) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    grant = form.get("grant_type", "")
    client_id = form.get("client_id", "")
    if client_id not in CONNECTED_APPS:
        return oauth_error("invalid_client_id", "client identifier invalid")
    secret = form.get("client_secret")
    if secret is not None and not hmac.compare_digest(secret, CONNECTED_APPS[client_id]):
        return oauth_error("invalid_client", "invalid client credentials")
    if grant == "authorization_code":
        record = emu.token_record(form.get("code", ""), "code")
        if record is None:
            return oauth_error("invalid_grant", "expired authorization code")
        emu.revoke_token(form.get("code", ""))  # codes are single-use
        data = record["data"]
        if data["client_id"] != client_id or data["redirect_uri"] != form.get("redirect_uri"):
            return oauth_error("invalid_grant", "redirect_uri must match configuration")
        if data["sandbox"] != sandbox_host:
            return oauth_error("invalid_grant", "authentication failure")
        if data["code_challenge"]:
            verifier = form.get("code_verifier", "")
            digest = base64.urlsafe_b64encode(
                hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
            if not verifier or not hmac.compare_digest(digest, data["code_challenge"]):
                return oauth_error("invalid_grant", "invalid code verifier")
        elif secret is None:
            return oauth_error("invalid_client", "invalid client credentials")
        org = emu.org(record["org_id"])
        refresh = emu.issue_token(org, record["user_id"], "refresh")
        return _token_response(request, emu, sandbox_host, record["org_id"], record["user_id"],
                               client_id, refresh)
    if grant == "refresh_token":
        record = emu.token_record(form.get("refresh_token", ""), "refresh")
        if record is None:
            return oauth_error("invalid_grant", "expired access/refresh token")
        if not _org_matches_host(emu, record["org_id"], sandbox_host):
            return oauth_error("invalid_grant", "authentication failure")
        return _token_response(request, emu, sandbox_host, record["org_id"], record["user_id"],
                               client_id, None, record["token_hash"])
    if grant == "password":
        if secret is None:
            return oauth_error("invalid_client", "invalid client credentials")
        found = emu.authenticate(form.get("username", ""), form.get("password", ""))
        if found is None or not _org_matches_host(emu, found[0].id, sandbox_host):
            return oauth_error("invalid_grant", "authentication failure")
        return _token_response(request, emu, sandbox_host, found[0].id, found[1], client_id,
                               None)
    return oauth_error("unsupported_grant_type", "grant type not supported")


async def revoke(request: Request, emu: Emulator) -> Response:
    params = dict(request.query_params)
    if request.method == "POST":
        params.update({k: str(v) for k, v in (await request.form()).items()})
    if not emu.revoke_token(params.get("token", "")):
        return oauth_error("unsupported_token_type", "this token type is not supported")
    return Response(status_code=200)


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "oauth") and value.strip():
        return value.strip()
    return ""


def _session(request: Request, emu: Emulator) -> Session:
    """The identity URL and userinfo take the token as a bearer header or, as jsforce sends
    it, an ``oauth_token`` query parameter."""
    return emu.session_from_bearer(bearer(request) or request.query_params.get("oauth_token", ""))


def _identity(request: Request, emu: Emulator, session: Session,
              sandbox_host: bool) -> dict[str, Any]:
    user = emu.user(session.org, session.user_id)
    base = base_url(request)
    org_id, uid = session.org.id, session.user_id
    v = "59.0"
    return {
        "id": identity_url(base, org_id, uid, sandbox_host), "asserted_user": True,
        "user_id": uid,
        "organization_id": org_id, "username": user["Username"],
        "nick_name": user["Alias"], "display_name": user["Name"], "email": user["Email"],
        "email_verified": True, "first_name": user.get("FirstName"),
        "last_name": user["LastName"], "timezone": user["TimeZoneSidKey"], "photos": {},
        "addr_street": None, "addr_city": None, "addr_state": None, "addr_country": None,
        "addr_zip": None, "mobile_phone": None, "mobile_phone_verified": False,
        "is_lightning_login_user": False, "status": {"created_date": None, "body": None},
        "urls": {"enterprise": f"{base}/services/Soap/c/{{version}}/{org_id[:15]}",
                 "metadata": f"{base}/services/Soap/m/{{version}}/{org_id[:15]}",
                 "partner": f"{base}/services/Soap/u/{{version}}/{org_id[:15]}",
                 "rest": f"{base}/services/data/v{{version}}/",
                 "sobjects": f"{base}/services/data/v{{version}}/sobjects/",
                 "search": f"{base}/services/data/v{{version}}/search/",
                 "query": f"{base}/services/data/v{{version}}/query/",
                 "recent": f"{base}/services/data/v{{version}}/recent/",
                 "profile": f"{base}/{uid}",
                 "users": f"{base}/services/data/v{{version}}/chatter/users",
                 "custom_domain": base},
        "active": bool(user.get("IsActive", True)), "user_type": "STANDARD",
        "language": "en_US", "locale": "en_US", "utcOffset": -28800000,
        "last_modified_date": user["LastModifiedDate"], "is_app_installed": True,
        "profile_name": session.profile.name, "is_sandbox": session.org.is_sandbox,
        "api_version": v,
    }


async def identity(request: Request, emu: Emulator, sandbox_host: bool) -> Response:
    try:
        session = _session(request, emu)
    except ApiError:
        return Response("Bad_OAuth_Token", status_code=403)
    if (request.path_params["org_id"][:15] != session.org.id[:15]
            or request.path_params["user_id"][:15] != session.user_id[:15]):
        return Response("Bad_Id", status_code=403)
    return JSONResponse(_identity(request, emu, session, sandbox_host))


async def userinfo(request: Request, emu: Emulator, sandbox_host: bool) -> Response:
    try:
        session = _session(request, emu)
    except ApiError:
        return Response("Bad_OAuth_Token", status_code=403)
    ident = _identity(request, emu, session, sandbox_host)
    user = emu.user(session.org, session.user_id)
    return JSONResponse({
        "sub": ident["id"], "user_id": session.user_id, "organization_id": session.org.id,
        "preferred_username": user["Username"], "nickname": user["Alias"],
        "name": user["Name"], "email": user["Email"], "email_verified": True,
        "given_name": user.get("FirstName"), "family_name": user["LastName"],
        "zoneinfo": user["TimeZoneSidKey"], "photos": {}, "profile": ident["urls"]["profile"],
        "picture": None, "address": {}, "is_salesforce_integration_user": False,
        "urls": ident["urls"], "active": ident["active"], "user_type": "STANDARD",
        "language": "en_US", "locale": "en_US", "utcOffset": -28800000,
        "updated_at": user["LastModifiedDate"], "is_app_installed": True,
        "is_sandbox": session.org.is_sandbox, "profile_name": session.profile.name,
    })

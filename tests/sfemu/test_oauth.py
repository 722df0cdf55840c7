"""OAuth web-server flow through the login page, PKCE, state, refresh, revoke, hosts."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import pytest

from tests.conftest import Sfemu


class _Form(HTMLParser):
    """The login page's form as a browser sees it: action, method and inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.method = "get"
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action, self.method = a.get("action", ""), a.get("method", "get").lower()
        elif tag == "input" and "name" in a:
            self.fields[a["name"]] = a.get("value", "")


class _Callback(BaseHTTPRequestHandler):
    received: list[dict[str, list[str]]] = []

    def do_GET(self) -> None:
        type(self).received.append(parse_qs(urlsplit(self.path).query))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"connected")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def callback() -> Iterator[str]:
    _Callback.received = []
    server = HTTPServer(("127.0.0.1", 0), _Callback)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/oauth/callback"
    server.shutdown()


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.decode().rstrip("=")


def _login(sfemu: Sfemu, prefix: str, redirect: str, username: str, password: str,
           challenge: str, state: str) -> httpx.Response:
    """Open the authorize URL, fill the login form and submit it, following redirects."""
    query = urlencode({"response_type": "code", "client_id": "tether", "redirect_uri": redirect,
                       "state": state, "code_challenge": challenge,
                       "code_challenge_method": "S256"})
    with sfemu.client(follow_redirects=True) as c:
        page = c.get(f"{prefix}/services/oauth2/authorize?{query}")
        assert page.status_code == 200
        form = _Form()
        form.feed(page.text)
        assert form.method == "post" and "username" in form.fields
        form.fields.update(username=username, password=password)
        target = urljoin(str(page.url), form.action or str(page.url))
        return c.post(target, data=form.fields)


def _exchange(sfemu: Sfemu, prefix: str, code: str, redirect: str,
              verifier: str | None) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "client_id": "tether",
            "redirect_uri": redirect}
    if verifier is not None:
        data["code_verifier"] = verifier
    with sfemu.client() as c:
        return c.post(f"{prefix}/services/oauth2/token", data=data)


def test_web_server_flow_with_pkce_and_state(sfemu: Sfemu, callback: str) -> None:
    org = sfemu.new_org()
    verifier, challenge = _pkce()
    state = secrets.token_urlsafe(16)
    final = _login(sfemu, "", callback, org["admin"], "tether-demo", challenge, state)
    assert final.status_code == 200 and final.text == "connected"
    (params,) = _Callback.received
    assert params["state"] == [state]
    token = _exchange(sfemu, "", params["code"][0], callback, verifier)
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["token_type"] == "Bearer" and body["instance_url"] == sfemu.base_url
    assert body["access_token"].startswith(org["id"][:15] + "!")
    assert body["refresh_token"] and body["issued_at"].isdigit()
    # The identity URL answers with the user the flow logged in.
    with sfemu.client(headers={"Authorization": f"Bearer {body['access_token']}"}) as c:
        ident = c.get(body["id"]).json()
        assert ident["username"] == org["admin"] and ident["organization_id"] == org["id"]
        info = c.get("/services/oauth2/userinfo").json()
        assert info["preferred_username"] == org["admin"]
        assert c.get("/services/data/v59.0/limits").status_code == 200
    # Codes are single-use.
    again = _exchange(sfemu, "", params["code"][0], callback, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_pkce_verifier_is_checked(sfemu: Sfemu, callback: str) -> None:
    org = sfemu.new_org()
    verifier, challenge = _pkce()
    _login(sfemu, "", callback, org["admin"], "tether-demo", challenge, "s")
    code = _Callback.received[-1]["code"][0]
    missing = _exchange(sfemu, "", code, callback, None)
    assert missing.status_code == 400
    _login(sfemu, "", callback, org["admin"], "tether-demo", challenge, "s")
    wrong = _exchange(sfemu, "", _Callback.received[-1]["code"][0], callback, verifier + "x")
    assert wrong.status_code == 400 and wrong.json() == {
        "error": "invalid_grant", "error_description": "invalid code verifier"}


def test_wrong_password_stays_on_login_page(sfemu: Sfemu, callback: str) -> None:
    org = sfemu.new_org()
    page = _login(sfemu, "", callback, org["admin"], "nope", _pkce()[1], "s")
    assert page.status_code == 200 and "check your username and password" in page.text
    assert _Callback.received == []


def test_refresh_then_revoke_refresh_token(sfemu: Sfemu, callback: str) -> None:
    org = sfemu.new_org()
    verifier, challenge = _pkce()
    _login(sfemu, "", callback, org["rep"], "tether-demo", challenge, "s")
    tokens = _exchange(sfemu, "", _Callback.received[-1]["code"][0], callback, verifier).json()
    with sfemu.client() as c:
        refreshed = c.post("/services/oauth2/token", data={
            "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
            "client_id": "tether", "client_secret": "tether-secret"})
        assert refreshed.status_code == 200
        access = refreshed.json()["access_token"]
        assert access != tokens["access_token"] and "refresh_token" not in refreshed.json()
        auth = {"Authorization": f"Bearer {access}"}
        assert c.get("/services/data/v59.0/limits", headers=auth).status_code == 200
        assert c.post("/services/oauth2/revoke",
                      data={"token": tokens["refresh_token"]}).status_code == 200
        again = c.post("/services/oauth2/token", data={
            "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
            "client_id": "tether", "client_secret": "tether-secret"})
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
        # Access tokens issued from the revoked refresh token die with it.
        dead = c.get("/services/data/v59.0/limits", headers=auth)
        assert dead.status_code == 401
        assert dead.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_sandbox_and_production_hosts(sfemu: Sfemu, callback: str) -> None:
    prod = sfemu.new_org()
    sandbox = sfemu.new_org(sandbox_of=prod["name"])
    with sfemu.client() as c:
        def password_grant(prefix: str, username: str) -> httpx.Response:
            return c.post(f"{prefix}/services/oauth2/token", data={
                "grant_type": "password", "client_id": "tether",
                "client_secret": "tether-secret", "username": username,
                "password": "tether-demo"})
        assert password_grant("/test", sandbox["admin"]).status_code == 200
        wrong_host = password_grant("", sandbox["admin"])
        assert wrong_host.status_code == 400
        assert wrong_host.json() == {"error": "invalid_grant",
                                     "error_description": "authentication failure"}
        assert password_grant("/test", prod["admin"]).status_code == 400
    verifier, challenge = _pkce()
    page = _login(sfemu, "", callback, sandbox["admin"], "tether-demo", challenge, "s")
    assert "check your username and password" in page.text
    _login(sfemu, "/test", callback, sandbox["admin"], "tether-demo", challenge, "s")
    code = _Callback.received[-1]["code"][0]
    assert _exchange(sfemu, "", code, callback, verifier).status_code == 400
    _login(sfemu, "/test", callback, sandbox["admin"], "tether-demo", challenge, "s")
    ok = _exchange(sfemu, "/test", _Callback.received[-1]["code"][0], callback, verifier)
    assert ok.status_code == 200


def test_bad_client_and_redirect(sfemu: Sfemu) -> None:
    with sfemu.client() as c:
        page = c.get("/services/oauth2/authorize", params={
            "response_type": "code", "client_id": "tether",
            "redirect_uri": "https://evil.example/cb"})
        assert page.status_code == 400 and "redirect_uri_mismatch" in page.text
        bad = c.post("/services/oauth2/token", data={"grant_type": "password",
                                                       "client_id": "nope"})
        assert bad.json()["error"] == "invalid_client_id"
        secret = c.post("/services/oauth2/token", data={
            "grant_type": "password", "client_id": "tether", "client_secret": "wrong",
            "username": "admin@acme.example", "password": "tether-demo"})
        assert secret.status_code == 400 and secret.json()["error"] == "invalid_client"


def test_access_tokens_expire(tmp_path_factory: pytest.TempPathFactory) -> None:
    from tests.conftest import start_sfemu
    server = start_sfemu(tmp_path_factory.mktemp("short"), "--token-ttl", "1")
    try:
        token = server.token("admin@acme.example")
        with server.client(headers={"Authorization": f"Bearer {token}"}) as c:
            assert c.get("/services/data/v59.0/limits").status_code == 200
            import time
            time.sleep(1.5)
            expired = c.get("/services/data/v59.0/limits")
            assert expired.status_code == 401
            assert expired.json() == [{"message": "Session expired or invalid",
                                       "errorCode": "INVALID_SESSION_ID", "fields": []}]
    finally:
        server.stop()


def test_revoking_twice_is_refused(sfemu: Sfemu) -> None:
    token = sfemu.token("admin@acme.example")
    with sfemu.client() as c:
        assert c.post("/services/oauth2/revoke", data={"token": token}).status_code == 200
        again = c.post("/services/oauth2/revoke", data={"token": token})
        assert again.status_code == 400 and again.json()["error"] == "unsupported_token_type"

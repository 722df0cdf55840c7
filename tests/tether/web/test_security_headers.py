"""Every response carries Content-Security-Policy (frame-ancestors 'self', or the configured
origins on the sidebar pages), X-Content-Type-Options and Referrer-Policy: API answers,
dashboard pages, static files, refusals and errors; /docs and /redoc get a policy that lets
their own (local) assets and inline start-up run; the dashboard's own inline code is covered
by the policy."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from tests.tether.web.conftest import World, make_world
from tests.tether.web.test_dashboard_auth import ADMIN, sign_in
from tether.config import Settings
from tether.web import headers as security
from tether.web.app import create_app
from tether.web.ui.common import HERE


def _directives(csp: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (d.split() for d in csp.split(";") if d.strip())}


def _assert_headers(r: Any, frame_ancestors: list[str] | None = None) -> dict[str, list[str]]:
    assert r.headers["x-content-type-options"] == "nosniff", r.url
    assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin", r.url
    csp = _directives(r.headers["content-security-policy"])
    assert csp["default-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'self'", *(frame_ancestors or [])], r.url
    if not frame_ancestors:
        assert r.headers["x-frame-options"] == "SAMEORIGIN"
    return csp


def test_every_kind_of_response_carries_them(world: World) -> None:
    c, admin = world.client, world.as_admin()
    c.app.add_api_route("/boom", _boom)  # type: ignore[attr-defined]
    lenient = TestClient(c.app, raise_server_exceptions=False)
    responses = {
        "api": c.get("/api/v1/me", headers=admin),
        "page without a session": c.get("/login"),
        "static file": c.get("/static/app.css"),
        "401": c.get("/api/v1/me"),
        "404": c.get("/api/v1/roles/nope", headers=admin),
        "422": c.post("/api/v1/roles", json={"name": ""}, headers=admin),
        "413 from the middleware": c.post("/api/v1/roles", content=b" " * (2 * 1024 * 1024),
                                          headers=admin),
        "500": lenient.get("/boom"),
    }
    sign_in(c, ADMIN)
    responses["dashboard page"] = c.get("/app/activity")
    responses["dashboard 404"] = c.get("/app/roles/nope")
    expected = {"api": 200, "page without a session": 200, "static file": 200, "401": 401,
                "404": 404, "422": 422, "413 from the middleware": 413, "500": 500,
                "dashboard page": 200, "dashboard 404": 404}
    for name, r in responses.items():
        assert r.status_code == expected[name], (name, r.status_code, r.text[:200])
        _assert_headers(r)


def _boom() -> None:
    raise RuntimeError("boom")


def test_the_sidebar_may_be_framed_by_the_configured_origins(migrated_url: str,
                                                             tmp_path: Path) -> None:
    origins = ["https://*.lightning.force.com", "https://acme.my.salesforce.com"]
    _, settings = make_world(migrated_url, tmp_path)
    with TestClient(create_app(settings.model_copy(update={"frame_ancestors": origins}))) as c:
        sidebar = c.get("/app/sidebar/contact", follow_redirects=False)
        _assert_headers(sidebar, origins)
        assert "x-frame-options" not in sidebar.headers
        for path in ("/app/activity", "/app/sidebarish", "/login", "/api/v1/me",
                     "/login?next=/app/activity", "/login?next=/app/sidebarish"):
            _assert_headers(c.get(path, follow_redirects=False))
        # The sidebar's visitor signs in inside the frame: that sign-in page may be framed.
        sign_in_page = c.get("/app/sidebar?email=a@b.example")
        assert str(sign_in_page.url).startswith("http://testserver/login?next=")
        _assert_headers(sign_in_page, origins)
        assert "action=\"/login?next=%2Fapp%2Fsidebar" in sign_in_page.text


def test_framed_the_cookies_are_sent_to_the_frame_over_https(migrated_url: str,
                                                             tmp_path: Path) -> None:
    """A browser sends no Lax or Strict cookie to a frame on another site: with framing
    origins set, over https, the sign-in cookies are SameSite=None (and Secure)."""
    _, settings = make_world(migrated_url, tmp_path)
    framed = settings.model_copy(update={"frame_ancestors": ["https://acme.my.salesforce.com"]})
    for app_settings, scheme, expected in ((framed, "https", "none"), (framed, "http", "lax"),
                                           (settings, "https", "lax")):
        with TestClient(create_app(app_settings), base_url=f"{scheme}://testserver") as c:
            login_cookie = c.get("/login?next=/app/sidebar").headers["set-cookie"].lower()
            assert f"samesite={'none' if expected == 'none' else 'strict'}" in login_cookie
            session_cookie = sign_in(c, ADMIN).headers["set-cookie"].lower()
            assert f"samesite={expected}" in session_cookie, session_cookie
            assert ("secure" in session_cookie) == (scheme == "https")


def test_the_setting_takes_origins_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TETHER_FRAME_ANCESTORS", "https://*.lightning.force.com, "
                                                 "https://acme.my.salesforce.com:443")
    assert Settings().frame_ancestors == ["https://*.lightning.force.com",
                                          "https://acme.my.salesforce.com:443"]
    assert Settings(frame_ancestors=["https://a.example"]).frame_ancestors == [
        "https://a.example"]
    for bad in ("https://a.example; script-src *", "*", "'unsafe-inline'", "javascript:x",
                "https://a.example/path"):
        with pytest.raises(ValidationError):
            Settings(frame_ancestors=bad)


def _sources(csp: dict[str, list[str]], directive: str) -> list[str]:
    return csp.get(directive, csp["default-src"])


def _allowed(url: str, sources: list[str]) -> bool:
    parts = urlsplit(url)
    if not parts.scheme:
        return "'self'" in sources
    return f"{parts.scheme}://{parts.netloc}" in sources


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_load_their_assets(world: World, path: str) -> None:
    r = world.client.get(path)
    assert r.status_code == 200
    csp = _assert_headers(r)
    scripts = re.findall(r'<script src="([^"]+)"', r.text)
    styles = re.findall(r'<link[^>]*href="([^"]+)"[^>]*rel="stylesheet"', r.text) + \
        re.findall(r'<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"', r.text)
    assert scripts
    for src in scripts:
        assert _allowed(src, _sources(csp, "script-src")), src
    for href in styles:
        assert _allowed(href, _sources(csp, "style-src")), href
    if re.search(r"<script>\s*\S", r.text):  # Swagger UI starts itself inline
        assert "'unsafe-inline'" in csp["script-src"]
    # No page allows a script from another host; only these paths allow an inline one.
    page = _assert_headers(world.client.get("/login"))
    for directives in (csp, page):
        assert not [s for s in directives["script-src"] if "://" in s], directives
    assert "'unsafe-inline'" not in page["script-src"]


def test_the_dashboards_inline_code_is_allowed(world: World) -> None:
    """Inline event handlers run only if the policy lists their hash, and inline scripts not
    at all: a template that adds one must add it to headers.INLINE_HANDLERS (or move it to a
    script file)."""
    csp = _directives(world.client.get("/login").headers["content-security-policy"])
    templates = "".join(p.read_text() for p in sorted((HERE / "templates").glob("*.html")))
    handlers = re.findall(r'\son[a-z]+="([^"]*)"', templates)
    assert handlers, "the usage page's budget slider has one"
    for handler in handlers:
        assert security.source_hash(handler) in csp["script-src"], handler
    assert "'unsafe-hashes'" in csp["script-src"]
    assert re.findall(r"<script(?![^>]*\ssrc=)[^>]*>", templates) == []
    # Static files are served from 'self'; htmx compiles hx-trigger filters with Function.
    if "hx-trigger=" in templates and "[" in "".join(re.findall(r'hx-trigger="([^"]*)"',
                                                                templates)):
        assert "'unsafe-eval'" in csp["script-src"]


def test_a_response_keeps_its_own_policy(world: World) -> None:
    from fastapi.responses import PlainTextResponse

    def own() -> PlainTextResponse:
        return PlainTextResponse("x", headers={"Content-Security-Policy": "default-src 'none'",
                                               "Referrer-Policy": "no-referrer"})
    c = world.client
    assert isinstance(c, TestClient)
    c.app.add_api_route("/own", own)  # type: ignore[attr-defined]
    r = c.get("/own")
    assert r.headers["content-security-policy"] == "default-src 'none'"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers.get_list("content-security-policy") == ["default-src 'none'"]
    assert r.headers["x-content-type-options"] == "nosniff"

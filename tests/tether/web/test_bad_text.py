"""Text that cannot be stored, and JSON too deep to parse, are 422s naming the problem, never
500s, and nothing is stored: lone surrogates (as the JSON escape and as raw bytes), invalid
UTF-8, NUL, and deep nesting, on the JSON API, the webhook, events and dashboard forms."""

from __future__ import annotations

from typing import Any

import pytest

from tests.tether.web.conftest import World
from tests.tether.web.test_dashboard_auth import ADMIN, _csrf, sign_in

SURROGATE = b'"r\\udfff"'  # the JSON escape text of a lone (low) surrogate
RAW_SURROGATE = b'"r\xed\xa0\x80"'  # the UTF-8-style bytes of a lone (high) surrogate
INVALID_UTF8 = b'"r\xff\xfe"'
NUL = b'"r\\u0000"'


def _send(world: World, method: str, path: str, body: bytes,
          headers: dict[str, str] | None = None) -> Any:
    return world.client.request(method, path, content=body, headers={
        "Content-Type": "application/json", **(headers or world.as_admin())})


def _refused(r: Any, *words: str) -> dict[str, Any]:
    assert r.status_code == 422, (r.status_code, r.text[:300])
    body: dict[str, Any] = r.json()
    assert isinstance(body["detail"], str) and "field" in body, body
    for word in words:
        assert word in body["detail"], body
    return body


@pytest.mark.parametrize(("text", "words"), [
    (SURROGATE, ("surrogate",)), (RAW_SURROGATE, ("UTF-8",)), (INVALID_UTF8, ("UTF-8",))])
def test_bad_text_on_the_workspace_api(world: World, text: bytes,
                                       words: tuple[str, ...]) -> None:
    c, admin = world.client, world.as_admin()
    default = c.get("/api/v1/roles", headers=admin).json()[0]
    cases = [
        ("POST", "/api/v1/roles", b'{"name": ' + text + b"}"),
        ("PATCH", f"/api/v1/roles/{default['id']}", b'{"name": ' + text + b"}"),
        ("PATCH", "/api/v1/workspace", b'{"name": ' + text + b"}"),
        ("POST", "/api/v1/exclusions", b'{"kind": "domain", "value": ' + text + b"}"),
        ("POST", "/api/v1/members", b'{"email": ' + text + b"}"),
        ("PATCH", f"/api/v1/members/{world.member_id}", b'{"role_id": ' + text + b"}"),
        ("PUT", "/api/v1/me/salesforce-settings", b'{"first_only": ' + text + b"}"),
    ]
    for method, path, body in cases:
        _refused(_send(world, method, path, body), "not valid JSON", *words)
    # Nothing was stored.
    assert [r["name"] for r in c.get("/api/v1/roles", headers=admin).json()] == ["Default"]
    assert c.get("/api/v1/workspace", headers=admin).json()["name"] == "Acme"
    assert c.get("/api/v1/exclusions", headers=admin).json() == []
    assert len(c.get("/api/v1/members", headers=admin).json()) == 2


def test_nul_is_refused_naming_where_it_is(world: World) -> None:
    c, admin = world.client, world.as_admin()
    body = _refused(_send(world, "POST", "/api/v1/roles", b'{"name": ' + NUL + b"}"), "NUL")
    assert body["field"] == "name"
    nested = _send(world, "PATCH", "/api/v1/workspace",
                   b'{"settings": {"a": [1, ' + NUL + b"]}}")
    assert _refused(nested, "NUL")["field"] == "settings.a[1]"
    # An escaped backslash before "u0000" is not NUL: no false alarm.
    ok = _send(world, "POST", "/api/v1/roles", b'{"name": "r\\\\u0000"}')
    assert ok.status_code == 201 and ok.json()["name"] == "r\\u0000"
    # NUL in the URL (path or query) is refused before any route looks it up.
    for path in ("/api/v1/roles/%00", "/api/v1/activity-log?user=%00"):
        assert _refused(c.get(path, headers=admin), "NUL")["field"] in ("path", "query")


def test_every_json_route_parses_strictly(world: World) -> None:
    """Each route the OpenAPI schema lists with a JSON body refuses a lone surrogate with a
    422 of ours (a route on a router without StrictRoute would 500 echoing it back)."""
    c, admin = world.client, world.as_admin()
    schema = c.get("/openapi.json").json()
    routes = [(method.upper(), path) for path, ops in schema["paths"].items()
              for method, op in ops.items()
              if "application/json" in op.get("requestBody", {}).get("content", {})]
    assert len(routes) >= 8, routes
    for method, path in routes:
        concrete = path.replace("{", "x").replace("}", "")
        r = _send(world, method, concrete, b'{"x": ' + SURROGATE + b"}", admin)
        _refused(r, "surrogate")


def test_deep_json(world: World) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    _refused(_send(world, "POST", "/api/v1/roles", deep), "depth")
    token = world.client.post("/api/v1/salesforce/realtime-token",
                              headers=world.as_admin()).json()["token"]
    hook = f"/webhooks/salesforce/{world.workspace_id}"
    _refused(_send(world, "POST", hook, b"[" * 100_000, {"X-Tether-Token": token}), "depth")
    # An event field nested 1,000 deep (orjson parses it; the event is refused as an event).
    event = (b'{"id": "e1", "type": "email.sent", "user": "admin@acme.example", '
             b'"occurred_at": "2026-11-28T10:00:00Z", "message": {"id": "m1", "to": '
             + b"[" * 1000 + b"]" * 1000 + b"}}")
    r = _send(world, "POST", "/api/v1/events", event)
    assert _refused(r)["field"] == "message.to[0]"
    deeper = event.replace(b"[" * 1000, b"[" * 1100).replace(b"]" * 1000, b"]" * 1100)
    _refused(_send(world, "POST", "/api/v1/events", deeper), "depth")


def test_bad_text_on_the_webhook_and_events(world: World) -> None:
    c, admin = world.client, world.as_admin()
    token = c.post("/api/v1/salesforce/realtime-token", headers=admin).json()["token"]
    hook = f"/webhooks/salesforce/{world.workspace_id}"
    for text in (SURROGATE, RAW_SURROGATE, INVALID_UTF8):
        doc = (b'{"schema": "tether.realtime.v1", "delivery_id": ' + text
               + b', "org_id": "00D5g0000000001AAA", "changes": []}')
        _refused(_send(world, "POST", hook, doc, {"X-Tether-Token": token}), "not valid JSON")
        event = (b'{"id": ' + text + b', "type": "email.sent", "user": "admin@acme.example", '
                 b'"occurred_at": "2026-11-28T10:00:00Z", "message": {"id": "m1"}}')
        _refused(_send(world, "POST", "/api/v1/events", event), "not valid JSON")
    nul_doc = (b'{"schema": "tether.realtime.v1", "delivery_id": ' + NUL
               + b', "org_id": "00D5g0000000001AAA", "changes": []}')
    r = _send(world, "POST", hook, nul_doc, {"X-Tether-Token": token})
    assert _refused(r, "NUL")["field"] == "delivery_id"
    runs = c.get("/api/v1/salesforce/sync-runs", headers=admin).json()
    assert [r for r in runs if r["kind"] == "realtime"] == []  # nothing applied


FORMS = [("/app/roles", "name"), ("/app/settings/exclusions", "value"),
         ("/app/members", "email"), ("/login", "email")]


@pytest.mark.parametrize("text", [b"%ED%B3%BF", b"\xed\xa0\x80", b"%FF", b"\xff\xfe"])
def test_dashboard_forms_with_bad_text_do_not_fail(world: World, text: bytes) -> None:
    """A lone surrogate or invalid UTF-8 in a form (percent-encoded, as browsers send, or raw)
    is decoded with replacement characters and judged like any other text: never a 500."""
    c = world.client
    c.cookies.clear()
    login_token = _csrf(c.get("/login").text).encode()
    r = c.post("/login", content=b"email=a" + text + b"@x.example&password=x&csrf_token="
               + login_token, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code < 500, r.text[:300]
    sign_in(c, ADMIN)
    token = _csrf(c.get("/app/account").text).encode()
    for path, name in FORMS[:-1]:
        body = name.encode() + b"=r" + text + b"&kind=domain&csrf_token=" + token
        r = c.post(path, content=body,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code < 500, (path, r.status_code, r.text[:300])


def test_nul_in_a_dashboard_form_is_refused(world: World) -> None:
    c = world.client
    sign_in(c, ADMIN)
    token = _csrf(c.get("/app/account").text).encode()
    for path, name in FORMS:
        for nul in (b"%00", b"\x00"):
            body = name.encode() + b"=r" + nul + b"&kind=domain&csrf_token=" + token
            r = c.post(path, content=body,
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert _refused(r, "NUL")["field"] == "form", path
    roles = c.get("/api/v1/roles", headers=world.as_admin()).json()
    assert [r["name"] for r in roles] == ["Default"]

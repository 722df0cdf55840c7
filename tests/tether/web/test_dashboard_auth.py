"""Dashboard sign-in and permissions, on SQLite and PostgreSQL: cookies, CSRF, sessions that
end, the same checks as the JSON API, and no redirect off the site after sign-in."""

from __future__ import annotations

import datetime as dt
import re

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from tests.tether.web.conftest import World
from tether.security import hash_secret
from tether.store.db import make_engine, session_factory
from tether.store.models import WebSession

ADMIN, REP, PASSWORD = "admin@acme.example", "rep@acme.example", "tether-demo"


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD,
            next_path: str = "/app/activity") -> httpx.Response:
    token = _csrf(client.get("/login").text)
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": token, "next": next_path},
                       follow_redirects=False)


def test_pages_need_a_session(world: World) -> None:
    r = world.client.get("/app/members", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/app/members"


def test_sign_in_sets_a_safe_cookie_and_keeps_only_its_hash(world: World) -> None:
    r = sign_in(world.client, ADMIN)
    assert r.status_code == 303 and r.headers["location"] == "/app/activity"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    token = re.search(r"tether_session=([^;]+)", cookie)
    assert token is not None
    engine = make_engine(world.url)
    with session_factory(engine)() as db:
        hashes = list(db.scalars(select(WebSession.token_hash)))
    engine.dispose()
    assert hashes == [hash_secret(token.group(1))]
    assert world.client.get("/app/members").status_code == 200


def test_a_wrong_password_or_email_says_the_same(world: World) -> None:
    wrong_password = sign_in(world.client, ADMIN, "nope-nope")
    wrong_email = sign_in(world.client, "nobody@acme.example")
    assert wrong_password.status_code == wrong_email.status_code == 401
    assert "Wrong email or password." in wrong_password.text
    assert "Wrong email or password." in wrong_email.text
    assert "tether_session" not in wrong_password.headers.get("set-cookie", "")


def test_the_sign_in_form_needs_its_own_csrf_token(world: World) -> None:
    r = world.client.post("/login", data={"email": ADMIN, "password": PASSWORD},
                          follow_redirects=False)
    assert r.status_code == 403 and "expired" in r.text


def test_no_redirect_off_the_site_after_sign_in(world: World) -> None:
    r = sign_in(world.client, ADMIN, next_path="//evil.example/app")
    assert r.headers["location"] == "/app"


def test_posts_without_the_csrf_token_are_refused(world: World) -> None:
    sign_in(world.client, ADMIN)
    r = world.client.post("/app/roles", data={"name": "Sneaky"}, follow_redirects=False)
    assert r.status_code == 403 and "CSRF" in r.text
    r = world.client.post("/app/roles", data={"name": "Sneaky", "csrf_token": "0" * 64},
                          follow_redirects=False)
    assert r.status_code == 403
    token = _csrf(world.client.get("/app/members").text)
    r = world.client.post("/app/roles", data={"name": "Fine"},
                          headers={"X-CSRF-Token": token}, follow_redirects=False)
    assert r.status_code == 303  # htmx sends it as a header


def test_a_member_gets_403_on_admin_pages_not_a_hidden_button(world: World) -> None:
    sign_in(world.client, REP)
    for path in ("/app/members", f"/app/roles/{_default_role(world)}"):
        r = world.client.get(path)
        assert r.status_code == 403, path
        assert "Not allowed" in r.text and "only a workspace admin" in r.text
    token = _csrf(world.client.get("/app/settings").text)
    r = world.client.post("/app/roles", data={"name": "Mine", "csrf_token": token})
    assert r.status_code == 403
    assert world.client.get("/app/activity").status_code == 200


def _default_role(world: World) -> str:
    r = world.client.get("/api/v1/workspace", headers=world.as_admin())
    return str(r.json()["default_role_id"])


def test_sign_out_ends_the_session(world: World) -> None:
    sign_in(world.client, ADMIN)
    token = _csrf(world.client.get("/app/account").text)
    r = world.client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.headers["location"] == "/login?signed_out=1"
    assert world.client.get("/app/account", follow_redirects=False).status_code == 303


def test_an_expired_session_signs_in_again(world: World) -> None:
    sign_in(world.client, ADMIN)
    engine = make_engine(world.url)
    with session_factory(engine)() as db:
        db.execute(update(WebSession).values(
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        db.commit()
    engine.dispose()
    assert world.client.get("/app/account", follow_redirects=False).status_code == 303


def test_changing_the_password_ends_the_other_sessions(world: World) -> None:
    other = TestClient(world.client.app)
    sign_in(other, ADMIN)
    sign_in(world.client, ADMIN)
    token = _csrf(world.client.get("/app/account").text)
    r = world.client.post("/app/account/password", data={
        "csrf_token": token, "current_password": "wrong-one", "new_password": "n3w-passw0rd"})
    assert r.status_code == 422 and "current password is wrong" in r.text
    r = world.client.post("/app/account/password", data={
        "csrf_token": token, "current_password": PASSWORD, "new_password": "n3w-passw0rd"},
        follow_redirects=False)
    assert r.status_code == 303
    assert world.client.get("/app/account").status_code == 200  # this one stays
    assert other.get("/app/account", follow_redirects=False).status_code == 303
    assert sign_in(other, ADMIN).status_code == 401
    assert sign_in(other, ADMIN, "n3w-passw0rd").status_code == 303

"""Sign-in throttling, on SQLite and PostgreSQL: wrong passwords are slowed per address and
client address (429 with the wait in words and Retry-After), the right password too while
throttled, never for longer than the window; a stranger elsewhere does not block the owner."""

from __future__ import annotations

import re
import time
import types
from collections.abc import Iterator

import httpx
import limits.storage.memory
import pytest
from fastapi.testclient import TestClient

import tether.web.throttle
from tests.tether.web.conftest import World
from tests.tether.web.test_dashboard_auth import ADMIN, PASSWORD, REP, _csrf, sign_in


class Clock:
    """The limiter's time, moved by the test (no sleeping through a window)."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    c = Clock()
    fake = types.SimpleNamespace(time=c.time)
    monkeypatch.setattr(limits.storage.memory, "time", fake)
    monkeypatch.setattr(tether.web.throttle, "time", fake)
    yield c


def elsewhere(world: World, host: str) -> TestClient:
    """A browser on another client address, on the same app."""
    return TestClient(world.client.app, client=(host, 50000))


def signed_in(r: httpx.Response) -> bool:
    return r.status_code == 303 and "tether_session" in r.headers.get("set-cookie", "")


def wait_said(r: httpx.Response) -> str:
    found = re.search(r"Too many sign-in attempts for this address\. Try again in ([^.]+)\.",
                      r.text)
    assert found, r.text[:2000]
    return found.group(1)


def test_wrong_passwords_are_slowed_and_the_right_one_waits_too(world: World,
                                                                 clock: Clock) -> None:
    answers = [sign_in(world.client, ADMIN, "wrong-password") for _ in range(20)]
    assert [r.status_code for r in answers] == [401] * 5 + [429] * 15
    assert wait_said(answers[-1]) == "60 seconds"
    assert answers[-1].headers["retry-after"] == "60"
    # The right password, while throttled: refused the same way, and no session.
    clock.advance(18)
    right = sign_in(world.client, ADMIN)
    assert right.status_code == 429 and not signed_in(right)
    assert wait_said(right) == "42 seconds" and right.headers["retry-after"] == "42"
    assert world.client.get("/app/account", follow_redirects=False).status_code == 303
    # Once the window has passed, it signs in.
    clock.advance(43)
    assert signed_in(sign_in(world.client, ADMIN))
    assert world.client.get("/app/account").status_code == 200


def test_only_slowed_a_failure_a_window_old_makes_room_for_one_more(world: World,
                                                                    clock: Clock) -> None:
    for _ in range(4):
        assert sign_in(world.client, ADMIN, "wrong-password").status_code == 401
        clock.advance(10)
    assert sign_in(world.client, ADMIN, "wrong-password").status_code == 401  # at t=40
    r = sign_in(world.client, ADMIN, "wrong-password")
    assert r.status_code == 429 and wait_said(r) == "20 seconds"  # the first was at t=0
    clock.advance(21)
    assert sign_in(world.client, ADMIN, "wrong-password").status_code == 401
    assert sign_in(world.client, ADMIN, "wrong-password").status_code == 429


def test_a_stranger_elsewhere_does_not_lock_the_owner_out(world: World, clock: Clock) -> None:
    stranger = elsewhere(world, "203.0.113.66")
    for _ in range(8):
        sign_in(stranger, ADMIN, "wrong-password")
    assert sign_in(stranger, ADMIN).status_code == 429
    owner = elsewhere(world, "198.51.100.7")
    assert sign_in(owner, ADMIN, "a-typo-here").status_code == 401  # not 429
    assert signed_in(sign_in(owner, ADMIN))


def test_many_client_addresses_on_one_address_reach_its_shared_limit(world: World,
                                                                      clock: Clock) -> None:
    for n in range(6):  # 6 times 5: the 30 failures one address may have from anywhere
        guesser = elsewhere(world, f"203.0.113.{n + 1}")
        assert [sign_in(guesser, ADMIN, "wrong-password").status_code
                for _ in range(5)] == [401] * 5
    r = sign_in(elsewhere(world, "198.51.100.7"), ADMIN)
    assert r.status_code == 429 and wait_said(r) == "60 seconds"
    assert signed_in(sign_in(elsewhere(world, "198.51.100.8"), REP))  # others are not
    clock.advance(61)
    assert signed_in(sign_in(elsewhere(world, "198.51.100.7"), ADMIN))


def test_one_client_address_trying_many_addresses_is_slowed(world: World,
                                                            clock: Clock) -> None:
    for n in range(20):
        r = sign_in(world.client, f"guess{n}@acme.example", "wrong-password")
        assert r.status_code == 401
    r = sign_in(world.client, REP)
    assert r.status_code == 429
    assert "Too many sign-in attempts from your network. Try again in 60 seconds." in r.text
    assert signed_in(sign_in(elsewhere(world, "198.51.100.7"), REP))


def test_successes_are_not_counted_and_clear_their_own_failures(world: World,
                                                                clock: Clock) -> None:
    for _ in range(3):
        for _ in range(4):
            assert sign_in(world.client, ADMIN, "wrong-password").status_code == 401
        assert signed_in(sign_in(world.client, ADMIN))
    for _ in range(10):
        assert signed_in(sign_in(world.client, ADMIN))


def test_the_address_is_counted_as_typed_and_normalized(world: World, clock: Clock) -> None:
    for typed in ("admin@acme.example", "ADMIN@acme.example", " Admin@Acme.Example ",
                  "admin@ACME.example", "aDmin@acme.example"):
        assert sign_in(world.client, typed, "wrong-password").status_code == 401
    assert sign_in(world.client, ADMIN).status_code == 429


def test_wrong_current_passwords_are_slowed_on_the_account_page(world: World,
                                                               clock: Clock) -> None:
    assert signed_in(sign_in(world.client, ADMIN))
    token = _csrf(world.client.get("/app/account").text)

    def change(current: str) -> httpx.Response:
        return world.client.post("/app/account/password", data={
            "csrf_token": token, "current_password": current, "new_password": "n3w-passw0rd"},
            follow_redirects=False)
    assert [change("wrong-one").status_code for _ in range(5)] == [422] * 5
    r = change(PASSWORD)
    assert r.status_code == 429 and r.headers["retry-after"] == "60"
    assert "Too many wrong passwords for this account. Try again in 60 seconds." in r.text
    # The same guesses count at sign-in: it is the same password.
    assert sign_in(TestClient(world.client.app), ADMIN).status_code == 429
    clock.advance(61)
    assert change(PASSWORD).status_code == 303

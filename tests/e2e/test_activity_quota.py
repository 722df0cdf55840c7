"""Quota: with the org's daily limit used up mid-run, writes pause (nothing errored or
dropped) and land once the limit is raised; the API budget pauses them the same way."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Sfemu
from tests.e2e.activity_env import Env, email_event, make_env
from tests.e2e.conftest import Tether, serve


@pytest.fixture
def quick_probe(migrated_url: str, sfemu: Sfemu, tmp_path: Path) -> Iterator[Tether]:
    with serve(migrated_url, sfemu, tmp_path, quota_probe_seconds=0.5) as server:
        yield server


def _until(check: Any, what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.1)
    return value


def _batch(env: Env, prefix: str, n: int) -> list[dict[str, Any]]:
    admin = env.org["admin"]
    return [email_event(f"{prefix}{i}", "email.opened" if i % 2 else "email.sent", user=admin,
                        recipient="jane@globex.example", message={"id": f"<{prefix}{i}@x>"})
            for i in range(n)]


def test_limit_exhausted_pauses_and_resumes_without_loss(quick_probe: Tether) -> None:
    env = make_env(quick_probe)
    env.set_role(log_to_accounts=False)
    env.act("POST", "/faults", json={"exhaust_daily_limit": True})
    ids = env.post(*_batch(env, "q", 20))
    usage = _until(lambda: (u := env.api("GET", "/api/v1/salesforce/usage"))["paused"] and u,
                   "writes did not pause")
    assert "REQUEST_LIMIT_EXCEEDED" in usage["paused_reason"]
    time.sleep(2.0)  # several probes while the limit stays exhausted
    counts = env.log()["counts"]
    assert counts["pending"] == 20 and counts["errored"] == 0 and counts["synced"] == 0
    assert env.soql("SELECT Id FROM Task") == []
    assert env.api("GET", "/api/v1/salesforce/usage")["queued_writes"] == 20
    env.act("POST", "/faults", json={})  # the limit is raised
    items = env.wait(ids, statuses=("synced",))
    assert all(i["status"] == "synced" for its in items.values() for i in its)
    assert len(env.soql("SELECT Id FROM Task")) == 20
    assert env.api("GET", "/api/v1/salesforce/usage")["paused"] is False


def test_budget_pauses_writes_until_raised(quick_probe: Tether) -> None:
    env = make_env(quick_probe)
    env.set_role(log_to_accounts=False)
    used = env.act("GET", "/api-usage")["total"]
    # The org may make 10x what it used so far: Tether's usage is then about 10 % of it.
    env.tether.sfemu.admin("PATCH", f"/orgs/{env.org['name']}", json={"daily_limit": used * 8})
    env.api("PATCH", "/api/v1/workspace", json={"api_budget_percent": 10})
    env.sync("interval")  # one call: the ledger learns the new limit from Sforce-Limit-Info
    ids = env.post(*_batch(env, "b", 6))
    usage = _until(lambda: (u := env.api("GET", "/api/v1/salesforce/usage"))["paused"] and u,
                   "writes did not pause at the budget")
    assert "budget is reached" in usage["paused_reason"]
    assert usage["budget"]["percent"] == 10 and usage["org"]["max"] == used * 8
    time.sleep(1.5)
    assert env.log()["counts"]["pending"] == 6 and env.soql("SELECT Id FROM Task") == []
    env.api("PATCH", "/api/v1/workspace", json={"api_budget_percent": 90})
    env.wait(ids, statuses=("synced",))
    assert len(env.soql("SELECT Id FROM Task")) == 6


def test_budget_is_validated(quick_probe: Tether) -> None:
    _, key = quick_probe.new_workspace("Acme", "admin@budget.example")
    with quick_probe.client(key) as c:
        for bad in (5, 95, "70", True):
            r = c.patch("/api/v1/workspace", json={"api_budget_percent": bad})
            assert r.status_code == 422 and r.json()["field"] == "api_budget_percent", r.text

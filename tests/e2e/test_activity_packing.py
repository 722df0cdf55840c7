"""The writer packs its sObject Collections calls five to a composite call: 1,000 activities
cost one API call, and each collection's outcome reaches only its own writes — a subrequest
Salesforce refuses is retried alone, and a composite call whose answer was lost leaves its
creates to be reconciled, never sent blind (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import Sfemu
from tests.e2e.activity_env import Env, connected_env
from tests.e2e.conftest import Tether, serve
from tether.domain.planner import KEY_FOOTER
from tether.salesforce.client import SalesforceClient
from tether.salesforce.composite import CompositeSubrequest, SaveResult
from tether.salesforce.errors import SalesforceError
from tether.security import Vault
from tether.services import sync as sync_service
from tether.store.db import make_engine, session_factory
from tether.store.models import ActivityWrite
from tether.sync.pipeline import ActivityPipeline


@pytest.fixture
def split_tether(migrated_url: str, sfemu: Sfemu, tmp_path: Path) -> Iterator[Tether]:
    # No worker: the test drives planning and the writer itself, one step at a time.
    with serve(migrated_url, sfemu, tmp_path, embedded_worker=False,
               activity_reconcile_seconds=0, activity_retry_max_seconds=0.05) as server:
        yield server


def _env(tether: Tether, pipeline: ActivityPipeline, contacts: int, *, key_field: bool
         ) -> tuple[Env, list[str]]:
    env = connected_env(tether, key_field=key_field)
    env.act("POST", "/seed", json={"contacts": contacts, "accounts": 20, "seed": 5})
    asyncio.run(sync_service.run_sync(pipeline.sessions, pipeline.writer.vault,
                                      tether.settings, env.ws_id, "audit"))
    env.set_role(log_to_accounts=False, log_to_opportunities=False)
    emails = sorted({r["Email"].lower() for r in env.soql("SELECT Email FROM Contact")})
    return env, emails


def _post(env: Env, emails: Sequence[str], count: int, prefix: str) -> None:
    events = [{"id": f"{prefix}{i}", "type": "email.sent", "occurred_at": "2026-11-28T10:00:00Z",
               "user": env.org["admin"],
               "message": {"id": f"<{prefix}{i}@acme.example>", "subject": f"Note {i}",
                           "to": [emails[i % len(emails)]]}} for i in range(count)]
    for start in range(0, count, 1000):
        env.post(*events[start:start + 1000])


def _pipeline(tether: Tether) -> ActivityPipeline:
    s = tether.settings
    return ActivityPipeline(session_factory(make_engine(str(s.database_url))),
                            Vault(str(s.secret_key)), s)


def _plan_all(pipeline: ActivityPipeline) -> None:
    while pipeline._plan()[0]:
        pass


def _usage(env: Env) -> int:
    return int(env.act("GET", "/api-usage")["total"])


def _task_keys(env: Env) -> Counter[str]:
    rows = env.soql("SELECT Id, Description FROM Task")
    return Counter(str(r["Description"]).rpartition(KEY_FOOTER)[2] for r in rows)


async def _drain(pipeline: ActivityPipeline, env: Env, timeout: float = 30) -> None:
    """Steps until no write waits (retries and reconciles come due meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        busy = await pipeline.step()
        with pipeline.sessions() as db:
            waiting = db.scalar(select(func.count()).select_from(ActivityWrite).where(
                ActivityWrite.workspace_id == env.ws_id,
                ActivityWrite.status.in_(("queued", "sending", "checking"))))
        if not busy and not waiting:
            return
        assert time.monotonic() < deadline, f"{waiting} writes still waiting"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("key_field", [True, False], ids=["key_field", "no_key_field"])
def test_a_thousand_activities_cost_one_api_call(split_tether: Tether, key_field: bool) -> None:
    pipeline = _pipeline(split_tether)
    env, emails = _env(split_tether, pipeline, 300, key_field=key_field)
    _post(env, emails, 1200, "p")
    _plan_all(pipeline)
    tasks_before, before = len(_task_keys(env)), _usage(env)

    async def run() -> tuple[int, int]:
        first = await pipeline.writer.step()
        after_first = _usage(env)
        second = await pipeline.writer.step()
        await pipeline.writer.aclose()
        assert (first.done, second.done) == (1000, 200)
        return after_first - before, _usage(env) - after_first

    # 1,000 Tasks (five collections of 200) in one composite call, the last 200 in another.
    assert asyncio.run(run()) == (1, 1)
    keys = _task_keys(env)
    assert len(keys) - tasks_before == 1200 and set(keys.values()) == {1}
    log = env.log()
    assert log["counts"]["synced"] == 1200


def _failing_second(real: Any) -> Any:
    """The client's ``collections`` with the answer of its second subrequest replaced by a
    503, as Salesforce answers one subrequest it could not serve."""
    state = {"calls": 0}

    async def collections(self: SalesforceClient, requests: Sequence[CompositeSubrequest]
                          ) -> list[list[SaveResult] | SalesforceError]:
        outcomes: list[list[SaveResult] | SalesforceError] = await real(self, requests)
        state["calls"] += 1
        if state["calls"] == 1 and len(requests) > 1:
            outcomes[1] = SalesforceError(503, "SERVER_UNAVAILABLE", "try again")
        return outcomes
    return collections


def test_a_refused_subrequest_is_retried_alone(split_tether: Tether,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline = _pipeline(split_tether)
    env, emails = _env(split_tether, pipeline, 300, key_field=True)
    _post(env, emails, 1000, "r")
    _plan_all(pipeline)
    monkeypatch.setattr(SalesforceClient, "collections",
                        _failing_second(SalesforceClient.collections))

    async def run() -> tuple[int, int]:
        first = await pipeline.writer.step()
        return first.done, first.retried

    assert asyncio.run(run()) == (800, 200)
    # sfemu did write the second collection (only its answer was replaced): an upsert on the
    # activity key sent again changes nothing.
    monkeypatch.undo()
    asyncio.run(_drain(pipeline, env))
    asyncio.run(pipeline.writer.aclose())
    keys = _task_keys(env)
    assert len(keys) == 1000 and set(keys.values()) == {1}
    assert env.log()["counts"]["synced"] == 1000


def test_a_lost_composite_answer_reconciles_creates(split_tether: Tether,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline = _pipeline(split_tether)
    env, emails = _env(split_tether, pipeline, 300, key_field=False)
    _post(env, emails, 600, "a")
    _plan_all(pipeline)
    real = SalesforceClient.collections
    lost = {"calls": 0}

    async def answer_lost(self: SalesforceClient, requests: Sequence[CompositeSubrequest]
                          ) -> list[list[SaveResult] | SalesforceError]:
        await real(self, requests)  # carried out in Salesforce ...
        lost["calls"] += 1
        raise SalesforceError(0, None, "read timed out", ambiguous=True)  # ... answer lost

    monkeypatch.setattr(SalesforceClient, "collections", answer_lost)

    async def first() -> tuple[int, int]:
        out = await pipeline.writer.step()
        return out.done, out.errored

    assert asyncio.run(first()) == (0, 0)
    assert lost["calls"] == 1 and len(_task_keys(env)) == 600
    monkeypatch.undo()
    asyncio.run(_drain(pipeline, env))
    asyncio.run(pipeline.writer.aclose())
    keys = _task_keys(env)  # read back, found, never created twice
    assert len(keys) == 600 and set(keys.values()) == {1}
    assert env.log()["counts"]["synced"] == 600


def test_creates_in_doubt_stay_held_when_a_later_call_fails(
        split_tether: Tether, monkeypatch: pytest.MonkeyPatch) -> None:
    """One claim, two composite calls: the first one's answer is lost (its creates wait to be
    read back), the second is refused with a 503.  The refusal puts back only its own writes:
    the creates in doubt are read back, found, and never created twice."""
    pipeline = _pipeline(split_tether)
    env, emails = _env(split_tether, pipeline, 300, key_field=False)
    _post(env, emails, 900, "d")  # 900 Tasks: five collections ...
    meetings = [{"id": f"m{i}", "type": "meeting.confirmed",
                 "occurred_at": "2026-11-28T10:00:00Z", "user": env.org["admin"],
                 "meeting": {"id": f"mt{i}", "title": f"Call {i}", "organizer": env.org["admin"],
                             "start": "2026-12-01T15:00:00Z", "end": "2026-12-01T15:30:00Z",
                             "attendees": [env.org["admin"], emails[i]]}} for i in range(100)]
    env.post(*meetings)  # ... and 100 Events: a sixth, in a second composite call
    _plan_all(pipeline)
    real = SalesforceClient.collections
    calls = {"n": 0}

    async def lost_then_refused(self: SalesforceClient,
                                requests: Sequence[CompositeSubrequest]
                                ) -> list[list[SaveResult] | SalesforceError]:
        calls["n"] += 1
        if calls["n"] == 1:
            await real(self, requests)
            raise SalesforceError(0, "TIMEOUT", "read timed out", ambiguous=True)
        if calls["n"] == 2:
            raise SalesforceError(503, "SERVER_UNAVAILABLE", "try again")
        outcomes: list[list[SaveResult] | SalesforceError] = await real(self, requests)
        return outcomes

    monkeypatch.setattr(SalesforceClient, "collections", lost_then_refused)
    asyncio.run(_drain(pipeline, env))
    asyncio.run(pipeline.writer.aclose())
    assert calls["n"] >= 3
    tasks = _task_keys(env)
    events = Counter(str(r["Description"]).rpartition(KEY_FOOTER)[2]
                     for r in env.soql("SELECT Id, Description FROM Event"))
    assert len(tasks) == 900 and len(events) == 100
    assert set(tasks.values()) == {1} and set(events.values()) == {1}, "created twice"

"""The embedded queue on SQLite and PostgreSQL: locks per key, leases, retries, restarts."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from tether.jobs.queue import EmbeddedQueue, finish
from tether.jobs.runner import EmbeddedRunner
from tether.store.db import make_engine, session_factory
from tether.store.models import Job

LEASE = dt.timedelta(minutes=5)


def test_one_job_per_lock_key_at_a_time(migrated_url: str) -> None:
    sessions = session_factory(make_engine(migrated_url))
    q = EmbeddedQueue()
    with sessions() as db:
        a = q.enqueue(db, "sync", {"n": 1}, workspace_id="w1", lock_key="sync:w1")
        b = q.enqueue(db, "sync", {"n": 2}, workspace_id="w1", lock_key="sync:w1")
        c = q.enqueue(db, "sync", {"n": 3}, workspace_id="w2", lock_key="sync:w2")
        db.commit()
        first = q.claim(db, LEASE)
        second = q.claim(db, LEASE)
        db.commit()
        assert first is not None and second is not None
        assert {first.id, second.id} == {a, c}  # w1's second job waits for its first
        assert q.claim(db, LEASE) is None
        finish(db, first.id)
        db.commit()
        third = q.claim(db, LEASE)
        assert third is not None and third.id == b
        assert third.attempts == 1 and third.status == "running"


def test_a_dead_workers_job_is_claimed_again(migrated_url: str) -> None:
    sessions = session_factory(make_engine(migrated_url))
    q = EmbeddedQueue()
    with sessions() as db:
        jid = q.enqueue(db, "sync", {}, lock_key="k")
        db.commit()
        job = q.claim(db, dt.timedelta(seconds=-1))  # its lease is already over: worker died
        db.commit()
        assert job is not None
        again = q.claim(db, LEASE)
        db.commit()
        assert again is not None and again.id == jid and again.attempts == 2


def test_dedupe_and_retry_then_fail(migrated_url: str) -> None:
    sessions = session_factory(make_engine(migrated_url))
    q = EmbeddedQueue()
    with sessions() as db:
        first = q.enqueue(db, "fields", {}, workspace_id="w", dedupe=True)
        assert q.enqueue(db, "fields", {}, workspace_id="w", dedupe=True) == first
        db.commit()
        for attempt in range(1, 3):
            job = q.claim(db, LEASE)
            assert job is not None and job.attempts == attempt
            finish(db, job.id, error="boom", retry_in=dt.timedelta(0), max_attempts=2)
            db.commit()
        row = db.get(Job, first)
        assert row is not None and row.status == "failed" and row.last_error == "boom"


def test_runner_runs_handlers_and_records_failures(migrated_url: str) -> None:
    sessions = session_factory(make_engine(migrated_url))
    seen: list[Any] = []

    async def ok(payload: dict[str, Any], workspace_id: str | None) -> None:
        seen.append((payload["n"], workspace_id))

    async def bad(payload: dict[str, Any], workspace_id: str | None) -> None:
        raise RuntimeError("salesforce said no")

    q = EmbeddedQueue()
    with sessions() as db:
        good_id = q.enqueue(db, "ok", {"n": 1}, workspace_id="w")
        bad_id = q.enqueue(db, "bad", {}, workspace_id="w")
        db.commit()
    runner = EmbeddedRunner(sessions, {"ok": ok, "bad": bad})

    async def drain() -> None:
        while await runner.run_once():
            pass
    asyncio.run(drain())
    assert seen == [(1, "w")]
    with sessions() as db:
        good, failed = db.get(Job, good_id), db.get(Job, bad_id)
        assert good is not None and good.status == "done"
        assert failed is not None and failed.status == "queued"  # retried later
        assert failed.last_error == "RuntimeError: salesforce said no"


def test_a_long_job_keeps_its_lease(migrated_url: str) -> None:
    """A job running longer than its lease is not handed out again (the heartbeat renews)."""
    sessions = session_factory(make_engine(migrated_url))
    q = EmbeddedQueue()
    with sessions() as db:
        jid = q.enqueue(db, "slow", {}, workspace_id="w", lock_key="sync:w")
        db.commit()
    stolen: list[Any] = []

    async def slow(payload: dict[str, Any], workspace_id: str | None) -> None:
        for _ in range(6):
            await asyncio.sleep(0.2)
            with sessions() as db:
                stolen.append(q.claim(db, LEASE))
                db.commit()

    runner = EmbeddedRunner(sessions, {"slow": slow}, lease=dt.timedelta(seconds=0.3))
    assert asyncio.run(runner.run_once())
    assert stolen == [None] * 6
    with sessions() as db:
        job = db.get(Job, jid)
        assert job is not None and job.status == "done" and job.attempts == 1


def test_the_worker_survives_a_failing_tick(migrated_url: str) -> None:
    sessions = session_factory(make_engine(migrated_url))
    ticks: list[int] = []

    def tick(db: Any) -> None:
        ticks.append(1)
        if len(ticks) == 1:
            raise RuntimeError("database is locked")

    runner = EmbeddedRunner(sessions, {}, on_tick=tick, poll_seconds=0.05)

    async def run_briefly() -> None:
        task = asyncio.create_task(runner.run_forever())
        await asyncio.sleep(0.4)
        assert not task.done()
        task.cancel()
    asyncio.run(run_briefly())
    assert len(ticks) >= 2

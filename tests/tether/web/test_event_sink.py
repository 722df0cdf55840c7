"""The event sink's group commit (POST /api/v1/events), on SQLite and PostgreSQL: requests
stored together in one transaction still succeed or fail each on its own, and a request the
database refuses does not take the others of its group down with it."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.tether.web.conftest import World
from tests.tether.web.test_events_api import ADMIN, REP, email_sent, post, stored
from tether.services import events
from tether.services.errors import Forbidden, Invalid, Unauthorized
from tether.store.db import make_engine, session_factory
from tether.web import event_sink
from tether.web.event_sink import EventSink


@pytest.fixture
def sessions(world: World) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(world.url)
    yield session_factory(engine)
    engine.dispose()


def _group(sink: EventSink, requests: list[tuple[str, list[Any]]]) -> list[Any]:
    """Store these requests as one group (as the sink's thread does with everything that
    waits) and answer each one's result or error."""

    async def run() -> list[Any]:
        loop = asyncio.get_running_loop()
        jobs = [event_sink._Job(key, raw, False, loop.create_future())
                for key, raw in requests]
        await asyncio.to_thread(sink.store, jobs)
        return list(await asyncio.gather(*(j.future for j in jobs), return_exceptions=True))

    return asyncio.run(run())


def test_each_request_of_a_group_succeeds_or_fails_alone(world: World,
                                                         sessions: sessionmaker[Session]
                                                         ) -> None:
    sink = EventSink(sessions)
    answers = _group(sink, [
        (world.member_key, [email_sent("g1")]),
        ("tk_not-a-key", [email_sent("g2")]),
        (world.member_key, [email_sent("g3"), {"id": "g4", "type": "email.sent"}]),
        (world.member_key, [email_sent("g5", user=ADMIN)]),
        (world.admin_key, [email_sent("g6", user=REP), email_sent("g7", user=ADMIN)]),
    ])
    assert answers[0] == ["g1"]
    assert isinstance(answers[1], Unauthorized)
    assert isinstance(answers[2], Invalid) and answers[2].field.startswith("events[1]")
    assert isinstance(answers[3], Forbidden)
    assert answers[4] == ["g6", "g7"]
    assert set(stored(world)) == {"g1", "g6", "g7"}


def test_a_group_the_database_refuses_is_stored_request_by_request(
        world: World, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = events.store

    def store(db: Session, rows: Any) -> None:
        if any(r["id"] == "poison" for r in rows):
            raise RuntimeError("the database refused a row")
        real(db, rows)

    monkeypatch.setattr(events, "store", store)
    answers = _group(EventSink(sessions), [(world.member_key, [email_sent("ok1")]),
                                           (world.member_key, [email_sent("poison")]),
                                           (world.member_key, [email_sent("ok2")])])
    assert answers[0] == ["ok1"] and answers[2] == ["ok2"]
    assert isinstance(answers[1], RuntimeError)
    assert set(stored(world)) == {"ok1", "ok2"}


def test_concurrent_requests_through_the_app_all_land(world: World) -> None:
    """Many requests at once over the app (so the sink groups some): every one answered
    with its own ids, every event stored once."""
    def one(i: int) -> list[str]:
        r = post(world, {"events": [email_sent(f"c{i}-{j}") for j in range(5)]})
        assert r.status_code == 202, r.text
        return list(r.json()["accepted"])

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(one, range(40)))
    assert answers == [[f"c{i}-{j}" for j in range(5)] for i in range(40)]
    assert len(stored(world)) == 200


def test_a_nul_character_is_refused_by_name(world: World) -> None:
    """PostgreSQL cannot store U+0000 in text: a 422 naming the field, not a 500."""
    bad = email_sent("n1")
    bad["message"]["subject"] = "Intro\x00"
    r = post(world, {"events": [email_sent("n0"), bad]})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "events[1].message.subject"
    assert stored(world) == {}

"""Group commit for ``POST /api/v1/events``.

Requests hand their (parsed) body to one thread, which takes every request waiting, checks
each one's API key and events, stores them all in one transaction, commits, and only then
answers them: each event is durable before its 202, and a burst of requests costs one
transaction and two thread hand-offs instead of a transaction and four hand-offs each.
A request that fails (bad key, bad event) is answered with its error and stores nothing;
the others of its group are not affected.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tether.domain.events import DateWindow
from tether.services import events
from tether.services.workspaces import Actor, authenticate_api_key

log = logging.getLogger("tether.ingest")
# Rows (events) one transaction takes at most; a request is never split.
GROUP_ROWS = 5000


@dataclass
class _Job:
    key: str
    raw: list[Any]
    single: bool
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[list[str]]


class EventSink:
    def __init__(self, sessions: sessionmaker[Session],
                 window: Callable[[], DateWindow] | None = None) -> None:
        self.sessions = sessions
        self.window = window  # the dates events may carry, as of now
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    async def submit(self, key: str, raw: list[Any], *, single: bool) -> list[str]:
        """The ids of the stored events, once committed; raises the request's error."""
        self._ensure_thread()
        loop = asyncio.get_running_loop()
        job = _Job(key, raw, single, loop, loop.create_future())
        self._queue.put(job)
        return await job.future

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="tether-event-sink",
                                                daemon=True)
                self._thread.start()

    # -- the sink's thread ------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs, rows, stop = [first], len(first.raw), False
            while rows < GROUP_ROWS:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                jobs.append(job)
                rows += len(job.raw)
            self._store(jobs)
            if stop:
                return

    def _store(self, jobs: list[_Job]) -> None:
        answers: list[tuple[_Job, list[str] | BaseException]] = []
        try:
            with self.sessions() as db:
                seen = _Seen(db, self.window() if self.window else None)
                rows: list[dict[str, Any]] = []
                for job in jobs:
                    try:
                        accepted, job_rows = _check(seen, job)
                    except Exception as exc:  # this request's error; the others go on
                        answers.append((job, exc))
                        continue
                    rows += job_rows
                    answers.append((job, accepted))
                events.store(db, rows)
                db.commit()  # durable before any 202
        except Exception as exc:
            if len(jobs) > 1:  # the database failed the group: each request on its own
                for job in jobs:
                    self._store([job])
                return
            log.exception("storing events failed")
            answers = [(jobs[0], exc)]
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, Any]]] = {}
        for job, answer in answers:
            by_loop.setdefault(job.loop, []).append((job, answer))
        for loop, items in by_loop.items():
            loop.call_soon_threadsafe(_answer, items)


class _Seen:
    """Keys and workspaces' members looked up once per group."""

    def __init__(self, db: Session, window: DateWindow | None) -> None:
        self.db = db
        self.window = window
        self.actors: dict[str, Actor] = {}
        self.members: dict[str, dict[str, str]] = {}

    def actor(self, key: str) -> Actor:
        if key not in self.actors:
            self.actors[key] = authenticate_api_key(self.db, key)
        return self.actors[key]

    def members_of(self, workspace_id: str) -> dict[str, str]:
        if workspace_id not in self.members:
            self.members[workspace_id] = events.members(self.db, workspace_id)
        return self.members[workspace_id]


def _check(seen: _Seen, job: _Job) -> tuple[list[str], list[dict[str, Any]]]:
    """A request's accepted ids and rows, or its error (nothing of it is stored then)."""
    actor = seen.actor(job.key)
    parsed = events.validate(job.raw, single=job.single, window=seen.window)
    rows = events.rows_for(actor, parsed, seen.members_of(actor.workspace_id),
                           single=job.single)
    return [event.id for _, event, _ in parsed], rows


def _answer(items: list[tuple[_Job, list[str] | BaseException]]) -> None:
    for job, answer in items:
        if job.future.done():  # the client went away
            continue
        if isinstance(answer, BaseException):
            job.future.set_exception(answer)
        else:
            job.future.set_result(answer)

"""Group commit for ``POST /api/v1/events``.

Requests hand their (parsed) body to one thread (store.group_commit), which takes every
request waiting, checks each one's API key and events, stores them all in one transaction,
commits, and only then answers them: each event is durable before its 202.
A request that fails (bad key, bad event) is answered with its error and stores nothing;
the others of its group are not affected.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tether.domain.events import DateWindow
from tether.services import events
from tether.services.workspaces import Actor, authenticate_api_key
from tether.store.group_commit import GroupCommit

log = logging.getLogger("tether.ingest")
# Rows (events) one transaction takes at most; a request is never split.
GROUP_ROWS = 5000


@dataclass
class _Job:
    key: str
    raw: list[Any]
    single: bool
    future: asyncio.Future[list[str]]


class EventSink(GroupCommit[_Job]):
    name = "tether-event-sink"
    limit = GROUP_ROWS

    def __init__(self, sessions: sessionmaker[Session],
                 window: Callable[[], DateWindow] | None = None) -> None:
        super().__init__()
        self.sessions = sessions
        self.window = window  # the dates events may carry, as of now

    async def submit(self, key: str, raw: list[Any], *, single: bool) -> list[str]:
        """The ids of the stored events, once committed; raises the request's error."""
        ids: list[str] = await self._submit(lambda future: _Job(key, raw, single, future))
        return ids

    def weight(self, job: _Job) -> int:
        return len(job.raw)

    def store(self, jobs: list[_Job]) -> None:
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
                    self.store([job])
                return
            log.exception("storing events failed")
            answers = [(jobs[0], exc)]
        self.answer(answers)


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


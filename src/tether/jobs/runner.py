"""The embedded runner: an asyncio worker in the web process, claiming jobs from the table."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tether.jobs.queue import EmbeddedQueue, finish, renew
from tether.jobs.rounds import run_rounds

Handler = Callable[[dict[str, Any], str | None], Awaitable[None]]
log = logging.getLogger("tether.jobs")


class EmbeddedRunner:
    def __init__(self, sessions: sessionmaker[Session], handlers: dict[str, Handler], *,
                 queue: EmbeddedQueue | None = None, lease: dt.timedelta = dt.timedelta(
                     minutes=10), poll_seconds: float = 1.0,
                 on_tick: Callable[[Session], object] | None = None) -> None:
        self.sessions = sessions
        self.handlers = handlers
        self.queue = queue or EmbeddedQueue()
        self.lease = lease
        self.poll_seconds = poll_seconds
        self.on_tick = on_tick  # e.g. the periodic scheduler
        self.wakeup = asyncio.Event()

    async def run_once(self) -> bool:
        """Claim and run one due job; answers whether there was one."""
        with self.sessions() as db:
            job = self.queue.claim(db, self.lease)
            db.commit()
            if job is None:
                return False
            job_id, kind, payload, workspace_id, attempt = (
                job.id, job.kind, job.payload, job.workspace_id, job.attempts)
        handler = self.handlers.get(kind)
        error: str | None = None
        heartbeat = asyncio.create_task(self._heartbeat(job_id, attempt))
        try:
            if handler is None:
                error = f"no handler for job kind {kind}"
            else:
                await handler(payload, workspace_id)
        except Exception as exc:  # a failed job is recorded and retried, never lost
            log.exception("job %s (%s) failed", job_id, kind)
            error = f"{type(exc).__name__}: {exc}"
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            with self.sessions() as db:
                finish(db, job_id, error=error, attempt=attempt,
                       retry_in=dt.timedelta(seconds=min(300, 5 * 2 ** random.randint(0, 4))))
                db.commit()
        return True

    async def _heartbeat(self, job_id: str, attempt: int) -> None:
        """Keep the lease while the handler runs: a long audit must not be handed out twice."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            with self.sessions() as db:
                renew(db, job_id, attempt, self.lease)
                db.commit()

    async def drain(self) -> int:
        """The scheduler's tick, then every job due; answers 0, as nothing is left."""
        if self.on_tick is not None:
            with self.sessions() as db:
                self.on_tick(db)
                db.commit()
        while await self.run_once():
            pass
        return 0

    async def run_forever(self) -> None:
        await run_rounds(self.drain, self.wakeup, self.poll_seconds, log)

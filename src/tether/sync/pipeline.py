"""The activity pipeline's loop: plan new events, look again at pending recipients, write.

It runs in the worker (embedded in the web process by default).  Every stage reads and writes
the database only, so a worker killed at any point leaves nothing half-done that the next one
cannot finish.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.orm import Session, sessionmaker

from tether.config import Settings
from tether.jobs.rounds import run_rounds
from tether.security import Vault
from tether.services import planning
from tether.sync.push import Writer

log = logging.getLogger("tether.pipeline")


class ActivityPipeline:
    def __init__(self, sessions: sessionmaker[Session], vault: Vault, settings: Settings, *,
                 poll_seconds: float = 0.1) -> None:
        self.sessions = sessions
        self.writer = Writer(sessions, vault, settings)
        self.poll_seconds = poll_seconds
        self.wakeup = asyncio.Event()

    def _plan(self) -> tuple[int, bool]:
        """How many events were planned, and whether more are waiting to be."""
        with self.sessions() as db:
            new = planning.plan_new_events(db)
            db.commit()
        with self.sessions() as db:
            again = planning.replan_pending(db)
            db.commit()
        return new + again, new >= planning.BATCH

    async def step(self) -> int:
        """One round; answers how much happened (0: idle)."""
        planned, behind = await asyncio.to_thread(self._plan)
        out = await self.writer.step(planning_behind=behind)
        return planned + out.done + out.retried + out.errored

    async def run_forever(self) -> None:
        try:
            await run_rounds(self.step, self.wakeup, self.poll_seconds, log)
        finally:
            await self.writer.aclose()

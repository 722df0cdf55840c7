"""The worker: the job runner (syncs), the activity pipeline, the mail sender, the tracking
processor, the mailbox and calendar watchers and the sequencer, side by side in one event
loop.  The web process embeds it by default; `tether worker` runs it alone."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from tether.config import Settings
from tether.jobs.runner import EmbeddedRunner
from tether.security import Vault
from tether.services import sync as sync_service
from tether.services.calendar_watch import CalendarWatchers
from tether.services.sending import Sender
from tether.services.sequencing import Sequencer
from tether.services.tracking import TrackingProcessor
from tether.services.watching import MailWatchers
from tether.sync.pipeline import ActivityPipeline


@dataclass
class Worker:
    runner: EmbeddedRunner
    pipeline: ActivityPipeline
    sender: Sender
    tracking: TrackingProcessor
    watchers: MailWatchers
    calendars: CalendarWatchers
    sequencer: Sequencer

    async def run_forever(self) -> None:
        tasks = [asyncio.create_task(self.runner.run_forever()),
                 asyncio.create_task(self.pipeline.run_forever()),
                 asyncio.create_task(self.sender.run_forever()),
                 asyncio.create_task(self.tracking.run_forever()),
                 asyncio.create_task(self.watchers.run_forever()),
                 asyncio.create_task(self.calendars.run_forever()),
                 asyncio.create_task(self.sequencer.run_forever())]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def build_worker(sessions: sessionmaker[Session], vault: Vault, settings: Settings) -> Worker:
    runner = EmbeddedRunner(
        sessions, {sync_service.SYNC_JOB: sync_service.sync_handler(sessions, vault, settings)},
        on_tick=sync_service.schedule_due if settings.schedule_syncs else None)
    pipeline = ActivityPipeline(sessions, vault, settings)
    sender = Sender(sessions, vault, settings, on_events=pipeline.wakeup.set)
    return Worker(runner, pipeline, sender,
                  TrackingProcessor(sessions, settings, on_events=pipeline.wakeup.set),
                  MailWatchers(sessions, vault, settings, on_events=pipeline.wakeup.set),
                  CalendarWatchers(sessions, vault, settings, on_events=pipeline.wakeup.set),
                  Sequencer(sessions, vault, settings, on_sent=sender.wakeup.set))

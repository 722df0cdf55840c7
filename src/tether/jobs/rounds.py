"""The worker's loops, written once: do a round, go again at once while there was work,
else sleep until woken or until the poll interval has passed since the round began.

A wake-up that arrives during a round is not lost: the event is cleared before the round,
so the sleep after it returns at once.  An error is logged and the loop goes on: a database
hiccup must not stop a worker for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable


async def run_rounds(step: Callable[[], Awaitable[int]], wakeup: asyncio.Event,
                     poll_seconds: float, log: logging.Logger, *,
                     again: Callable[[int], bool] = bool) -> None:
    """Runs ``step`` forever; ``again(done)`` says whether to go on without sleeping."""
    while True:
        started = time.monotonic()
        wakeup.clear()
        try:
            done = await step()
        except Exception:
            log.exception("%s failed; retrying", getattr(step, "__qualname__", "a round"))
            done = 0
        if again(done):
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), timeout=max(
                0.05, poll_seconds - (time.monotonic() - started)))


def in_thread(step: Callable[[], int]) -> Callable[[], Awaitable[int]]:
    """A blocking round (database work, a synchronous client) as run_rounds takes it."""
    async def run() -> int:
        return await asyncio.to_thread(step)
    return run


def from_any_thread(callback: Callable[[], None]) -> Callable[[], None]:
    """The callback run on the running event loop, whichever thread calls: an asyncio.Event
    set from another thread may not wake its waiter."""
    loop = asyncio.get_running_loop()

    def call() -> None:
        loop.call_soon_threadsafe(callback)
    return call

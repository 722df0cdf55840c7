"""The worker loop: again at once while busy, asleep until woken, never stopped by an error,
and no wake-up lost when it comes in the middle of a round."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from tether.jobs.rounds import run_rounds

log = logging.getLogger("test.rounds")


def run(step_results: list[object], poll: float, wake_during: int | None = None,
        rounds: int | None = None) -> list[float]:
    """Runs the loop over scripted rounds; answers when each round started."""
    started: list[float] = []
    wakeup = asyncio.Event()
    stop = rounds or len(step_results)

    async def step() -> int:
        started.append(time.monotonic())
        i = len(started) - 1
        if i == wake_during:
            wakeup.set()  # as a request nudges the worker mid-round
        if len(started) >= stop:
            raise asyncio.CancelledError
        result = step_results[i]
        if isinstance(result, Exception):
            raise result
        assert isinstance(result, int)
        return result

    async def main() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await run_rounds(step, wakeup, poll, log)

    asyncio.run(main())
    return started


def test_busy_rounds_follow_at_once_and_an_idle_one_sleeps_the_poll_interval() -> None:
    at = run([3, 1, 0, 0], poll=0.3)
    assert at[1] - at[0] < 0.1 and at[2] - at[1] < 0.1
    assert at[3] - at[2] >= 0.25


def test_a_wakeup_during_a_round_is_not_lost() -> None:
    at = run([0, 0, 0], poll=5.0, wake_during=1)
    assert at[2] - at[1] < 1.0  # would be 5 s had the round's nudge been cleared after it


def test_an_error_is_logged_and_the_loop_goes_on() -> None:
    at = run([RuntimeError("database went away"), 0, 0], poll=0.1)
    assert len(at) == 3

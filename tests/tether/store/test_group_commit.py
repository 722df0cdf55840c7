"""The group commit's mechanics, on a store that records its groups."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

import pytest

from tether.store.group_commit import GroupCommit


@dataclass
class Job:
    n: int
    future: asyncio.Future[Any]


class Recorder(GroupCommit[Job]):
    limit = 10

    def __init__(self) -> None:
        super().__init__()
        self.groups: list[list[int]] = []
        self.gate = threading.Event()

    async def submit(self, n: int) -> Any:
        return await self._submit(lambda future: Job(n, future))

    def weight(self, job: Job) -> int:
        return job.n

    def store(self, jobs: list[Job]) -> None:
        self.gate.wait(5)
        self.groups.append([job.n for job in jobs])
        self.answer([(job, ValueError(f"odd {job.n}") if job.n % 2 else job.n * 10)
                     for job in jobs])


def test_waiting_jobs_are_stored_together_up_to_the_limit_and_answered_each() -> None:
    sink = Recorder()

    async def main() -> list[Any]:
        first = asyncio.ensure_future(sink.submit(2))
        await asyncio.sleep(0.05)  # the thread holds the first job at the gate
        rest = [asyncio.ensure_future(sink.submit(n)) for n in (4, 3, 6, 2)]
        await asyncio.sleep(0.05)
        sink.gate.set()
        return await asyncio.gather(first, *rest, return_exceptions=True)

    answers = asyncio.run(main())
    sink.close()
    assert sink.groups == [[2], [4, 3, 6], [2]]  # 4+3+6 reaches the limit of 10
    assert answers[:3] == [20, 40, answers[2]] and str(answers[2]) == "odd 3"
    assert answers[3:] == [60, 20]


def test_jobs_from_two_event_loops_are_answered_on_their_own() -> None:
    sink = Recorder()
    sink.gate.set()
    results: dict[str, Any] = {}

    def on_loop(name: str, n: int) -> None:
        results[name] = asyncio.run(sink.submit(n))

    threads = [threading.Thread(target=on_loop, args=(f"t{n}", n)) for n in (2, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    sink.close()
    assert results == {"t2": 20, "t4": 40}


def test_close_stores_what_is_queued_and_a_later_submit_starts_again() -> None:
    sink = Recorder()
    sink.gate.set()
    assert asyncio.run(sink.submit(2)) == 20
    sink.close()
    with pytest.raises(ValueError, match="odd 1"):
        asyncio.run(sink.submit(1))
    sink.close()
    assert sink.groups == [[2], [1]]

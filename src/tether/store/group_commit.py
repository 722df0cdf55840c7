"""Group commit: requests hand their work to one thread, which takes every request waiting,
stores them in one transaction, commits, and only then answers each on its own event loop.

A burst of requests then costs one transaction and two thread hand-offs instead of a
transaction each.  Subclasses say how a group is stored (``store``) and how much a job
weighs against the group's limit (``weight``); answering, the thread and shutting down are
here once.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar


class Job(Protocol):
    future: asyncio.Future[Any]  # answered on the loop that created it


J = TypeVar("J", bound=Job)
Answer = tuple[J, Any]  # a job and its result, or the exception it raises


class GroupCommit(Generic[J]):
    name = "tether-group-commit"
    limit = 1000  # a group's weight at most; one job always fits

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[J | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def weight(self, job: J) -> int:
        return 1

    def store(self, jobs: list[J]) -> None:
        """Store the group and ``answer`` every job (in the sink's thread)."""
        raise NotImplementedError

    async def _submit(self, make: Callable[[asyncio.Future[Any]], J]) -> Any:
        """Hands over the job ``make`` builds around its future; returns its answer."""
        self._ensure_thread()
        job = make(asyncio.get_running_loop().create_future())
        self._queue.put(job)
        return await job.future

    def close(self) -> None:
        """Stores what is queued, then stops the thread (a later submit starts another)."""
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
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs, weight, stop = [first], self.weight(first), False
            while weight < self.limit:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                jobs.append(job)
                weight += self.weight(job)
            self.store(jobs)
            if stop:
                return

    @staticmethod
    def answer(answers: Sequence[Answer[J]]) -> None:
        """Each job's result (or exception) set on its own loop, one hand-off per loop."""
        by_loop: dict[asyncio.AbstractEventLoop, list[Answer[J]]] = {}
        for job, result in answers:
            by_loop.setdefault(job.future.get_loop(), []).append((job, result))
        for loop, items in by_loop.items():
            loop.call_soon_threadsafe(_resolve, items)


def _resolve(items: list[Answer[Any]]) -> None:
    for job, result in items:
        if job.future.done():  # the client went away
            continue
        if isinstance(result, BaseException):
            job.future.set_exception(result)
        else:
            job.future.set_result(result)

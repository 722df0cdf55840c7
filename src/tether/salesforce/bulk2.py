"""Bulk API 2.0 query jobs: create, poll, stream each CSV results page, delete.

A results page is decoded as it arrives and turned into rows record by record: at no time is
a whole page (up to ``maxRecords`` rows) in memory.  An interrupted read resumes from the page
it was reading: ``Bulk2Query.job_id`` and ``Bulk2Query.locator`` are the checkpoint.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from tether.salesforce.errors import (
    BULK_JOB_FAILED,
    TIMEOUT,
    SalesforceError,
    transport_error,
)
from tether.salesforce.retry import should_retry

if TYPE_CHECKING:
    from tether.salesforce.transport import SalesforceTransport

LOCATOR_HEADER = "Sforce-Locator"
COUNT_HEADER = "Sforce-NumberOfRecords"
# Long text areas hold up to 131,072 characters; the csv module's default limit is that exact
# size, so one escaped quote would break it.
csv.field_size_limit(max(csv.field_size_limit(), 1 << 24))


@dataclass(frozen=True)
class PollPolicy:
    """How often to ask whether a job finished: ``initial`` seconds, growing by ``factor`` up
    to ``max_interval``; give up (a TIMEOUT error: resume later) after ``timeout`` seconds."""

    initial: float = 0.5
    factor: float = 1.5
    max_interval: float = 10.0
    timeout: float | None = 3600.0

    def delays(self) -> Iterator[float]:
        delay = self.initial
        while True:
            yield delay
            delay = min(self.max_interval, delay * self.factor)


class CsvRecords:
    """Text chunks in, CSV records out, holding back at most the unfinished end.

    Each complete stretch (it ends at a ``\n`` with its quotes balanced) is parsed whole by
    the C csv reader over ``io.StringIO(newline="")``: line endings are kept, so a quoted
    ``\r``, ``\r\n``, form feed or U+2028 inside a value reaches it unchanged (which
    ``httpx.Response.aiter_lines``, splitting like ``str.splitlines`` and dropping the
    endings, would not).
    """

    def __init__(self, delimiter: str = ",") -> None:
        self._delimiter = delimiter
        self._tail = ""  # text not yet parsed: after the last complete record

    def feed(self, text: str) -> Iterator[list[str]]:
        if not text:
            return
        buffer = self._tail + text
        cut = buffer.rfind("\n") + 1
        head = buffer[:cut]
        if not head or head.count('"') % 2:
            self._tail = buffer  # inside a quoted value: wait for the rest of the record
            return
        self._tail = buffer[cut:]
        yield from self._parse(head)

    def close(self) -> Iterator[list[str]]:
        tail, self._tail = self._tail, ""
        if tail.count('"') % 2:
            raise ValueError("the CSV ends inside a quoted value")
        if tail:
            yield from self._parse(tail)

    def _parse(self, text: str) -> Iterator[list[str]]:
        for values in csv.reader(io.StringIO(text, newline=""), delimiter=self._delimiter,
                                 strict=True):
            if values:  # a blank line is no record
                yield values


class Bulk2Query:
    """An async iterator of rows (``dict[str, str]``; null is ``""``) of one query job.

    ``job_id`` is known once the job exists, ``records_count`` once it completed; ``locator``
    is the locator of the page being read (None for the first).  To resume after a failure,
    pass ``job_id`` and ``locator`` to ``SalesforceClient.bulk2_resume``: that page is read
    again from its first row.  The job is deleted after its last page, and kept when reading
    stops early (Salesforce removes jobs after seven days).
    """

    def __init__(self, transport: SalesforceTransport, soql: str | None, *,
                 all_rows: bool = False, max_records: int = 50_000,
                 poll: PollPolicy | None = None, job_id: str | None = None,
                 locator: str | None = None, delete_job: bool = True) -> None:
        if soql is None and job_id is None:
            raise ValueError("a query or a job id is needed")
        self._transport = transport
        self.soql = soql
        self.all_rows = all_rows
        self.max_records = max_records
        self.poll = poll or PollPolicy()
        self.delete_job = delete_job
        self.job_id = job_id
        self.locator = locator or None
        self.next_locator: str | None = None
        self.records_count: int | None = None
        self.page_records: int | None = None  # Sforce-NumberOfRecords of the current page
        self.rows_read = 0
        self.done = False
        self._batches: AsyncGenerator[list[dict[str, str]], None] = self._run()
        self._buffer: deque[dict[str, str]] = deque()

    def __aiter__(self) -> Bulk2Query:
        return self

    async def __anext__(self) -> dict[str, str]:
        while not self._buffer:
            self._buffer.extend(await self._batches.__anext__())
        return self._buffer.popleft()

    def batches(self) -> AsyncIterator[list[dict[str, str]]]:
        """The rows a parsed chunk of text at a time: cheaper per row for large exports.
        (Use either this or plain iteration on one query, not both.)"""
        return self._batches

    async def aclose(self) -> None:
        await self._batches.aclose()

    async def _run(self) -> AsyncGenerator[list[dict[str, str]], None]:
        if self.job_id is None:
            await self._create()
        info = await self._wait()
        self.records_count = int(info.get("numberRecordsProcessed") or 0)
        while True:
            async with aclosing(self._page()) as batches:
                async for batch in batches:
                    yield batch
            if self.next_locator in (None, "", "null"):
                break
            self.locator = self.next_locator
        self.done = True
        if self.delete_job:
            await self._transport.request("DELETE", f"jobs/query/{self.job_id}")

    async def _create(self) -> None:
        # Sending the creation twice makes a second job and changes no data: idempotent.
        job = await self._transport.json(
            "POST", "jobs/query", idempotent=True,
            json={"operation": "queryAll" if self.all_rows else "query", "query": self.soql,
                  "contentType": "CSV", "columnDelimiter": "COMMA", "lineEnding": "LF"})
        self.job_id = str(job["id"])

    async def _wait(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = None if self.poll.timeout is None else loop.time() + self.poll.timeout
        for delay in self.poll.delays():
            info: dict[str, Any] = await self._transport.json("GET",
                                                              f"jobs/query/{self.job_id}")
            state = info.get("state")
            if state == "JobComplete":
                return info
            if state in ("Failed", "Aborted"):
                raise SalesforceError(400, BULK_JOB_FAILED,
                                      f"job {self.job_id} {state}: {info.get('errorMessage')}")
            if deadline is not None and loop.time() + delay > deadline:
                raise SalesforceError(0, TIMEOUT, f"job {self.job_id} still {state} after "
                                      f"{self.poll.timeout} s; resume it later")
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _page(self) -> AsyncGenerator[list[dict[str, str]], None]:
        """The current page's rows, in batches; a connection lost mid-page is retried,
        skipping the rows already given (a page's content never changes)."""
        transport = self._transport
        given = 0
        tries = 0
        while True:
            try:
                async with aclosing(self._stream_page()) as batches:
                    async for start, batch in batches:
                        fresh = batch[max(0, given - start):]
                        if fresh:
                            given = start + len(batch)
                            self.rows_read += len(fresh)
                            yield fresh
                return
            except httpx.HTTPError as exc:
                error = transport_error(exc, sent=True)
                if not should_retry(error, attempt=tries, max_retries=transport.max_retries,
                                    idempotent=True):
                    raise error from exc
            await asyncio.sleep(transport.backoff.delay(tries))
            tries += 1

    async def _stream_page(self) -> AsyncGenerator[tuple[int, list[dict[str, str]]], None]:
        """(index of the first row, rows) for each chunk of the page's text."""
        params: dict[str, str | int] = {"maxRecords": self.max_records}
        if self.locator:
            params["locator"] = self.locator
        async with self._transport.stream("GET", f"jobs/query/{self.job_id}/results",
                                          params=params,
                                          headers={"Accept": "text/csv"}) as response:
            self.next_locator = response.headers.get(LOCATOR_HEADER)
            count = response.headers.get(COUNT_HEADER)
            self.page_records = int(count) if count and count.isdigit() else None
            parser = CsvRecords()
            header: list[str] | None = None
            index = 0

            def rows(records: Iterator[list[str]]) -> list[dict[str, str]]:
                nonlocal header
                out: list[dict[str, str]] = []
                for values in records:
                    if header is None:
                        header = [values[0].lstrip("\ufeff"), *values[1:]]
                    else:
                        out.append(dict(zip(header, values, strict=True)))
                return out
            async for chunk in response.aiter_text():
                batch = rows(parser.feed(chunk))
                if batch:
                    yield index, batch
                    index += len(batch)
            batch = rows(parser.close())
            if batch:
                yield index, batch

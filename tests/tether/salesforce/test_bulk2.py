"""Bulk API 2.0 query jobs against sfemu: paging by locator, CSV quirks, resume, a stream cut
mid-page, queryAll, the job deleted at the end."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import Sfemu
from tests.tether.salesforce.conftest import Connect, paths, ssl_context
from tether.salesforce import ErrorKind, PollPolicy, SalesforceError

pytestmark = pytest.mark.anyio
POLL = PollPolicy(initial=0.02, factor=1.5, max_interval=0.2, timeout=30)
TRICKY = 'Line one\nline "two", with a comma\r\nthird\x0cpage\u2028sep, é'


@pytest.fixture
def seeded(sfemu: Sfemu, org: dict[str, str]) -> int:
    counts = sfemu.admin("POST", f"/orgs/{org['name']}/seed", json={"contacts": 2500}).json()
    return int(counts["contacts"])


async def test_bulk2_query_streams_every_page(connect: Connect, seeded: int,
                                              sent: list[httpx.Request]) -> None:
    sf = await connect()
    tricky = await sf.create("Contact", {"LastName": "Quote\"d", "Description": TRICKY})
    sent.clear()
    job = sf.bulk2_query("SELECT Id, LastName, Description, Account.Name FROM Contact",
                         max_records=1000, poll=POLL)
    rows = [row async for row in job]
    assert len(rows) == job.records_count == seeded + 1 and job.done
    assert list(rows[0]) == ["Id", "LastName", "Description", "Account.Name"]
    assert len({r["Id"] for r in rows}) == seeded + 1
    mine = next(r for r in rows if r["Id"] == tricky)
    assert mine == {"Id": tricky, "LastName": 'Quote"d', "Description": TRICKY,
                    "Account.Name": ""}
    assert sum(1 for r in rows if r["Account.Name"]) == seeded
    results = [r for r in sent if r.url.path.endswith("/results")]
    assert len(results) == 3 and all(r.url.params["maxRecords"] == "1000" for r in results)
    assert "locator" not in results[0].url.params
    assert paths(sent, "DELETE") == [f"/services/data/v59.0/jobs/query/{job.job_id}"]
    with pytest.raises(SalesforceError) as caught:
        await sf.bulk2_job(job.job_id or "")
    assert caught.value.status == 404


async def test_bulk2_resume_from_the_page_being_read(connect: Connect, seeded: int) -> None:
    sf = await connect()
    job = sf.bulk2_query("SELECT Id FROM Contact", max_records=1000, poll=POLL)
    first: list[str] = []
    async for row in job:
        first.append(row["Id"])
        if len(first) == 1500:
            break
    await job.aclose()
    assert job.locator is not None and not job.done and job.job_id
    assert (await sf.bulk2_job(job.job_id))["state"] == "JobComplete"  # kept for resuming
    resumed = sf.bulk2_resume(job.job_id, locator=job.locator, max_records=1000, poll=POLL)
    rest = [row["Id"] async for row in resumed]
    assert len(rest) == seeded - 1000  # the interrupted page is read again from its start
    assert set(first[1000:]) <= set(rest)
    assert len(set(first[:1000]) | set(rest)) == seeded


class _CutOnce(httpx.AsyncBaseTransport):
    """Drops the connection in the middle of the first results page it carries."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.cut = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if self.cut or not request.url.path.endswith("/results"):
            return response
        self.cut = True
        body = response.stream
        assert isinstance(body, httpx.AsyncByteStream)

        async def cut_short() -> AsyncIterator[bytes]:
            given = 0
            async for chunk in body:
                yield chunk[:5000]
                given += 1
                if given == 1:
                    await body.aclose()
                    raise httpx.ReadError("connection reset by peer")

        return httpx.Response(response.status_code, headers=response.headers,
                              stream=_Stream(cut_short()), extensions=response.extensions)

    async def aclose(self) -> None:
        await self.inner.aclose()


class _Stream(httpx.AsyncByteStream):
    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.chunks:
            yield chunk


async def test_a_page_cut_mid_stream_is_read_again_without_repeats(
        connect: Connect, sfemu: Sfemu, seeded: int) -> None:
    cutter = _CutOnce(httpx.AsyncHTTPTransport(verify=ssl_context(sfemu)))
    async with httpx.AsyncClient(transport=cutter, timeout=15) as http:
        sf = await connect(http=http)
        ids = [row["Id"] async for row in sf.bulk2_query("SELECT Id, Email FROM Contact",
                                                         poll=POLL)]
    assert cutter.cut
    assert len(ids) == len(set(ids)) == seeded


async def test_bulk2_query_all_rows_and_errors(connect: Connect) -> None:
    sf = await connect()
    gone = await sf.create("Contact", {"LastName": "Gone"})
    await sf.delete("Contact", gone)
    live = [r async for r in sf.bulk2_query("SELECT Id FROM Contact", poll=POLL)]
    assert live == []
    every = [r async for r in sf.bulk2_query("SELECT Id, IsDeleted FROM Contact",
                                             all_rows=True, poll=POLL)]
    assert every == [{"Id": gone, "IsDeleted": "true"}]
    with pytest.raises(SalesforceError) as caught:
        [r async for r in sf.bulk2_query("SELECT COUNT() FROM Contact", poll=POLL)]
    assert caught.value.kind is ErrorKind.PERMANENT


async def test_batches_give_the_same_rows_as_plain_iteration(connect: Connect,
                                                             seeded: int) -> None:
    sf = await connect()
    plain = [r async for r in sf.bulk2_query("SELECT Id, Email FROM Contact", poll=POLL,
                                             max_records=1000)]
    query = sf.bulk2_query("SELECT Id, Email FROM Contact", poll=POLL, max_records=1000)
    batches = [batch async for batch in query.batches()]
    assert len(batches) >= 3  # at least one per page
    assert [r for batch in batches for r in batch] == plain
    assert query.rows_read == seeded and query.done

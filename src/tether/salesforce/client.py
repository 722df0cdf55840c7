"""The Salesforce client: REST resources under Salesforce's own names.

    async with SalesforceClient(credentials, app, on_usage=ledger.record,
                                on_refresh=store_tokens) as sf:
        contact_id = await sf.create("Contact", {"LastName": "Lovelace"})
        async for row in sf.query("SELECT Id, Email FROM Contact"):
            ...

Transport concerns (token, refresh, retries, usage) live in :mod:`transport`, shapes of
composite and collections in :mod:`composite`, Bulk 2.0 in :mod:`bulk2`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote as urlquote

from tether.salesforce.auth import Identity, parse_identity
from tether.salesforce.bulk2 import Bulk2Query, PollPolicy
from tether.salesforce.composite import (
    COMPOSITE_COLLECTIONS_LIMIT,
    COMPOSITE_LIMIT,
    CompositeResult,
    CompositeSubrequest,
    SaveResult,
    collection_request,
    save_results,
)
from tether.salesforce.datetimes import format_param, parse_datetime
from tether.salesforce.errors import SalesforceError, error_from_body
from tether.salesforce.transport import SalesforceTransport

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class QueryPage:
    total_size: int
    done: bool
    records: list[JsonObject]
    next_records_url: str | None


@dataclass(frozen=True)
class UpdatedRecords:
    ids: list[str]
    latest_date_covered: dt.datetime


@dataclass(frozen=True)
class DeletedRecord:
    id: str
    deleted_date: dt.datetime


@dataclass(frozen=True)
class DeletedRecords:
    records: list[DeletedRecord]
    earliest_date_available: dt.datetime | None
    latest_date_covered: dt.datetime


def _segment(value: str) -> str:
    return urlquote(value, safe="")


class SalesforceClient(SalesforceTransport):
    # -- org and metadata -----------------------------------------------------------------
    async def versions(self) -> list[JsonObject]:
        """``GET /services/data/``: the API versions the instance serves (not counted)."""
        result: list[JsonObject] = await self.json("GET", "/services/data/")
        return result

    async def limits(self) -> JsonObject:
        """``{"DailyApiRequests": {"Max": …, "Remaining": …}, …}``"""
        result: JsonObject = await self.json("GET", "limits")
        return result

    async def identity(self) -> Identity:
        """The connected user and org (GET the identity URL; refreshes like any call)."""
        return parse_identity(await self.json("GET", self.credentials.identity_url))

    async def describe_global(self) -> JsonObject:
        result: JsonObject = await self.json("GET", "sobjects")
        return result

    async def describe(self, sobject: str) -> JsonObject:
        result: JsonObject = await self.json("GET", f"sobjects/{_segment(sobject)}/describe")
        return result

    async def describe_each(self, sobjects: Sequence[str]) -> list[JsonObject]:
        """Several describes, in one composite call when there are several."""
        if len(sobjects) <= 1:
            return [await self.describe(s) for s in sobjects]
        out: list[JsonObject] = []
        for start in range(0, len(sobjects), COMPOSITE_LIMIT):
            for result in await self.composite([
                    CompositeSubrequest("GET", f"sobjects/{_segment(s)}/describe", f"d{i}")
                    for i, s in enumerate(sobjects[start:start + COMPOSITE_LIMIT])]):
                out.append(result.checked())
        return out

    async def describe_layouts(self, sobject: str) -> JsonObject:
        result: JsonObject = await self.json(
            "GET", f"sobjects/{_segment(sobject)}/describe/layouts")
        return result

    # -- records --------------------------------------------------------------------------
    async def get(self, sobject: str, record_id: str,
                  fields: Sequence[str] | None = None) -> JsonObject:
        params = {"fields": ",".join(fields)} if fields else None
        result: JsonObject = await self.json(
            "GET", f"sobjects/{_segment(sobject)}/{_segment(record_id)}", params=params)
        return result

    async def create(self, sobject: str, fields: Mapping[str, Any], *,
                     headers: Mapping[str, str] | None = None) -> str:
        """The new record's id.  A create whose answer was lost raises with ``ambiguous``
        set and is not sent again: the caller finds out whether the record exists."""
        body = await self.json("POST", f"sobjects/{_segment(sobject)}", json=dict(fields),
                               headers=headers)
        return str(body["id"])

    async def update(self, sobject: str, record_id: str, fields: Mapping[str, Any], *,
                     headers: Mapping[str, str] | None = None) -> None:
        await self.request("PATCH", f"sobjects/{_segment(sobject)}/{_segment(record_id)}",
                           json=dict(fields), headers=headers)

    async def upsert(self, sobject: str, ext_field: str, value: str,
                     fields: Mapping[str, Any], *,
                     headers: Mapping[str, str] | None = None) -> tuple[str, bool]:
        """(id, created).  Several matches raise (status 300).  Retried after a lost answer,
        an upsert that had created the record reports ``created=False``."""
        response = await self.request(
            "PATCH", f"sobjects/{_segment(sobject)}/{_segment(ext_field)}/{_segment(value)}",
            json=dict(fields), headers=headers)
        body = response.json()
        return str(body["id"]), bool(body.get("created", response.status_code == 201))

    async def delete(self, sobject: str, record_id: str) -> None:
        await self.request("DELETE", f"sobjects/{_segment(sobject)}/{_segment(record_id)}")

    # -- query ----------------------------------------------------------------------------
    async def query_page(self, soql: str | None = None, *, next_records_url: str | None = None,
                         include_deleted: bool = False,
                         batch_size: int | None = None) -> QueryPage:
        """One page: the first of ``soql``, or the one at ``next_records_url``."""
        headers = {"Sforce-Query-Options": f"batchSize={batch_size}"} if batch_size else None
        if next_records_url is not None:
            body = await self.json("GET", next_records_url, headers=headers)
        elif soql is not None:
            body = await self.json("GET", "queryAll" if include_deleted else "query",
                                   params={"q": soql}, headers=headers)
        else:
            raise ValueError("a query or a next_records_url is needed")
        return QueryPage(total_size=int(body.get("totalSize", 0)), done=bool(body["done"]),
                         records=list(body.get("records") or []),
                         next_records_url=body.get("nextRecordsUrl"))

    async def query(self, soql: str, *, batch_size: int | None = None,
                    include_deleted: bool = False) -> AsyncIterator[JsonObject]:
        """Every record of ``soql``, page after page (``batch_size``: 200 to 2,000 a page)."""
        page = await self.query_page(soql, include_deleted=include_deleted,
                                     batch_size=batch_size)
        while True:
            for record in page.records:
                yield record
            if page.done or not page.next_records_url:
                return
            page = await self.query_page(next_records_url=page.next_records_url,
                                         batch_size=batch_size)

    def query_all(self, soql: str, *, batch_size: int | None = None) -> AsyncIterator[JsonObject]:
        """``queryAll``: deleted and merged records too (``IsDeleted``, ``MasterRecordId``)."""
        return self.query(soql, batch_size=batch_size, include_deleted=True)

    # -- replication ----------------------------------------------------------------------
    async def get_updated(self, sobject: str, start: dt.datetime,
                          end: dt.datetime) -> UpdatedRecords:
        body = await self.json("GET", f"sobjects/{_segment(sobject)}/updated",
                               params={"start": format_param(start), "end": format_param(end)})
        return UpdatedRecords(ids=[str(i) for i in body.get("ids") or []],
                              latest_date_covered=parse_datetime(body["latestDateCovered"]))

    async def get_deleted(self, sobject: str, start: dt.datetime,
                          end: dt.datetime) -> DeletedRecords:
        body = await self.json("GET", f"sobjects/{_segment(sobject)}/deleted",
                               params={"start": format_param(start), "end": format_param(end)})
        earliest = body.get("earliestDateAvailable")
        return DeletedRecords(
            records=[DeletedRecord(str(r["id"]), parse_datetime(r["deletedDate"]))
                     for r in body.get("deletedRecords") or []],
            earliest_date_available=parse_datetime(earliest) if earliest else None,
            latest_date_covered=parse_datetime(body["latestDateCovered"]))

    # -- composite ------------------------------------------------------------------------
    async def composite(self, subrequests: Sequence[CompositeSubrequest], *,
                        all_or_none: bool = False) -> list[CompositeResult]:
        """Up to 25 subrequests in one call (``@{ref.id}`` references between them).  Sent
        again after a lost answer only when none of them is a POST."""
        if not 0 < len(subrequests) <= COMPOSITE_LIMIT:
            raise ValueError(f"composite takes 1 to {COMPOSITE_LIMIT} subrequests")
        body = await self.json(
            "POST", "composite",
            json={"allOrNone": all_or_none,
                  "compositeRequest": [s.to_json(self.api_version) for s in subrequests]},
            idempotent=all(s.method.upper() != "POST" for s in subrequests))
        return [CompositeResult.from_json(item) for item in body["compositeResponse"]]

    # -- sObject Collections (≤ 200 records a call: the caller chunks) --------------------
    async def collections_create(self, records: Sequence[Mapping[str, Any]], *,
                                 sobject: str | None = None, all_or_none: bool = False,
                                 headers: Mapping[str, str] | None = None) -> list[SaveResult]:
        return await self.collection(collection_request(
            "create", sobject, records, all_or_none=all_or_none), headers)

    async def collections_update(self, records: Sequence[Mapping[str, Any]], *,
                                 sobject: str | None = None, all_or_none: bool = False,
                                 headers: Mapping[str, str] | None = None) -> list[SaveResult]:
        """Each record carries its ``Id``."""
        return await self.collection(collection_request(
            "update", sobject, records, all_or_none=all_or_none), headers)

    async def collections_upsert(self, sobject: str, ext_field: str,
                                 records: Sequence[Mapping[str, Any]], *,
                                 all_or_none: bool = False,
                                 headers: Mapping[str, str] | None = None) -> list[SaveResult]:
        return await self.collection(collection_request(
            "upsert", sobject, records, ext_field=ext_field, all_or_none=all_or_none), headers)

    async def collections_delete(self, ids: Sequence[str], *,
                                 all_or_none: bool = False) -> list[SaveResult]:
        if not ids:
            return []
        return await self.collection(collection_request(
            "delete", None, ids=ids, all_or_none=all_or_none))

    async def collection(self, request: CompositeSubrequest,
                         headers: Mapping[str, str] | None = None) -> list[SaveResult]:
        """One sObject Collections call on its own (see ``collection_request``)."""
        if request.body is not None and not request.body["records"]:
            return []
        return save_results(await self.json(request.method, request.url, json=request.body,
                                            headers=headers))

    async def collections(self, requests: Sequence[CompositeSubrequest]
                          ) -> list[list[SaveResult] | SalesforceError]:
        """Up to five sObject Collections calls in one composite call (one API call for up
        to 1,000 records), each with its own outcome: its records' results, or the error
        Salesforce answered for that subrequest.  An error of the composite call itself is
        raised, as for one call (``ambiguous`` when its outcome is unknown)."""
        if not 0 < len(requests) <= COMPOSITE_COLLECTIONS_LIMIT:
            raise ValueError(f"composite takes 1 to {COMPOSITE_COLLECTIONS_LIMIT} sObject "
                             "Collections subrequests")
        if len(requests) == 1:
            return [await self.collection(requests[0])]
        named = [replace(r, reference_id=f"c{i}") for i, r in enumerate(requests)]
        results = await self.composite(named)
        return [save_results(r.body) if r.ok else error_from_body(r.status, r.body)
                for r in results]

    async def query_each(self, soqls: Sequence[str]) -> list[list[JsonObject]]:
        """Every record of each query, the first pages of up to five fetched in one composite
        call; a query with more pages reads them one call each."""
        out: list[list[JsonObject]] = []
        for start in range(0, len(soqls), COMPOSITE_COLLECTIONS_LIMIT):
            part = soqls[start:start + COMPOSITE_COLLECTIONS_LIMIT]
            if len(part) == 1:
                out.append([r async for r in self.query(part[0])])
                continue
            results = await self.composite([
                CompositeSubrequest("GET", f"query?q={urlquote(q, safe='')}", f"q{i}")
                for i, q in enumerate(part)])
            for result in results:
                body = result.checked()
                records = list(body.get("records") or [])
                next_url = body.get("nextRecordsUrl")
                while next_url:
                    page = await self.query_page(next_records_url=next_url)
                    records += page.records
                    next_url = None if page.done else page.next_records_url
                out.append(records)
        return out

    # -- Bulk API 2.0 ---------------------------------------------------------------------
    def bulk2_query(self, soql: str, *, all_rows: bool = False, max_records: int = 50_000,
                    poll: PollPolicy | None = None, delete_job: bool = True) -> Bulk2Query:
        """Rows of a Bulk 2.0 query job, streamed (``all_rows``: queryAll, with deleted
        records).  ``async for row in sf.bulk2_query(…)``; the returned object also tells
        ``job_id``, ``records_count`` and the ``locator`` to resume from."""
        return Bulk2Query(self, soql, all_rows=all_rows, max_records=max_records, poll=poll,
                          delete_job=delete_job)

    def bulk2_resume(self, job_id: str, *, locator: str | None = None,
                     max_records: int = 50_000, poll: PollPolicy | None = None,
                     delete_job: bool = True) -> Bulk2Query:
        """Continue reading a job from the page at ``locator`` (None: from the start)."""
        return Bulk2Query(self, None, job_id=job_id, locator=locator, max_records=max_records,
                          poll=poll, delete_job=delete_job)

    async def bulk2_job(self, job_id: str) -> JsonObject:
        result: JsonObject = await self.json("GET", f"jobs/query/{_segment(job_id)}")
        return result

    async def bulk2_delete_job(self, job_id: str) -> None:
        await self.request("DELETE", f"jobs/query/{_segment(job_id)}")

"""Salesforce → Tether: the initial state audit (Bulk 2.0), interval sync (one composite call
when changes are few), deletions (getDeleted) and field metadata (describe + layouts).

Every run leaves a sync_run record.  Writes to the mirror go through `mirror.upsert`, so the
three paths (pull, real-time webhook, audit) can overlap in any order without harm.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tether.salesforce.bulk2 import PollPolicy
from tether.salesforce.client import SalesforceClient
from tether.salesforce.composite import (
    COMPOSITE_COLLECTIONS_LIMIT,
    COMPOSITE_LIMIT,
    CompositeSubrequest,
)
from tether.salesforce.datetimes import format_datetime, format_param, parse_datetime, soql_datetime
from tether.salesforce.errors import ErrorKind, SalesforceError
from tether.store.models import (
    CustomObjectConfig,
    FieldMetadata,
    SyncRun,
    SyncState,
    as_utc,
    utcnow,
)
from tether.sync import fields as fieldmeta
from tether.sync import mirror
from tether.sync.runs import finish_run, run_json, start_run

AUDIT_BATCH = 5000
AUDIT_PARALLEL_JOBS = 3
# Notice a finished job within a second or two (each poll is one API call).
AUDIT_POLL = PollPolicy(initial=0.25, factor=1.25, max_interval=2.0)
# Re-read this much before the watermark: transactions that committed late with earlier
# SystemModstamps, and clock skew.  Re-reading is harmless (newer-wins), only costly.
DEFAULT_OVERLAP = dt.timedelta(minutes=1)
DELETIONS_WINDOW = dt.timedelta(days=15)  # what Salesforce keeps in the recycle bin

Progress = Callable[[str, int, int | None], None]


@dataclass
class CallCounter:
    """Counts the API calls a run makes (every answer carrying Sforce-Limit-Info)."""

    calls: int = 0
    last: tuple[int, int] | None = None
    listeners: list[Callable[[str, int, int], None]] = field(default_factory=list)

    def __call__(self, org_id: str, used: int, maximum: int) -> None:
        self.calls += 1
        self.last = (used, maximum)
        for listener in self.listeners:
            listener(org_id, used, maximum)


@dataclass
class PullContext:
    sessions: sessionmaker[Session]
    client: SalesforceClient
    workspace_id: str
    counter: CallCounter
    progress: Progress | None = None
    overlap: dt.timedelta = DEFAULT_OVERLAP
    writes: asyncio.Lock = field(default_factory=asyncio.Lock)
    tally: mirror.Tally = field(default_factory=mirror.Tally)  # this run's, for its record


T = TypeVar("T")


async def _write(ctx: PullContext, fn: Callable[[], T]) -> T:
    """Mirror writes run in a thread, one at a time: waiting for the database (SQLite's one
    write lock, held by ingest or planning) must not stall the event loop, which serves
    requests in the embedded layout; and writes stay whole transactions, never interleaved."""
    async with ctx.writes:
        return await asyncio.to_thread(fn)


def objects_for(db: Session, workspace_id: str) -> list[str]:
    custom = db.scalars(select(CustomObjectConfig.sobject).where(
        CustomObjectConfig.workspace_id == workspace_id).order_by(CustomObjectConfig.sobject))
    return [*mirror.MIRRORED, *custom]


def _state(db: Session, workspace_id: str, sobject: str) -> SyncState:
    state = db.get(SyncState, (workspace_id, sobject))
    if state is None:
        state = SyncState(workspace_id=workspace_id, sobject=sobject, needs_audit=True)
        db.add(state)
        db.flush()
    return state


def flag_inconsistency(db: Session, workspace_id: str, sobject: str) -> None:
    """A write found a record unknown or deleted: re-audit that object at the next sync."""
    _state(db, workspace_id, sobject).needs_audit = True


# -- fields -----------------------------------------------------------------------------------
async def sync_fields(ctx: PullContext) -> int:
    """describe and describe/layouts of every mirrored object, 12 objects per composite call."""
    with ctx.sessions() as db:
        objects = objects_for(db, ctx.workspace_id)
    updated = 0
    per_call = COMPOSITE_LIMIT // 2
    for start in range(0, len(objects), per_call):
        chunk = objects[start:start + per_call]
        subrequests = [s for o in chunk for s in (
            CompositeSubrequest("GET", f"sobjects/{o}/describe", f"d_{o}"),
            CompositeSubrequest("GET", f"sobjects/{o}/describe/layouts", f"l_{o}"))]
        results = {r.reference_id: r for r in await ctx.client.composite(subrequests)}
        with ctx.sessions() as db:
            for sobject in chunk:
                describe, layouts = results[f"d_{sobject}"], results[f"l_{sobject}"]
                if not describe.ok:
                    continue  # no access to this object for the Sync User: nothing to mirror
                row = db.get(FieldMetadata, (ctx.workspace_id, sobject)) or FieldMetadata(
                    workspace_id=ctx.workspace_id, sobject=sobject)
                row.fields = list(describe.body.get("fields", []))
                row.layout_required = fieldmeta.layout_required(layouts.body) \
                    if layouts.ok else []
                row.fetched_at = utcnow()
                db.merge(row)
                updated += 1
            db.commit()
    return updated


def _field_info(db: Session, workspace_id: str, sobject: str
                ) -> tuple[list[str], dict[str, str]] | None:
    row = db.get(FieldMetadata, (workspace_id, sobject))
    if row is None:
        return None
    describe = {"fields": row.fields}
    return fieldmeta.selectable_fields(describe), fieldmeta.field_types(describe)


async def _ensure_fields(ctx: PullContext) -> None:
    with ctx.sessions() as db:
        missing = [o for o in objects_for(db, ctx.workspace_id)
                   if db.get(FieldMetadata, (ctx.workspace_id, o)) is None]
    if missing:
        await sync_fields(ctx)


# -- audit ------------------------------------------------------------------------------------
async def audit(ctx: PullContext, objects: list[str] | None = None) -> int:
    """Every record of every mirrored object through Bulk 2.0, streamed and committed in
    batches; an interrupted audit resumes at the results page it was reading."""
    await _ensure_fields(ctx)
    with ctx.sessions() as db:
        targets = objects or objects_for(db, ctx.workspace_id)
    # A few objects at a time: Salesforce prepares one job's results while Tether reads
    # another's.  Mirror writes stay whole transactions, so they never interleave.
    gate = asyncio.Semaphore(AUDIT_PARALLEL_JOBS)

    async def one(sobject: str) -> int:
        async with gate:
            return await _audit_object(ctx, sobject)
    # Each object on its own: one that fails does not stop the others (it stays flagged
    # for audit and is tried again at the next sync).
    results = await asyncio.gather(*(one(o) for o in targets), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return sum(r for r in results if isinstance(r, int))


async def _audit_object(ctx: PullContext, sobject: str) -> int:
    try:
        return await _audit_object_once(ctx, sobject)
    except SalesforceError as exc:
        with ctx.sessions() as db:
            state = _state(db, ctx.workspace_id, sobject)
            resuming = state.audit_job_id is not None
            if not resuming or exc.error_code not in _JOB_GONE:
                raise
            # The job to resume is gone (Salesforce keeps them seven days): start afresh.
            state.audit_job_id = state.audit_locator = None
            state.audited_at = None
            db.commit()
    return await _audit_object_once(ctx, sobject)


_JOB_GONE = frozenset({"NOT_FOUND", "INVALIDJOB", "INVALIDJOBSTATE", "BULK_JOB_FAILED",
                       "INVALID_LOCATOR"})


async def _audit_object_once(ctx: PullContext, sobject: str) -> int:
    with ctx.sessions() as db:
        info = _field_info(db, ctx.workspace_id, sobject)
        state = _state(db, ctx.workspace_id, sobject)
        job_id, locator = state.audit_job_id, state.audit_locator
        if job_id is None or state.audited_at is None:
            # When the export's snapshot starts: the watermark the interval sync takes over.
            state.audited_at = utcnow()
        started = as_utc(state.audited_at)
        db.commit()
    if info is None:
        return 0
    select_fields, types = info
    query = (ctx.client.bulk2_resume(job_id, locator=locator, poll=AUDIT_POLL) if job_id else
             ctx.client.bulk2_query(fieldmeta.soql_select(sobject, select_fields),
                                    poll=AUDIT_POLL))
    batch: list[dict[str, Any]] = []
    count = 0

    def flush() -> None:
        with ctx.sessions() as db:
            ctx.tally += mirror.apply(db, ctx.workspace_id, sobject, batch, bulk=True)
            state = _state(db, ctx.workspace_id, sobject)
            state.audit_job_id, state.audit_locator = query.job_id, query.locator
            db.commit()
        batch.clear()

    typed = fieldmeta.RowTyper(types).in_place
    async for rows in query.batches():
        batch.extend(map(typed, rows))  # the client gives each row a fresh dict
        count += len(rows)
        if len(batch) >= AUDIT_BATCH:
            await _write(ctx, flush)
            if ctx.progress:
                ctx.progress(sobject, count, query.records_count)
    if batch:
        await _write(ctx, flush)
    if ctx.progress:
        ctx.progress(sobject, count, query.records_count)
    with ctx.sessions() as db:
        state = _state(db, ctx.workspace_id, sobject)
        # Changes made after the export's snapshot began come with the next interval sync.
        state.watermark = format_datetime(started - ctx.overlap)
        state.needs_audit = False
        state.audit_job_id = state.audit_locator = None
        db.commit()
    return count


# -- interval ---------------------------------------------------------------------------------
async def interval(ctx: PullContext) -> int:
    """Changes since each object's watermark (queryAll, so deletions and merges come too), all
    objects in one composite call; objects that need an audit get one first."""
    await _ensure_fields(ctx)
    with ctx.sessions() as db:
        objects = objects_for(db, ctx.workspace_id)
        states = {o: _state(db, ctx.workspace_id, o) for o in objects}
        to_audit = [o for o, s in states.items() if s.needs_audit or not s.watermark]
        watermarks = {o: s.watermark for o, s in states.items() if o not in to_audit}
        infos = {o: _field_info(db, ctx.workspace_id, o) for o in watermarks}
        db.commit()
    changed = await audit(ctx, to_audit) if to_audit else 0
    queries: dict[str, str] = {}
    for sobject, mark in watermarks.items():
        info = infos[sobject]
        if info is None or mark is None:
            continue
        since = soql_datetime(parse_datetime(mark) - ctx.overlap)
        queries[sobject] = fieldmeta.soql_select(
            sobject, info[0], f"SystemModstamp >= {since} ORDER BY SystemModstamp")
    names = list(queries)
    # Salesforce takes at most five query subrequests in one composite call.
    for start in range(0, len(names), COMPOSITE_COLLECTIONS_LIMIT):
        chunk = names[start:start + COMPOSITE_COLLECTIONS_LIMIT]
        results = await ctx.client.composite([
            CompositeSubrequest("GET", f"queryAll?q={quote(queries[o], safe='')}", f"q_{o}")
            for o in chunk])
        for result, sobject in zip(results, chunk, strict=True):
            if not result.ok:
                error = result.error
                raise error if error is not None else SalesforceError(
                    result.status, "UNKNOWN", f"interval query for {sobject} failed")
            changed += await _apply_pages(ctx, sobject, result.body, infos[sobject])
    return changed


async def _apply_pages(ctx: PullContext, sobject: str, page: dict[str, Any],
                       info: tuple[list[str], dict[str, str]] | None) -> int:
    changed = 0
    while True:
        records = [{k: v for k, v in r.items() if k != "attributes"}
                   for r in page.get("records", [])]

        def apply(records: list[dict[str, Any]] = records) -> int:
            with ctx.sessions() as db:
                tally = mirror.apply(db, ctx.workspace_id, sobject, records)
                ctx.tally += tally
                if records:
                    state = _state(db, ctx.workspace_id, sobject)
                    # As moments (the mirror's one form), not as the text that came.
                    newest = max(mirror.modstamp(r["SystemModstamp"]) for r in records)
                    held = state.watermark and mirror.modstamp(state.watermark)
                    state.watermark = max(filter(None, [held, newest]))
                db.commit()
            return tally.changed

        changed += await _write(ctx, apply)
        next_url = page.get("nextRecordsUrl")
        if page.get("done", True) or not next_url:
            return changed
        nxt = await ctx.client.query_page(next_records_url=str(next_url))
        page = {"records": nxt.records, "done": nxt.done, "nextRecordsUrl": nxt.next_records_url}


# -- deletions --------------------------------------------------------------------------------
async def deletions(ctx: PullContext) -> int:
    """getDeleted for every mirrored object over the recycle bin's window, one composite call
    for up to 25 objects: deletions the other paths missed."""
    with ctx.sessions() as db:
        objects = [o for o in objects_for(db, ctx.workspace_id) if o != "User"]
    # Salesforce covers up to its own clock (latestDateCovered); asking a little past ours
    # keeps a deletion made this very second from waiting for the next run.
    end = utcnow() + dt.timedelta(minutes=1)
    start = end - DELETIONS_WINDOW
    params = f"start={quote(format_param(start), safe='')}&end={quote(format_param(end), safe='')}"
    changed = 0
    for first in range(0, len(objects), COMPOSITE_LIMIT):
        chunk = objects[first:first + COMPOSITE_LIMIT]
        results = await ctx.client.composite([
            CompositeSubrequest("GET", f"sobjects/{o}/deleted/?{params}", f"x_{o}")
            for o in chunk])
        failed = [r for r in results if not r.ok]

        def apply(results: list[Any] = results) -> int:
            marked = 0
            with ctx.sessions() as db:
                for result in results:
                    if result.ok:
                        deleted = [(str(r["id"]),
                                    format_datetime(parse_datetime(str(r["deletedDate"]))))
                                   for r in result.body.get("deletedRecords", [])]
                        marked += mirror.mark_deleted(db, ctx.workspace_id, deleted)
                        ctx.tally.read += len(deleted)
                db.commit()
            ctx.tally.deleted += marked
            return marked

        changed += await _write(ctx, apply)
        if failed:  # the others are applied; the run still reports the failure
            error = failed[0].error
            raise error if error is not None else SalesforceError(
                failed[0].status, "UNKNOWN", "getDeleted failed")
    return changed


# -- running one, with its record ---------------------------------------------------------------
async def _fields(ctx: PullContext) -> int:
    described = await sync_fields(ctx)
    ctx.tally += mirror.Tally(read=described, updated=described)  # each object's metadata
    return described


KINDS: dict[str, Callable[[PullContext], Any]] = {
    "audit": audit, "interval": interval, "deletions": deletions, "fields": _fields}


async def run(ctx: PullContext, kind: str) -> dict[str, Any]:
    """Run one sync of ``kind`` and record it: succeeded, failed, or halted (quota or auth:
    nothing more can be done until the limit resets or the user reconnects)."""
    if kind not in KINDS:
        raise ValueError(f"unknown sync kind: {kind}")
    with ctx.sessions() as db:
        record = start_run(db, ctx.workspace_id, kind)
        db.commit()
        run_id = record.id
    before = ctx.counter.calls
    ctx.tally = mirror.Tally()  # what reached the mirror before a failure counts too
    outcome, error = "succeeded", None
    unexpected: Exception | None = None
    try:
        await KINDS[kind](ctx)
    except SalesforceError as exc:
        outcome = "halted" if exc.kind in (ErrorKind.QUOTA, ErrorKind.AUTH) else "failed"
        error = f"{exc.error_code}: {exc.message}"
    except Exception as exc:  # recorded, then raised again so the job is retried
        outcome, error, unexpected = "failed", f"{type(exc).__name__}: {exc}", exc
    with ctx.sessions() as db:
        row = db.get(SyncRun, run_id)
        assert row is not None
        finish_run(db, row, outcome, ctx.tally, api_calls=ctx.counter.calls - before,
                   error=error)
        db.commit()
        if unexpected is not None:
            raise unexpected
        return run_json(row)

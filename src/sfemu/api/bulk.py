"""Bulk API 2.0: query jobs with CSV results paged by Sforce-Locator, and ingest jobs.

Jobs run in the background a chunk at a time; results go to disk (the bulk_row table) as they
are produced and are streamed back from there, so neither side holds a whole export in memory.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import functools
import io
import json
from collections.abc import Iterator
from typing import Any

from sfemu.api.query import StoreQueryContext
from sfemu.api.routing import ROUTER, ApiRequest, Reply
from sfemu.core import Emulator, Session
from sfemu.dml import Dml
from sfemu.errors import ApiError, not_found
from sfemu.soql.context import SoqlError
from sfemu.soql.evaluator import compile_query

CHUNK = 2000  # rows a query job processes between yields to the event loop
JOB_PAUSE = 0.010  # seconds a query job pauses between chunks
BLOCK = 500  # result lines stored per row: fewer, larger rows than one per record
UPLOAD_CHUNK = 1 << 20  # bytes of an upload stored per row
INGEST_COMMIT = 200  # records per transaction, as triggers see them
DEFAULT_MAX_RECORDS = 100_000
_tasks: set[asyncio.Task[None]] = set()
# Jobs are processed one at a time, in the order they were queued, as an org's jobs queue on
# Salesforce: the first job's results are ready while the next one is processed.
_processing = asyncio.Lock()
_downloads: list[str] = []  # result pages being streamed right now


def _job_info(job: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in job.items() if not k.startswith("_")}


def _save(emu: Emulator, job: dict[str, Any]) -> None:
    emu.store.put_doc("bulk_job", job["id"], job, org_id=job["_org_id"], kind=job["jobType"])


def _load(req: ApiRequest, kind: str) -> dict[str, Any]:
    job = req.emu.store.get_doc("bulk_job", req.params["job"])
    if job is None or job["_org_id"] != req.session.org.id or job["jobType"] != kind:
        raise not_found()
    return job


def _new_job(req: ApiRequest, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    now = req.emu.stamp()
    return {"id": req.emu.new_id(req.session.org, "BulkJob"),
            "operation": fields["operation"], "object": fields["object"],
            "createdById": req.session.user_id, "createdDate": now, "systemModstamp": now,
            "state": fields.get("state", "UploadComplete"), "concurrencyMode": "Parallel",
            "contentType": "CSV", "apiVersion": float(req.version), "jobType": kind,
            "lineEnding": fields.get("lineEnding", "LF"),
            "columnDelimiter": fields.get("columnDelimiter", "COMMA"),
            "numberRecordsProcessed": 0, "retries": 0, "totalProcessingTime": 0,
            "_org_id": req.session.org.id, "_user_id": req.session.user_id}


def _spawn(emu: Emulator, job_id: str) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return  # no loop (a synchronous caller): the server resumes jobs when it starts
    task = loop.create_task(run_job(emu, job_id))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


_DELIMS = {"COMMA": ",", "TAB": "\t", "SEMICOLON": ";", "PIPE": "|", "CARET": "^",
           "BACKQUOTE": "`"}


class _LineWriter:
    """Formats one CSV line at a time in the job's dialect, every value quoted (as Bulk 2.0)."""

    def __init__(self, job: dict[str, Any]) -> None:
        self._buf = io.StringIO()
        self._writer = csv.writer(self._buf, delimiter=_DELIMS.get(job["columnDelimiter"], ","),
                                  quoting=csv.QUOTE_ALL,
                                  lineterminator="\r\n" if job["lineEnding"] == "CRLF" else "\n")

    def line(self, values: list[str]) -> str:
        self._buf.seek(0)
        self._buf.truncate()
        self._writer.writerow(values)
        return self._buf.getvalue()



# -- query jobs -------------------------------------------------------------------------------
@ROUTER.route("POST", "jobs/query")
def create_query_job(req: ApiRequest) -> Reply:
    body = req.json_object()
    operation = body.get("operation")
    if operation not in ("query", "queryAll"):
        raise ApiError("INVALIDJOB", "Invalid operation: must be query or queryAll",
                       ["operation"])
    soql = body.get("query")
    if not isinstance(soql, str) or not soql.strip():
        raise ApiError("INVALIDJOB", "The query field is required", ["query"])
    if body.get("columnDelimiter", "COMMA") not in _DELIMS:
        raise ApiError("INVALIDJOB", f"Invalid columnDelimiter: {body['columnDelimiter']}")
    if body.get("lineEnding", "LF") not in ("LF", "CRLF"):
        raise ApiError("INVALIDJOB", f"Invalid lineEnding: {body['lineEnding']}")
    ctx = StoreQueryContext(req.emu, req.session, req.version)
    try:
        query = compile_query(soql, ctx)
    except SoqlError as exc:
        raise ApiError(exc.error_code, exc.message) from None
    if (query.has_subquery or query.is_aggregate or query.is_count_only or query.offset
            or query.has_typeof):
        raise ApiError("API_ERROR", "Aggregate queries, OFFSET, subqueries and TYPEOF are not "
                       "supported by Bulk API 2.0 query jobs")
    job = _new_job(req, "V2Query", {"operation": operation, "object": query.sobject,
                                    "lineEnding": body.get("lineEnding", "LF"),
                                    "columnDelimiter": body.get("columnDelimiter", "COMMA")})
    job["_query"] = soql
    with req.emu.store.transaction():
        _save(req.emu, job)
    _spawn(req.emu, job["id"])
    return Reply(200, _job_info(job))


@ROUTER.route("PATCH", "jobs/query/{job}")
def abort_query_job(req: ApiRequest) -> Reply:
    return _abort(req, "V2Query")


@ROUTER.route("GET", "jobs/query/{job}/results")
def query_results(req: ApiRequest) -> Reply:
    job = _load(req, "V2Query")
    if job["state"] != "JobComplete":
        raise ApiError("INVALIDJOBSTATE", f"Job is not complete: {job['state']}")
    locator = req.query.get("locator") or "0"
    try:
        start = int(locator, 36) if locator != "null" else job["numberRecordsProcessed"]
    except ValueError:
        raise ApiError("INVALID_LOCATOR", f"Invalid locator: {locator}") from None
    try:
        max_records = int(req.query.get("maxRecords") or DEFAULT_MAX_RECORDS)
    except ValueError:
        max_records = 0
    if max_records <= 0:
        raise ApiError("INVALIDJOB", "maxRecords must be a positive integer", ["maxRecords"])
    total = job["numberRecordsProcessed"]
    count = max(0, min(max_records, total - start))
    end = start + count
    next_locator = _b36(end) if end < total else "null"
    headers = {"Sforce-Locator": next_locator, "Sforce-NumberOfRecords": str(count)}
    emu = req.emu

    def stream() -> Iterator[bytes]:
        _downloads.append(job["id"])
        try:
            yield job["_header"].encode()
            yield from _result_rows(emu, job["id"], start, end)
        finally:
            _downloads.remove(job["id"])
    return Reply(200, headers=headers, stream=stream, media_type="text/csv")


def _result_rows(emu: Emulator, job_id: str, start: int, end: int) -> Iterator[bytes]:
    """Result lines [start, end) from their blocks (each a JSON array of BLOCK lines)."""
    first, last = start // BLOCK, (end - 1) // BLOCK
    block = first
    while block <= last:
        rows = emu.store.execute(
            "SELECT seq, line FROM bulk_row WHERE job_id = ? AND part = 'result' AND "
            "seq >= ? AND seq <= ? ORDER BY seq LIMIT 20", [job_id, block, last]).fetchall()
        if not rows:
            return
        for seq, text in rows:
            lines = json.loads(text)
            base = seq * BLOCK
            yield "".join(lines[max(0, start - base):end - base]).encode()
        block = rows[-1][0] + 1


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out.upper()


def _rows(emu: Emulator, job_id: str, part: str, start: int, end: int) -> Iterator[bytes]:
    seq = start
    while seq < end:
        batch = emu.store.execute(
            "SELECT seq, line FROM bulk_row WHERE job_id = ? AND part = ? AND seq >= ? AND "
            "seq < ? ORDER BY seq LIMIT 1000", [job_id, part, seq, end]).fetchall()
        if not batch:
            return
        yield "".join(line for _, line in batch).encode()
        seq = batch[-1][0] + 1


async def _run_query_job(emu: Emulator, job: dict[str, Any], session: Session) -> None:
    ctx = StoreQueryContext(emu, session, str(job["apiVersion"]))
    query = compile_query(job["_query"], ctx)
    include_deleted = job["operation"] == "queryAll"
    writer = _LineWriter(job)
    job["_header"] = writer.line(query.columns)
    seq = 0
    after = ""
    pending: list[str] = []  # lines of the block being filled

    def store_blocks(final: bool) -> None:
        blocks = []
        while len(pending) >= BLOCK or (final and pending):
            lines = pending[:BLOCK]
            del pending[:BLOCK]
            blocks.append((job["id"], "result", (seq - len(pending) - len(lines)) // BLOCK,
                           json.dumps(lines)))
        emu.store.executemany(
            "INSERT OR REPLACE INTO bulk_row(job_id, part, seq, line) VALUES (?,?,?,?)", blocks)

    while True:
        # A resumable query is read a chunk at a time (Id order, resuming after the last Id)
        # so other requests are served in between; a sorted one is read in one pass.
        rows = query.cells(ctx, include_deleted=include_deleted,
                           after_id=after if query.resumable else "")
        read = 0
        for rid, cells in rows:
            if query.limit is not None and seq >= query.limit:
                break
            pending.append(writer.line(["" if v is None else v for v in cells]))
            seq += 1
            read += 1
            after = rid
            if query.resumable and read >= CHUNK:
                break
        finished = not query.resumable or read < CHUNK
        store_blocks(final=finished)
        job["numberRecordsProcessed"] = seq
        if finished:
            return
        # While results are being downloaded, a real pause rather than a bare yield: the
        # download gets the event loop, as Salesforce's servers would not make it wait.
        await asyncio.sleep(JOB_PAUSE if _downloads else 0)


# -- ingest jobs ------------------------------------------------------------------------------
@ROUTER.route("POST", "jobs/ingest")
def create_ingest_job(req: ApiRequest) -> Reply:
    body = req.json_object()
    operation = body.get("operation")
    if operation not in ("insert", "update", "upsert", "delete", "hardDelete"):
        raise ApiError("INVALIDJOB", f"Invalid operation: {operation}", ["operation"])
    obj = Dml(req.emu, req.session).object(str(body.get("object", "")))
    ext = body.get("externalIdFieldName")
    if operation == "upsert":
        fdef = obj.field_ci(str(ext or ""))
        if fdef is None or not (fdef.external_id or fdef.name == "Id"):
            raise ApiError("INVALIDJOB", f"External ID field {ext} is not valid for upsert on "
                           f"{obj.name}", ["externalIdFieldName"])
        ext = fdef.name
    job = _new_job(req, "V2Ingest", {"operation": operation, "object": obj.name,
                                     "state": "Open",
                                     "lineEnding": body.get("lineEnding", "LF"),
                                     "columnDelimiter": body.get("columnDelimiter", "COMMA")})
    job.update({"externalIdFieldName": ext, "numberRecordsFailed": 0,
                "contentUrl": f"services/data/v{req.version}/jobs/ingest/{job['id']}/batches",
                "_chunks": 0})
    with req.emu.store.transaction():
        _save(req.emu, job)
    return Reply(200, _job_info(job))


@ROUTER.route("PUT", "jobs/ingest/{job}/batches")
def upload(req: ApiRequest) -> Reply:
    job = _load(req, "V2Ingest")
    if job["state"] != "Open":
        raise ApiError("INVALIDJOBSTATE", "Upload is only allowed while the job is Open")
    source = req.body_file or io.BytesIO(req.body)
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    with req.emu.store.transaction():
        while True:
            raw = source.read(UPLOAD_CHUNK)
            try:
                text = decoder.decode(raw, final=not raw)
            except UnicodeDecodeError:
                raise ApiError("INVALIDJOB", "The uploaded CSV is not valid UTF-8") from None
            if text:
                req.emu.store.execute(
                    "INSERT INTO bulk_row(job_id, part, seq, line) VALUES (?,?,?,?)",
                    [job["id"], "input", job["_chunks"], text])
                job["_chunks"] += 1
            if not raw:
                break
        _save(req.emu, job)
    return Reply(201)


@ROUTER.route("PATCH", "jobs/ingest/{job}")
def close_ingest_job(req: ApiRequest) -> Reply:
    job = _load(req, "V2Ingest")
    state = req.json_object().get("state")
    if state == "Aborted":
        return _abort(req, "V2Ingest")
    if state != "UploadComplete" or job["state"] != "Open":
        raise ApiError("INVALIDJOBSTATE", f"Cannot change state from {job['state']} to "
                       f"{state}")
    job["state"] = "UploadComplete"
    with req.emu.store.transaction():
        _save(req.emu, job)
    _spawn(req.emu, job["id"])
    return Reply(200, _job_info(job))


_RESULT_PREFIX = {"success": ["sf__Id", "sf__Created"], "failed": ["sf__Id", "sf__Error"],
                  "unprocessed": []}


def _result_file(part: str) -> Any:
    def handler(req: ApiRequest) -> Reply:
        job = _load(req, "V2Ingest")
        if job["state"] not in ("JobComplete", "Failed", "Aborted"):
            raise ApiError("INVALIDJOBSTATE", f"Job is not complete: {job['state']}")
        emu = req.emu
        head = _LineWriter(job).line([*_RESULT_PREFIX[part], *job.get("_columns", [])])

        def stream() -> Iterator[bytes]:
            yield head.encode()
            yield from _rows(emu, job["id"], part, 0, 1 << 62)
        return Reply(200, stream=stream, media_type="text/csv")
    return handler


ROUTER.route("GET", "jobs/ingest/{job}/successfulResults")(_result_file("success"))
ROUTER.route("GET", "jobs/ingest/{job}/failedResults")(_result_file("failed"))
ROUTER.route("GET", "jobs/ingest/{job}/unprocessedrecords")(_result_file("unprocessed"))
# Salesforce answers this path in any case; simple-salesforce asks for unprocessedRecords.
ROUTER.route("GET", "jobs/ingest/{job}/unprocessedRecords")(_result_file("unprocessed"))


def _input_rows(emu: Emulator, job: dict[str, Any]) -> Iterator[list[str]]:
    def chunks() -> Iterator[str]:
        for seq in range(job["_chunks"]):
            row = emu.store.execute(
                "SELECT line FROM bulk_row WHERE job_id = ? AND part = 'input' AND seq = ?",
                [job["id"], seq]).fetchone()
            if row:
                yield row[0]

    def lines() -> Iterator[str]:
        # Stored chunks end anywhere, even inside a line: carry the tail to the next chunk.
        tail = ""
        for chunk in chunks():
            parts = (tail + chunk).splitlines(keepends=True)
            tail = parts.pop() if parts and not parts[-1].endswith(("\n", "\r")) else ""
            yield from parts
        if tail:
            yield tail
    yield from csv.reader(lines(), delimiter=_DELIMS.get(job["columnDelimiter"], ","))


async def _run_ingest_job(emu: Emulator, job: dict[str, Any], session: Session) -> None:
    dml = Dml(emu, session)
    rows = _input_rows(emu, job)
    header = next(rows, None)
    if not header:
        job["state"] = "Failed"
        job["errorMessage"] = "InvalidBatch : Failed to parse CSV. Found no header."
        return
    job["_columns"] = header
    writer = _LineWriter(job)
    counters = {"success": 0, "failed": 0}
    pending: list[list[str]] = []

    def flush() -> None:
        out: list[tuple[str, str, int, str]] = []
        with emu.store.transaction():
            for values in pending:
                # An empty cell leaves a field alone; #N/A sets it to null.
                record = {h: (None if v == "#N/A" else v)
                          for h, v in zip(header, values, strict=False) if v != ""}
                try:
                    with emu.store.transaction():
                        rid, created = _ingest_one(dml, job, record)
                    line = writer.line([rid, "true" if created else "false", *values])
                    out.append((job["id"], "success", counters["success"], line))
                    counters["success"] += 1
                except ApiError as exc:
                    error = f"{exc.error_code}:{exc.message}:{','.join(exc.fields)} --"
                    line = writer.line([str(record.get("Id") or ""), error, *values])
                    out.append((job["id"], "failed", counters["failed"], line))
                    counters["failed"] += 1
            emu.store.executemany(
                "INSERT INTO bulk_row(job_id, part, seq, line) VALUES (?,?,?,?)", out)
        pending.clear()
        job["numberRecordsProcessed"] = counters["success"] + counters["failed"]
        job["numberRecordsFailed"] = counters["failed"]

    for values in rows:
        if not any(values):
            continue
        pending.append(values)
        if len(pending) >= INGEST_COMMIT:
            flush()
            await asyncio.sleep(0)
    if pending:
        flush()


def _ingest_one(dml: Dml, job: dict[str, Any], record: dict[str, Any]) -> tuple[str, bool]:
    op, sobject = job["operation"], job["object"]
    if op == "insert":
        return dml.create(sobject, {k: v for k, v in record.items() if v is not None}), True
    rid = record.pop("Id", None) or record.pop("id", None)
    if op == "upsert":
        ext = job["externalIdFieldName"]
        value = rid if ext == "Id" else record.get(ext)
        return dml.upsert(sobject, ext, str(value or ""), record)
    if not rid:
        raise ApiError("MISSING_ARGUMENT", "Id not specified", ["Id"])
    if op == "update":
        dml.update(sobject, str(rid), record)
    else:
        dml.delete(str(rid), sobject)
    return str(rid), False


async def run_job(emu: Emulator, job_id: str) -> None:
    async with _processing:
        await _run_job(emu, job_id)


async def _run_job(emu: Emulator, job_id: str) -> None:
    job = emu.store.get_doc("bulk_job", job_id)
    if job is None or job["state"] not in ("UploadComplete", "InProgress"):
        return
    org = emu.org(job["_org_id"])
    session = emu.session_for(org, job["_user_id"])
    job["state"] = "InProgress"
    _save(emu, job)
    await asyncio.sleep(0)
    started = emu.clock()
    try:
        if job["jobType"] == "V2Query":
            await _run_query_job(emu, job, session)
        else:
            await _run_ingest_job(emu, job, session)
        if job["state"] == "InProgress":
            job["state"] = "JobComplete"
    except (ApiError, SoqlError) as exc:
        job["state"] = "Failed"
        job["errorMessage"] = str(exc)
    job["totalProcessingTime"] = int((emu.clock() - started) * 1000)
    job["systemModstamp"] = emu.stamp()
    _save(emu, job)


def resume_jobs(emu: Emulator) -> None:
    """Jobs a stopped server left unfinished start again from the beginning."""
    for (job_id,) in emu.store.execute(
            "SELECT id FROM bulk_job WHERE json_extract(data, '$.state') IN "
            "('UploadComplete', 'InProgress')").fetchall():
        emu.store.execute("DELETE FROM bulk_row WHERE job_id = ? AND part != 'input'", [job_id])
        job = emu.store.get_doc("bulk_job", job_id)
        if job is not None:
            job["state"] = "UploadComplete"
            _save(emu, job)
            _spawn(emu, job_id)


def _list(req: ApiRequest, kind: str) -> Reply:
    records = [_job_info(json.loads(data)) for (data,) in req.emu.store.execute(
        "SELECT data FROM bulk_job WHERE org_id = ? AND kind = ? ORDER BY id",
        [req.session.org.id, kind]).fetchall()]
    return Reply(body={"done": True, "records": records, "nextRecordsUrl": None})


def _get(req: ApiRequest, kind: str) -> Reply:
    return Reply(body=_job_info(_load(req, kind)))


def _abort(req: ApiRequest, kind: str) -> Reply:
    job = _load(req, kind)
    state = req.json_object().get("state")
    if state != "Aborted":
        raise ApiError("INVALIDJOBSTATE", f"Invalid state: {state}")
    if job["state"] in ("JobComplete", "Failed"):
        raise ApiError("INVALIDJOBSTATE", f"Job is already {job['state']}")
    job["state"] = "Aborted"
    _save(req.emu, job)
    return Reply(200, _job_info(job))


def _delete(req: ApiRequest, kind: str) -> Reply:
    job = _load(req, kind)
    with req.emu.store.transaction():
        req.emu.store.execute("DELETE FROM bulk_row WHERE job_id = ?", [job["id"]])
        req.emu.store.execute("DELETE FROM bulk_job WHERE id = ?", [job["id"]])
    return Reply(204)


# Listing, reading and deleting work alike for both kinds of job.
for _kind, _segment in (("V2Query", "query"), ("V2Ingest", "ingest")):
    for _method, _path, _fn in (("GET", f"jobs/{_segment}", _list),
                                ("GET", f"jobs/{_segment}/{{job}}", _get),
                                ("DELETE", f"jobs/{_segment}/{{job}}", _delete)):
        ROUTER.route(_method, _path)(functools.partial(_fn, kind=_kind))

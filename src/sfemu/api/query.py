"""query and queryAll with nextRecordsUrl cursors, and the QueryContext over the store."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Iterator
from typing import Any

from sfemu.api.routing import ROUTER, ApiRequest, Reply
from sfemu.core import Emulator, Session
from sfemu.errors import ApiError
from sfemu.soql.context import SoqlError
from sfemu.soql.evaluator import CompiledQuery, compile_query

DEFAULT_BATCH = 2000


class StoreQueryContext:
    """SOQL's view of one org, as one user sees it."""

    def __init__(self, emu: Emulator, session: Session, api_version: str) -> None:
        self.emu = emu
        self.session = session
        self.schema = emu.schema(session.org)
        self.api_version = api_version

    def now(self) -> dt.datetime:
        return self.emu.now()

    def can_read_object(self, sobject: str) -> bool:
        return self.session.profile.can(sobject, "R")

    def can_read_field(self, sobject: str, field: str) -> bool:
        return self.session.profile.field_visible(sobject, field)

    def scan(self, sobject: str, *, include_deleted: bool,
             lookups: dict[str, list[str]] | None = None,
             after_id: str = "") -> Iterator[dict[str, Any]]:
        for row in self.emu.store.scan(sobject, self.session.org.id,
                                       include_deleted=include_deleted, lookups=lookups,
                                       after_id=after_id):
            yield row.data

    def get_many(self, sobject: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        return {k: v.data for k, v in
                self.emu.store.get_many(sobject, self.session.org.id, ids).items()}


def compile_for(req: ApiRequest, soql: str) -> tuple[CompiledQuery, StoreQueryContext]:
    ctx = StoreQueryContext(req.emu, req.session, req.version)
    try:
        return compile_query(soql, ctx), ctx
    except SoqlError as exc:
        raise ApiError(exc.error_code, exc.message) from None


def _batch_size(req: ApiRequest) -> int:
    options = req.headers.get("sforce-query-options", "")
    for part in options.split(","):
        key, _, value = part.partition("=")
        if key.strip().lower() == "batchsize" and value.strip().isdigit():
            return max(200, min(2000, int(value.strip())))
    return DEFAULT_BATCH


def _page(req: ApiRequest, cursor_id: str, state: dict[str, Any]) -> Reply:
    """The next page.  A streamed query resumes after the last Id it gave; a sorted one (or
    one with OFFSET, or an aggregate) reads the rows its first call fixed, as Salesforce
    serves a query's results from the snapshot taken when it ran."""
    position, total, batch = state["position"], state["total"], state["batch"]
    want = min(batch, total - position)
    if state["snapshot"]:
        rows = req.emu.store.execute(
            "SELECT record FROM query_cursor_row WHERE cursor_id = ? AND seq >= ? "
            "ORDER BY seq LIMIT ?", [cursor_id, position, want]).fetchall()
        records = [json.loads(r[0]) for r in rows]
        last_id = ""
    else:
        query, ctx = compile_for(req, state["soql"])
        records, last_id = [], state["last_id"]
        for rid, record in query.run(ctx, include_deleted=state["include_deleted"],
                                     after_id=last_id):
            if len(records) >= want:
                break
            records.append(record)
            last_id = rid
    return _reply(req, cursor_id, state, records, last_id)


def _reply(req: ApiRequest, cursor_id: str, state: dict[str, Any],
           records: list[dict[str, Any]], last_id: str) -> Reply:
    position = state["position"] + len(records)
    total = state["total"]
    done = position >= total or not records
    body: dict[str, Any] = {"totalSize": total, "done": done}
    if not done:
        state.update(position=position, last_id=last_id)
        req.emu.store.execute(
            "INSERT INTO query_cursor(id, org_id, user_id, data) VALUES (?,?,?,json(?)) "
            "ON CONFLICT(id) DO UPDATE SET data = excluded.data",
            [cursor_id, req.session.org.id, req.session.user_id, json.dumps(state)])
        endpoint = "queryAll" if state["include_deleted"] else "query"
        body["nextRecordsUrl"] = f"{req.base}/{endpoint}/{cursor_id}-{position}"
    else:
        req.emu.store.execute("DELETE FROM query_cursor WHERE id = ?", [cursor_id])
        req.emu.store.execute("DELETE FROM query_cursor_row WHERE cursor_id = ?", [cursor_id])
    body["records"] = records
    return Reply(body=body)


def _start(req: ApiRequest, include_deleted: bool) -> Reply:
    soql = req.query.get("q")
    if not soql:
        raise ApiError("MALFORMED_QUERY", "A query string must be provided with the q "
                       "parameter")
    query, ctx = compile_for(req, soql)
    if req.query.get("columns", "").lower() == "true":
        # The Salesforce CLI and the Developer Console: the columns, not the rows.
        return Reply(body=query.column_metadata())
    cursor_id = "01g" + req.session.org.pod + secrets.token_hex(6)
    batch = _batch_size(req)
    state: dict[str, Any] = {"soql": soql, "include_deleted": include_deleted, "position": 0,
                             "batch": batch, "last_id": "", "snapshot": not query.resumable}
    if query.is_count_only:
        return Reply(body={"totalSize": query.count(ctx, include_deleted=include_deleted),
                           "done": True, "records": []})
    if query.resumable:
        state["total"] = query.count(ctx, include_deleted=include_deleted)
        return _page(req, cursor_id, state)
    # Sorted in memory by the engine anyway: keep the rows past the first page on disk.
    first: list[dict[str, Any]] = []
    spill: list[tuple[str, int, str]] = []
    total = 0
    for _, record in query.run(ctx, include_deleted=include_deleted):
        if total < batch:
            first.append(record)
        else:
            spill.append((cursor_id, total, json.dumps(record)))
        total += 1
        if len(spill) >= 1000:
            req.emu.store.executemany(
                "INSERT INTO query_cursor_row(cursor_id, seq, record) VALUES (?,?,?)", spill)
            spill.clear()
    if spill:
        req.emu.store.executemany(
            "INSERT INTO query_cursor_row(cursor_id, seq, record) VALUES (?,?,?)", spill)
    state["total"] = total
    return _reply(req, cursor_id, state, first, "")


def _next(req: ApiRequest) -> Reply:
    cursor_id, _, position = req.params["cursor"].rpartition("-")
    row = req.emu.store.execute(
        "SELECT data FROM query_cursor WHERE id = ? AND org_id = ? AND user_id = ?",
        [cursor_id, req.session.org.id, req.session.user_id]).fetchone()
    if row is None:
        raise ApiError("INVALID_QUERY_LOCATOR", "invalid query locator")
    state = json.loads(row[0])
    if str(state["position"]) != position:
        raise ApiError("INVALID_QUERY_LOCATOR", "invalid query locator")
    return _page(req, cursor_id, state)


@ROUTER.route("GET", "query")
def query(req: ApiRequest) -> Reply:
    return _start(req, include_deleted=False)


@ROUTER.route("GET", "queryAll")
def query_all(req: ApiRequest) -> Reply:
    return _start(req, include_deleted=True)


@ROUTER.route("GET", "query/{cursor}")
def query_more(req: ApiRequest) -> Reply:
    return _next(req)


@ROUTER.route("GET", "queryAll/{cursor}")
def query_all_more(req: ApiRequest) -> Reply:
    return _next(req)

"""Record storage in SQLite: one table per sObject, JSON data, expression indexes for lookups.

Equality and IN lookups on Id, Email, external-id and lookup fields are answered through
expression indexes on ``lower(json_extract(data, '$.Field'))``; everything else is filtered by the
SOQL evaluator over candidate rows read in key order, a page at a time, so no read holds a cursor
open across an ``await`` and no result is built whole in memory.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson

_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
PAGE = 1000

_META_DDL = """
CREATE TABLE IF NOT EXISTS org (
    id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS credential (
    user_id TEXT PRIMARY KEY, org_id TEXT NOT NULL, username TEXT UNIQUE NOT NULL,
    password_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS token (
    token_hash TEXT PRIMARY KEY, kind TEXT NOT NULL, org_id TEXT NOT NULL, user_id TEXT NOT NULL,
    expires_at REAL, revoked INTEGER NOT NULL DEFAULT 0, data TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS query_cursor (
    id TEXT PRIMARY KEY, org_id TEXT NOT NULL, user_id TEXT NOT NULL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS query_cursor_row (
    cursor_id TEXT NOT NULL, seq INTEGER NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (cursor_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bulk_job (
    id TEXT PRIMARY KEY, org_id TEXT NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bulk_row (
    job_id TEXT NOT NULL, part TEXT NOT NULL, seq INTEGER NOT NULL, line TEXT NOT NULL,
    PRIMARY KEY (job_id, part, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, org_id TEXT NOT NULL, payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL DEFAULT 0,
    delivered_at REAL, last_error TEXT
);
CREATE INDEX IF NOT EXISTS ix_outbox_pending ON outbox(delivered_at, next_attempt_at);
CREATE TABLE IF NOT EXISTS recent_view (
    org_id TEXT NOT NULL, user_id TEXT NOT NULL, record_id TEXT NOT NULL,
    sobject TEXT NOT NULL, viewed_at REAL NOT NULL,
    PRIMARY KEY (org_id, user_id, record_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_recent_view ON recent_view(org_id, user_id, sobject, viewed_at);
"""


def _check_ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not an identifier: {name!r}")
    return name


def _table(sobject: str) -> str:
    return f'"sobj_{_check_ident(sobject)}"'


def _index_expr(field_name: str) -> str:
    return f"lower(json_extract(data, '$.{_check_ident(field_name)}'))"


@dataclass
class Row:
    id: str
    org_id: str
    is_deleted: bool
    data: dict[str, Any]


@dataclass
class _TxState:
    depth: int = 0
    after_commit: list[Any] = field(default_factory=list)
    changes: list[Any] = field(default_factory=list)


class Store:
    """A thin layer over one SQLite connection.  Thread-safe through one re-entrant lock."""

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        mode = "WAL" if path != ":memory:" else "MEMORY"
        self.conn.execute(f"PRAGMA journal_mode={mode}")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA busy_timeout=5000")
        self.lock = threading.RLock()
        self._tx = _TxState()
        self._tables: set[str] = set()
        self._indexes: set[tuple[str, str]] = set()
        self.conn.executescript(_META_DDL)
        # Called with the changes recorded in a transaction, inside it, just before COMMIT:
        # the real-time package writes its outbox here so delivery is as durable as the data.
        self.before_commit: Any = None

    # -- transactions -------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Nested transactions through savepoints; after-commit callbacks run after the outer
        COMMIT."""
        with self.lock:
            tx = self._tx
            name = f"sp{tx.depth}"
            if tx.depth == 0:
                self.conn.execute("BEGIN IMMEDIATE")
            else:
                self.conn.execute(f"SAVEPOINT {name}")
            tx.depth += 1
            mark, change_mark = len(tx.after_commit), len(tx.changes)
            try:
                yield
                if tx.depth == 1 and tx.changes and self.before_commit is not None:
                    self.before_commit(tx.changes)
            except BaseException:
                tx.depth -= 1
                del tx.after_commit[mark:]
                del tx.changes[change_mark:]
                if tx.depth == 0:
                    self.conn.execute("ROLLBACK")
                else:
                    self.conn.execute(f"ROLLBACK TO {name}")
                    self.conn.execute(f"RELEASE {name}")
                raise
            tx.depth -= 1
            if tx.depth == 0:
                self.conn.execute("COMMIT")
                tx.changes = []
                callbacks, tx.after_commit = tx.after_commit, []
                for cb in callbacks:
                    cb()
            else:
                self.conn.execute(f"RELEASE {name}")

    @property
    def in_transaction(self) -> bool:
        return self._tx.depth > 0

    def record_change(self, change: Any) -> None:
        """Remember a committed-to-be change for ``before_commit`` (dropped on rollback)."""
        if self._tx.depth == 0:
            raise RuntimeError("record_change outside a transaction")
        self._tx.changes.append(change)

    def after_commit(self, callback: Any) -> None:
        if self._tx.depth == 0:
            callback()
        else:
            self._tx.after_commit.append(callback)

    def execute(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        with self.lock:
            return self.conn.execute(sql, tuple(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.lock:
            self.conn.executemany(sql, rows)

    # -- counters -----------------------------------------------------------------------------
    def next_counter(self, name: str, count: int = 1) -> int:
        """Reserve ``count`` values of a named counter; returns the first."""
        with self.lock:
            cur = self.conn.execute(
                "INSERT INTO counter(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE "
                "SET value = value + excluded.value RETURNING value", (name, count))
            (value,) = cur.fetchone()
            return int(value) - count + 1

    # -- sObject tables -----------------------------------------------------------------------
    def ensure_table(self, sobject: str, indexed_fields: Iterable[str]) -> None:
        with self.lock:
            if sobject not in self._tables:
                t = _table(sobject)
                self.conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {t} (id TEXT PRIMARY KEY, org_id TEXT NOT NULL, "
                    "is_deleted INTEGER NOT NULL DEFAULT 0, modstamp TEXT NOT NULL, "
                    "data TEXT NOT NULL)")
                self.conn.execute(
                    f'CREATE INDEX IF NOT EXISTS "ix_{sobject}__modstamp" ON {t}(org_id, modstamp)')
                self.conn.execute(
                    f'CREATE INDEX IF NOT EXISTS "ix_{sobject}__org_id" ON {t}(org_id, id)')
                self._tables.add(sobject)
            for f in indexed_fields:
                if f == "Id" or (sobject, f) in self._indexes:
                    continue
                self.conn.execute(
                    f'CREATE INDEX IF NOT EXISTS "ix_{sobject}_{_check_ident(f)}" ON '
                    f"{_table(sobject)}(org_id, {_index_expr(f)})")
                self._indexes.add((sobject, f))

    def insert(self, sobject: str, rows: Iterable[Row]) -> None:
        self.executemany(
            f"INSERT INTO {_table(sobject)}(id, org_id, is_deleted, modstamp, data) "
            "VALUES (?, ?, ?, ?, ?)",
            ((r.id, r.org_id, int(r.is_deleted), r.data.get("SystemModstamp") or "",
              orjson.dumps(r.data).decode()) for r in rows))

    def update(self, sobject: str, rows: Iterable[Row]) -> None:
        self.executemany(
            f"UPDATE {_table(sobject)} SET is_deleted = ?, modstamp = ?, data = ? "
            "WHERE id = ? AND org_id = ?",
            ((int(r.is_deleted), r.data.get("SystemModstamp") or "",
              orjson.dumps(r.data).decode(), r.id, r.org_id) for r in rows))

    def get_many(self, sobject: str, org_id: str, ids: Iterable[str],
                 include_deleted: bool = True) -> dict[str, Row]:
        ids = list(dict.fromkeys(ids))
        out: dict[str, Row] = {}
        if sobject not in self._tables:
            return out
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            sql = (f"SELECT id, org_id, is_deleted, data FROM {_table(sobject)} "
                   f"WHERE org_id = ? AND id IN ({marks})")
            if not include_deleted:
                sql += " AND is_deleted = 0"
            for rid, org, deleted, data in self.execute(sql, [org_id, *chunk]).fetchall():
                out[rid] = Row(rid, org, bool(deleted), orjson.loads(data))
        return out

    def scan(self, sobject: str, org_id: str, *, include_deleted: bool = False,
             lookups: dict[str, list[str]] | None = None, after_id: str = "",
             modstamp_range: tuple[str, str] | None = None, deleted_only: bool = False,
             page: int = PAGE) -> Iterator[Row]:
        """Rows in id order, read a page at a time.  ``lookups`` narrow through the indexes:
        each field must equal (case-insensitively) one of its values."""
        if sobject not in self._tables:
            return
        where = ["org_id = ?"]
        params: list[Any] = [org_id]
        if deleted_only:
            where.append("is_deleted = 1")
        elif not include_deleted:
            where.append("is_deleted = 0")
        for fname, values in (lookups or {}).items():
            if not values:
                return
            if fname == "Id":
                where.append(f"id IN ({','.join('?' * len(values))})")
                params.extend(values)
            else:
                where.append(f"{_index_expr(fname)} IN ({','.join('?' * len(values))})")
                params.extend(v.lower() for v in values)
        if modstamp_range:
            where.append("modstamp >= ? AND modstamp < ?")
            params.extend(modstamp_range)
        # Without a hint, SQLite prefers the (org_id, id) index because it yields Id order,
        # and scans the whole org; a lookup is far more selective, so name its index.
        hint = next((f' INDEXED BY "ix_{sobject}_{f}"' for f in (lookups or {})
                     if f != "Id" and (sobject, f) in self._indexes), "")
        sql = (f"SELECT id, org_id, is_deleted, data FROM {_table(sobject)}{hint} "
               f"WHERE {' AND '.join(where)} AND id > ? ORDER BY id LIMIT {int(page)}")
        last = after_id
        while True:
            batch = self.execute(sql, [*params, last]).fetchall()
            for rid, org, deleted, data in batch:
                yield Row(rid, org, bool(deleted), orjson.loads(data))
            if len(batch) < page:
                return
            last = batch[-1][0]

    def count(self, sobject: str, org_id: str) -> int:
        if sobject not in self._tables:
            return 0
        (n,) = self.execute(
            f"SELECT count(*) FROM {_table(sobject)} WHERE org_id = ? AND is_deleted = 0",
            [org_id]).fetchone()
        return int(n)

    # -- small JSON documents (orgs, jobs, cursors) --------------------------------------------
    def put_doc(self, table: str, key: str, data: dict[str, Any], **cols: Any) -> None:
        names = ["id", *cols, "data"]
        values = [key, *cols.values(), json.dumps(data)]
        self.execute(
            f"INSERT INTO {_check_ident(table)}({','.join(names)}) VALUES "
            f"({','.join('?' * len(names))}) ON CONFLICT(id) DO UPDATE SET data = excluded.data",
            values)

    def get_doc(self, table: str, key: str) -> dict[str, Any] | None:
        row = self.execute(
            f"SELECT data FROM {_check_ident(table)} WHERE id = ?", [key]).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def close(self) -> None:
        with self.lock:
            self.conn.close()

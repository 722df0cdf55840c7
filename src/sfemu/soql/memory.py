"""An in-memory QueryContext: the reference implementation of the protocol, for tests.

It keeps what the protocol promises (Id order, case-insensitive lookups on indexed fields
only) and counts calls, so tests can check that the evaluator batches its reads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sfemu.org.ids import make_id
from sfemu.schema import OrgSchema, standard_objects


class MemoryContext:
    def __init__(self, schema: OrgSchema | None = None, *, now: datetime | None = None,
                 api_version: str = "59.0") -> None:
        if schema is None:
            schema = OrgSchema(standard_objects())
            schema.link_children()
        self.schema = schema
        self.api_version = api_version
        self.current = now or datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
        self.records: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.hidden_objects: set[str] = set()
        self.hidden_fields: set[tuple[str, str]] = set()
        self.calls: dict[str, int] = defaultdict(int)
        self.lookups_seen: list[tuple[str, dict[str, list[str]]]] = []
        self._counter = 0
        self._indexes: dict[tuple[str, str], dict[str, list[str]]] = {}

    def add(self, sobject: str, **fields: Any) -> str:
        """Store a record; returns its new 18-character Id."""
        self._counter += 1
        record_id = make_id(self.schema.objects[sobject].key_prefix, "00", self._counter)
        self.records[sobject][record_id] = {"Id": record_id, "IsDeleted": False, **fields}
        self._indexes = {k: v for k, v in self._indexes.items() if k[0] != sobject}
        return record_id

    def now(self) -> datetime:
        return self.current

    def can_read_object(self, sobject: str) -> bool:
        return sobject not in self.hidden_objects

    def can_read_field(self, sobject: str, field: str) -> bool:
        return (sobject, field) not in self.hidden_fields

    def _index(self, sobject: str, field: str) -> dict[str, list[str]]:
        key = (sobject, field)
        if key not in self._indexes:
            index: dict[str, list[str]] = defaultdict(list)
            for record_id, record in self.records[sobject].items():
                value = record.get(field)
                if value is not None:
                    index[str(value).lower()].append(record_id)
            self._indexes[key] = index
        return self._indexes[key]

    def scan(self, sobject: str, *, include_deleted: bool,
             lookups: dict[str, list[str]] | None = None,
             after_id: str = "") -> Iterator[dict[str, Any]]:
        self.calls["scan"] += 1
        table = self.records[sobject]
        if lookups:
            self.lookups_seen.append((sobject, lookups))
            ids: set[str] | None = None
            for field, values in lookups.items():
                fdef = self.schema.objects[sobject].fields[field]
                if not fdef.indexed:
                    raise AssertionError(f"lookup on a field without an index: {field}")
                index = self._index(sobject, field)
                matching = {i for v in values for i in index.get(v.lower(), ())}
                ids = matching if ids is None else ids & matching
            candidates = sorted(ids or ())
        else:
            candidates = sorted(table)
        for record_id in candidates:
            record = table[record_id]
            if record_id > after_id and (include_deleted or not record.get("IsDeleted")):
                yield record

    def get_many(self, sobject: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        self.calls["get_many"] += 1
        table = self.records[sobject]
        return {i: table[i] for i in ids if i in table}

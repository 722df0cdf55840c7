"""The SOQL entry point: compile a query against an org's schema and a reader, then run it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sfemu.schema import OrgSchema
from sfemu.schema.model import TEXT_TYPES
from sfemu.soql import ast
from sfemu.soql.binding import Binder
from sfemu.soql.columns import column_metadata
from sfemu.soql.context import QueryContext, SoqlError
from sfemu.soql.execute import Runner
from sfemu.soql.parser import parse
from sfemu.soql.plan import Plan, Planner
from sfemu.soql.shape import TypeOfShape


class CompiledQuery:
    """A validated query: its shape (for headers and paging decisions) and how to run it."""

    def __init__(self, query: ast.Query, plan: Plan, schema: OrgSchema) -> None:
        self._plan = plan
        self._query = query
        self._schema = schema
        self.sobject: str = plan.obj.name
        self.has_subquery: bool = bool(plan.children)
        self.has_order_by: bool = plan.has_order_by
        self.is_count_only: bool = plan.count_only
        self.is_aggregate: bool = plan.aggregate is not None
        # Salesforce refuses TYPEOF in Bulk API queries.
        self.has_typeof: bool = any(isinstance(e, TypeOfShape) for e in plan.shape.fields)
        self.limit: int | None = query.limit
        self.offset: int | None = query.offset
        # Whether run() yields rows in ascending Id order and honours after_id (true without
        # ORDER BY, and with a plain ORDER BY Id ASC).
        self.resumable: bool = plan.streams and not self.is_aggregate
        if plan.aggregate is not None:
            self.columns: list[str] = [key for key, _, _ in plan.aggregate.outputs]
        else:
            self.columns = list(plan.columns)
        self._paths = [column.split(".") for column in self.columns]
        self._flat = all(len(path) == 1 for path in self._paths)

    def run(self, ctx: QueryContext, *, include_deleted: bool, after_id: str = ""
            ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(Id, record shaped as Salesforce's REST JSON) in result order.

        ``after_id`` resumes the Id-ordered stream after that Id (ignored with ORDER BY):
        OFFSET is then not applied again and LIMIT only caps what follows.  Aggregate rows
        have no Id and yield "".  COUNT() yields nothing: see :meth:`count`.
        """
        if self.is_count_only:
            return iter(())
        runner = Runner(ctx, include_deleted, ctx.now().date())
        if self._plan.aggregate is not None:
            return runner.aggregate_rows(self._plan)
        return runner.rows(self._plan, after_id if self.resumable else "")

    def cells(self, ctx: QueryContext, *, include_deleted: bool, after_id: str = ""
              ) -> Iterator[tuple[str, list[str | None]]]:
        """(Id, CSV cells of ``columns``) in result order: what a Bulk export writes.  A plain
        field list is read straight from the records, without shaping them first."""
        if not self._flat or self.has_subquery or self.is_aggregate or self.is_count_only:
            for rid, record in self.run(ctx, include_deleted=include_deleted,
                                        after_id=after_id):
                yield rid, self.flatten(record)
            return
        runner = Runner(ctx, include_deleted, ctx.now().date())
        columns = self.columns
        # Text fields are stored as the strings they export as; only the others need _cell.
        fields = ctx.schema.objects[self.sobject].fields
        others = [i for i, name in enumerate(columns)
                  if name not in fields or fields[name].type not in TEXT_TYPES]
        for page in runner.record_pages(self._plan, after_id if self.resumable else ""):
            for record in page:
                row = list(map(record.get, columns))
                for i in others:
                    row[i] = _cell(row[i])
                yield str(record.get("Id", "")), row

    def column_metadata(self) -> dict[str, Any]:
        """What ``query?columns=true`` answers: the columns, not the rows."""
        return column_metadata(self._schema, self._plan, self._query)

    def count(self, ctx: QueryContext, *, include_deleted: bool) -> int:
        """totalSize as Salesforce reports it, LIMIT and OFFSET included."""
        return Runner(ctx, include_deleted, ctx.now().date()).count(self._plan)

    def flatten(self, record: dict[str, Any]) -> list[str | None]:
        """The values of ``columns`` in a shaped record, as CSV cells (None for null)."""
        if self._flat:  # no parent paths: the common Bulk export, kept fast
            get = record.get
            return [_cell(get(name)) for name in self.columns]
        out: list[str | None] = []
        for path in self._paths:
            value: Any = record
            for part in path:
                value = value.get(part) if isinstance(value, dict) else None
            out.append(_cell(value))
        return out


def _cell(value: Any) -> str | None:
    if value is None or value.__class__ is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def compile_query(soql: str, ctx: QueryContext) -> CompiledQuery:
    """Parse and validate ``soql`` for this org and reader; raise SoqlError as Salesforce would."""
    query = parse(soql)
    binder = Binder(soql, ctx)
    try:
        obj = binder.bind_object(query.sobject, query.sobject_pos)
        plan = Planner(binder).plan(query, obj)
    except RecursionError:
        raise SoqlError("QUERY_TOO_COMPLICATED",
                        "Query is either selecting too many fields or the filter conditions are "
                        "too complicated.") from None
    return CompiledQuery(query, plan, ctx.schema)

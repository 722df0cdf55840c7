"""A validated query, bound to the schema: what to scan, filter, sort, fetch and shape."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sfemu.org.ids import to18
from sfemu.schema.model import ChildRelationship, ObjectDef
from sfemu.soql import ast
from sfemu.soql.aggregate import AggregatePlan, plan_aggregate
from sfemu.soql.binding import (
    Binder,
    Cache,
    FieldRef,
    Record,
    Trie,
    add_to_trie,
    is_long_text,
)
from sfemu.soql.context import SoqlError
from sfemu.soql.errors import error_at, unknown_child_relationship
from sfemu.soql.fields import expand_fields
from sfemu.soql.predicates import NORMALISERS, ConditionCompiler, Factory
from sfemu.soql.semijoin import check_placement, check_subquery, selected_path
from sfemu.soql.shape import ShapeNode, TypeOfShape
from sfemu.soql.typeof import plan_typeof

MAX_OFFSET = 2000


@dataclass(frozen=True)
class SortKey:
    get: Callable[[Record, Cache], Any]
    norm: Callable[[Any], Any]
    descending: bool
    nulls_first: bool


@dataclass
class ChildPlan:
    relationship: ChildRelationship
    plan: Plan


@dataclass
class SemiJoinPlan:
    """A semi-join's subquery, the field it selects, and the lookup it narrows (IN only)."""

    plan: Plan
    field: str
    lookup: str | None  # the left operand, when the scan can be narrowed to the Ids found


@dataclass
class Plan:
    obj: ObjectDef
    refs: list[FieldRef] = field(default_factory=list)  # selected fields, query order
    columns: list[str] = field(default_factory=list)  # dotted paths, TYPEOF's included
    shape: ShapeNode = field(default_factory=ShapeNode)
    children: list[ChildPlan] = field(default_factory=list)
    where: Factory | None = None
    where_trie: Trie = field(default_factory=dict)
    order_trie: Trie = field(default_factory=dict)
    select_trie: Trie = field(default_factory=dict)
    order: list[SortKey] = field(default_factory=list)
    has_order_by: bool = False
    limit: int | None = None
    offset: int = 0
    lookups: dict[str, list[str]] = field(default_factory=dict)
    after_floor: str = ""  # from a top-level "Id > '…'"
    count_only: bool = False
    aggregate: AggregatePlan | None = None
    semi_joins: list[SemiJoinPlan] = field(default_factory=list)  # Env.semi_ids, in order

    @property
    def streams(self) -> bool:
        """Whether rows come straight from the scan, in Id order (no sort needed)."""
        return not self.order


def _sort_norm(kind: str) -> Callable[[Any], Any]:
    if kind == "id":
        return lambda v: v if isinstance(v, str) and v else None
    if kind == "bool":
        return lambda v: int(v) if isinstance(v, bool) else None
    return NORMALISERS[kind]


class Planner:
    def __init__(self, binder: Binder) -> None:
        self.binder = binder
        self.soql = binder.soql

    def _malformed(self, pos: ast.Pos, reason: str) -> Exception:
        return error_at("MALFORMED_QUERY", self.soql, pos, reason)

    def plan(self, query: ast.Query, obj: ObjectDef, *, child: bool = False) -> Plan:
        query = expand_fields(self.soql, query, obj, self.binder.ctx)
        plan = Plan(obj)
        plan.has_order_by = bool(query.order_by)
        aggregates = [i for i in query.select if isinstance(i, ast.SelectAggregate)]
        counts = [i for i in query.select if isinstance(i, ast.CountAll)]
        if child and (aggregates or counts or query.group_by):
            item = (aggregates[0].aggregate.pos if aggregates else counts[0].pos if counts
                    else query.group_by[0].pos)
            raise self._malformed(item, "Aggregate queries are not supported in subqueries")
        if counts:
            if len(query.select) > 1 or query.group_by:
                raise self._malformed(counts[0].pos,
                                      "COUNT() must be the only element in the SELECT list")
            plan.count_only = True
        if query.where is not None:
            check_placement(self.soql, query.where)
            compiler = ConditionCompiler(self.binder, obj.name)
            plan.where = compiler.compile(query.where)
            for ref in compiler.refs:
                add_to_trie(plan.where_trie, ref)
            self._pushdown(plan, query.where, compiler)
            plan.semi_joins = [self._semi_join(obj, semi) for semi in compiler.semi_joins]
        if aggregates or query.group_by:
            plan.aggregate = self._aggregate(plan, query)
        elif not plan.count_only:
            self._select(plan, query, child=child)
            self._order(plan, query)
        if query.offset is not None and query.offset > MAX_OFFSET:
            raise SoqlError("NUMBER_OUTSIDE_VALID_RANGE",
                            f"Maximum SOQL offset allowed is {MAX_OFFSET}")
        plan.limit = query.limit
        plan.offset = query.offset or 0
        return plan

    # -- SELECT ---------------------------------------------------------------------------
    def _select(self, plan: Plan, query: ast.Query, *, child: bool) -> None:
        seen: set[str] = set()
        typeofs: list[tuple[TypeOfShape, ast.Pos]] = []
        for item in query.select:
            if isinstance(item, ast.Query):
                if child:
                    raise self._malformed(item.sobject_pos, "unexpected token: '('")
                plan.children.append(self._child(plan.obj, item))
                plan.shape.fields.append(plan.children[-1])
                continue
            if isinstance(item, ast.TypeOf):
                typeof = plan_typeof(self.binder, plan.obj, item, plan.select_trie)
                typeofs.append((typeof, item.pos))
                plan.shape.fields.append(typeof)
                plan.columns.extend(typeof.columns)
                continue
            assert isinstance(item, ast.FieldPath)
            ref = self.binder.bind_path(plan.obj, item)
            if ref.column.lower() in seen:
                raise self._malformed(item.pos, f"duplicate field selected: {ref.column}")
            seen.add(ref.column.lower())
            plan.refs.append(ref)
            plan.columns.append(ref.column)
            plan.shape.add(ref)
            add_to_trie(plan.select_trie, ref)
        self._check_typeofs(plan, typeofs)

    def _check_typeofs(self, plan: Plan, typeofs: list[tuple[TypeOfShape, ast.Pos]]) -> None:
        """A TYPEOF's relationship is selected through that TYPEOF only."""
        taken = {ref.rels[0] for ref in plan.refs if ref.rels}
        for i, (typeof, pos) in enumerate(typeofs):
            if typeof.rel in taken or any(typeof.rel == t.rel for t, _ in typeofs[:i]):
                raise self._malformed(pos, f"TYPEOF {typeof.rel}: the relationship {typeof.rel} "
                                      "can't also be selected outside this TYPEOF")

    def _child(self, parent: ObjectDef, sub: ast.Query) -> ChildPlan:
        rel = parent.child_relationship_ci(sub.sobject)
        child_obj = self.binder.readable_object(rel.child_object) if rel else None
        if (rel is None or child_obj is None
                or not self.binder.ctx.can_read_field(child_obj.name, rel.field)):
            raise unknown_child_relationship(self.soql, sub.sobject_pos, sub.sobject)
        return ChildPlan(rel, self.plan(sub, child_obj, child=True))

    def _semi_join(self, outer: ObjectDef, semi: ast.SemiJoin) -> SemiJoinPlan:
        left = self.binder.bind_path(outer, semi.path).field
        path = selected_path(self.soql, semi.query)
        inner = self.binder.bind_object(semi.query.sobject, semi.query.sobject_pos)
        selected = self.binder.bind_path(inner, path).field
        check_subquery(self.soql, outer, left, semi.query, inner, path, selected)
        return SemiJoinPlan(self.plan(semi.query, inner, child=True), selected.name,
                            None if semi.negated else left.name)

    # -- ORDER BY -------------------------------------------------------------------------
    def _sortable(self, path: ast.FieldPath, obj: ObjectDef) -> FieldRef:
        ref = self.binder.bind_path(obj, path)
        if is_long_text(ref.field) or ref.kind == "multi":
            raise error_at("INVALID_FIELD", self.soql, path.pos,
                           f"field '{ref.name}' can not be sorted in a query call")
        return ref

    def _order(self, plan: Plan, query: ast.Query) -> None:
        for item in query.order_by:
            if isinstance(item.expr, ast.Aggregate):
                raise self._malformed(item.expr.pos, "Aggregate functions can only be used in "
                                      "ORDER BY in aggregate queries")
            ref = self._sortable(item.expr, plan.obj)
            nulls_first = item.nulls_first if item.nulls_first is not None else (
                not item.descending)
            plan.order.append(SortKey(ref.get, _sort_norm(ref.kind), item.descending,
                                      nulls_first))
            add_to_trie(plan.order_trie, ref)
        # ORDER BY Id (ascending) is the scan's own order: no need to hold rows to sort them.
        if (len(query.order_by) == 1 and isinstance(query.order_by[0].expr, ast.FieldPath)
                and not query.order_by[0].descending and plan.order_trie == {}
                and query.order_by[0].expr.parts[-1].lower() == "id"
                and len(query.order_by[0].expr.parts) == 1):
            plan.order = []

    # -- index lookups --------------------------------------------------------------------
    def _pushdown(self, plan: Plan, where: ast.Condition, compiler: ConditionCompiler) -> None:
        conjuncts = where.operands if isinstance(where, ast.And) else (where,)
        for cond in conjuncts:
            if isinstance(cond, ast.Compare) and cond.op in ("=", ">"):
                literals: tuple[ast.Literal, ...] = (cond.value,)
            elif isinstance(cond, ast.InList) and not cond.negated:
                literals = cond.values
            else:
                continue
            if len(cond.path.parts) != 1 or any(
                    lit.kind != "string" or not lit.value for lit in literals):
                continue
            ref = self.binder.bind_path(plan.obj, cond.path)
            values = [str(lit.value) for lit in literals]
            if ref.kind == "id":
                values = [to18(v) for v in values]
            if isinstance(cond, ast.Compare) and cond.op == ">":
                if ref.field.name == "Id":
                    plan.after_floor = max(plan.after_floor, values[0])
                continue
            if not ref.field.indexed:
                continue
            existing = plan.lookups.get(ref.field.name)
            if existing is not None:
                keep = {v.lower() for v in existing}
                values = [v for v in values if v.lower() in keep]
            plan.lookups[ref.field.name] = values

    # -- aggregates -----------------------------------------------------------------------
    def _aggregate(self, plan: Plan, query: ast.Query) -> AggregatePlan:
        return plan_aggregate(self, plan, query)


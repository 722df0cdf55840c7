"""GROUP BY and the aggregate functions COUNT, COUNT_DISTINCT, MIN, MAX, SUM and AVG."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sfemu.soql import ast
from sfemu.soql.binding import Cache, FieldRef, Record, add_to_trie, is_long_text
from sfemu.soql.errors import error_at
from sfemu.soql.predicates import NORMALISERS

if TYPE_CHECKING:
    from sfemu.soql.plan import Plan, Planner

@dataclass
class Measure:
    """One aggregate computed per group."""

    function: str
    ref: FieldRef


@dataclass
class AggregatePlan:
    groups: list[FieldRef]
    measures: list[Measure]
    outputs: list[tuple[str, int, bool]]  # key, index, is_measure (else index into groups)
    order: list[tuple[int, bool, bool, bool]]  # index, is_measure, descending, nulls_first
    displays: list[str]  # per output, as the query wrote it: "COUNT(Id)", "Name"


_NOT_GROUPABLE = ("double", "currency", "percent", "datetime", "multipicklist")


def plan_aggregate(planner: Planner, plan: Plan, query: ast.Query) -> AggregatePlan:
    soql = planner.soql
    groups: list[FieldRef] = []
    for path in query.group_by:
        ref = planner.binder.bind_path(plan.obj, path)
        if is_long_text(ref.field) or ref.field.type in _NOT_GROUPABLE:
            raise error_at("INVALID_FIELD", soql, path.pos,
                           f"field '{ref.name}' can not be grouped in a query call")
        groups.append(ref)
    group_index = {g.column.lower(): i for i, g in enumerate(groups)}
    measures: list[Measure] = []

    def measure(agg: ast.Aggregate) -> int:
        ref = planner.binder.bind_path(plan.obj, agg.field)
        _check_function(soql, agg, ref)
        for i, m in enumerate(measures):
            if m.function == agg.function and m.ref.column == ref.column:
                return i
        measures.append(Measure(agg.function, ref))
        return len(measures) - 1

    outputs: list[tuple[str, int, bool]] = []
    displays: list[str] = []
    unnamed = 0
    for item in query.select:
        if isinstance(item, ast.SelectAggregate):
            key = item.alias
            if key is None:
                key, unnamed = f"expr{unnamed}", unnamed + 1
            outputs.append((key, measure(item.aggregate), True))
            displays.append(item.aggregate.text)
        elif isinstance(item, ast.FieldPath):
            ref = planner.binder.bind_path(plan.obj, item)
            if ref.column.lower() not in group_index:
                raise error_at("MALFORMED_QUERY", soql, item.pos,
                               f"Field must be grouped or aggregated: {ref.name}")
            outputs.append((ref.name, group_index[ref.column.lower()], False))
            displays.append(ref.name)
        else:
            pos = item.sobject_pos if isinstance(item, ast.Query) else item.pos
            raise error_at("MALFORMED_QUERY", soql, pos,
                           "Nested queries are not supported in aggregate queries")
    order: list[tuple[int, bool, bool, bool]] = []
    for o in query.order_by:
        nulls_first = o.nulls_first if o.nulls_first is not None else not o.descending
        if isinstance(o.expr, ast.Aggregate):
            order.append((measure(o.expr), True, o.descending, nulls_first))
            continue
        ref = planner.binder.bind_path(plan.obj, o.expr)
        if ref.column.lower() not in group_index:
            raise error_at("MALFORMED_QUERY", soql, o.expr.pos,
                           f"Ordered field must be grouped or aggregated: {ref.name}")
        order.append((group_index[ref.column.lower()], False, o.descending, nulls_first))
    for ref in [*groups, *(m.ref for m in measures)]:
        add_to_trie(plan.select_trie, ref)
    return AggregatePlan(groups, measures, outputs, order, displays)


def _check_function(soql: str, agg: ast.Aggregate, ref: FieldRef) -> None:
    kind = ref.kind
    allowed = {
        "COUNT": kind != "multi", "COUNT_DISTINCT": kind != "multi",
        "SUM": kind == "number", "AVG": kind == "number",
        "MIN": kind in ("number", "date", "datetime", "text", "id"),
        "MAX": kind in ("number", "date", "datetime", "text", "id"),
    }[agg.function]
    if not allowed or is_long_text(ref.field):
        raise error_at("INVALID_FIELD", soql, agg.field.pos,
                       f"field {ref.name} does not support aggregate operator {agg.function}")


class Group:
    """The running state of one group: the grouped values, then one slot per measure."""

    def __init__(self, plan: AggregatePlan, record: Record, cache: Cache) -> None:
        self.values = [g.get(record, cache) for g in plan.groups]
        self.state: list[Any] = []
        for m in plan.measures:
            self.state.append(set() if m.function == "COUNT_DISTINCT" else
                              [0.0, 0] if m.function == "AVG" else
                              0 if m.function == "COUNT" else None)

    def add(self, plan: AggregatePlan, record: Record, cache: Cache) -> None:
        for i, m in enumerate(plan.measures):
            value = m.ref.get(record, cache)
            norm = NORMALISERS[m.ref.kind](value)
            if norm is None:
                continue
            fn = m.function
            if fn == "COUNT":
                self.state[i] += 1
            elif fn == "COUNT_DISTINCT":
                self.state[i].add(norm)
            elif fn == "SUM":
                number = value if isinstance(value, int | float) else norm
                self.state[i] = number if self.state[i] is None else self.state[i] + number
            elif fn == "AVG":
                self.state[i][0] += norm
                self.state[i][1] += 1
            elif self.state[i] is None or (norm < self.state[i][0] if fn == "MIN"
                                           else norm > self.state[i][0]):
                self.state[i] = (norm, value)

    def measure(self, plan: AggregatePlan, i: int) -> Any:
        fn, state = plan.measures[i].function, self.state[i]
        if fn == "COUNT_DISTINCT":
            return len(state)
        if fn == "AVG":
            return state[0] / state[1] if state[1] else None
        if fn in ("MIN", "MAX"):
            return state[1] if state is not None else None
        return state


def group_key(plan: AggregatePlan, record: Record, cache: Cache) -> tuple[Any, ...]:
    return tuple(NORMALISERS[g.kind](g.get(record, cache)) for g in plan.groups)


def sort_groups(plan: AggregatePlan, groups: list[Group]) -> list[Group]:
    """Groups in ORDER BY order; without one, by the grouped values (as Salesforce tends to)."""
    order = plan.order or [(i, False, False, True) for i in range(len(plan.groups))]
    result = list(groups)
    for index, is_measure, descending, nulls_first in reversed(order):
        def key(g: Group, index: int = index, is_measure: bool = is_measure,
                nulls_first: bool = nulls_first, descending: bool = descending) -> Any:
            if is_measure:
                value = g.measure(plan, index)
                norm = NORMALISERS[plan.measures[index].ref.kind](value) if plan.measures[
                    index].function in ("MIN", "MAX") else value
            else:
                norm = NORMALISERS[plan.groups[index].kind](g.values[index])
            return _null_rank(norm, nulls_first, descending)
        result.sort(key=key, reverse=descending)
    return result


def _null_rank(norm: Any, nulls_first: bool, descending: bool) -> tuple[int, Any]:
    """A sort key placing nulls first or last whichever way the sort runs."""
    null_low = nulls_first != descending
    if norm is None:
        return (0 if null_low else 2, 0)
    return (1, norm)


def shape_group(plan: AggregatePlan, group: Group) -> dict[str, Any]:
    out: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
    for key, index, is_measure in plan.outputs:
        out[key] = group.measure(plan, index) if is_measure else group.values[index]
    return out

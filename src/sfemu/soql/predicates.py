"""WHERE clauses compiled to Python predicates, with Salesforce's type rules and semantics.

Compilation validates (so errors surface when the query is compiled) and returns a factory
that binds an :class:`Env`: the current day, because relative date literals are ranges around
"today", and the Ids each semi-join's subquery selected when the query ran.
Logic is two-valued as in SOQL: ``Email != 'x'`` and ``NOT IN`` include records whose value is
null; ``<``/``>`` and LIKE never match null.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sfemu.org.ids import to18
from sfemu.soql import ast
from sfemu.soql.binding import Binder, Cache, FieldRef, Record, is_long_text
from sfemu.soql.context import SoqlError
from sfemu.soql.dates import day_start_instant, instant, relative_range
from sfemu.soql.errors import error_at
from sfemu.soql.parser import like_regex
from sfemu.soql.semijoin import check_left_operand


@dataclass(frozen=True)
class Env:
    """What a WHERE clause is evaluated against, beside the records."""

    today: date
    semi_ids: tuple[frozenset[str], ...] = ()  # per semi-join, the Ids its subquery selected


Predicate = Callable[[Record, Cache], bool]
Factory = Callable[[Env], Predicate]
Range = tuple[Any, Any, bool]  # low, high, whether high is inclusive
Operand = Callable[[date], Range | None]  # None stands for the null literal


def _norm_text(v: Any) -> str | None:
    if v is None or v == "":
        return None  # Salesforce stores empty text as null
    return (v if isinstance(v, str) else str(v)).casefold()


def _norm_text_exact(v: Any) -> str | None:
    """Unique case-sensitive fields: "String comparisons using the equals operator are
    case-sensitive for unique case-sensitive fields and case-insensitive for all other fields"."""
    if v is None or v == "":
        return None
    return v if isinstance(v, str) else str(v)


def norm_id(v: Any) -> str | None:
    if not isinstance(v, str) or not v:
        return None
    if len(v) == 15:
        try:
            return to18(v)
        except ValueError:
            return v
    return v


def _norm_number(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float):
        return float(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _norm_bool(v: Any) -> bool | None:
    return v if isinstance(v, bool) else None


def _norm_date(v: Any) -> str | None:
    return v[:10] if isinstance(v, str) and v else None


def _norm_multi(v: Any) -> frozenset[str] | None:
    if not isinstance(v, str):
        return None
    values = frozenset(p.strip().casefold() for p in v.split(";") if p.strip())
    return values or None


NORMALISERS: dict[str, Callable[[Any], Any]] = {
    "text": _norm_text, "id": norm_id, "number": _norm_number, "bool": _norm_bool,
    "date": _norm_date, "datetime": instant, "multi": _norm_multi,
}
_TYPE_NAMES = {"int": "integer", "datetime": "dateTime", "reference": "id"}


def _normaliser(ref: FieldRef) -> Callable[[Any], Any]:
    if ref.kind == "text" and ref.field.case_sensitive:
        return _norm_text_exact
    return NORMALISERS[ref.kind]
_QUOTED_KINDS = ("text", "id", "multi")
MAX_NESTING = 100


class ConditionCompiler:
    def __init__(self, binder: Binder, obj_name: str) -> None:
        self.binder = binder
        self.soql = binder.soql
        self.obj = binder.schema.objects[obj_name]
        self.refs: list[FieldRef] = []  # every field the condition reads
        self.semi_joins: list[ast.SemiJoin] = []  # in order: Env.semi_ids has one set each

    def compile(self, cond: ast.Condition, depth: int = 0) -> Factory:
        # Predicates nest as closures; bounding the depth keeps evaluation off Python's
        # recursion limit wherever run() is called from.
        if depth > MAX_NESTING:
            raise SoqlError("QUERY_TOO_COMPLICATED", "Query is either selecting too many fields "
                            "or the filter conditions are too complicated.")
        if isinstance(cond, ast.And):
            parts = [self.compile(c, depth + 1) for c in cond.operands]
            return lambda env: _all([p(env) for p in parts])
        if isinstance(cond, ast.Or):
            parts = [self.compile(c, depth + 1) for c in cond.operands]
            return lambda env: _any([p(env) for p in parts])
        if isinstance(cond, ast.Not):
            inner = self.compile(cond.operand, depth + 1)
            return lambda env: _negate(inner(env))
        ref = self.bind(cond.path)
        if isinstance(cond, ast.SemiJoin):
            return self._semi_join(ref, cond)
        if isinstance(cond, ast.Includes):
            return self._includes(ref, cond)
        if isinstance(cond, ast.InList):
            return self._in_list(ref, cond)
        if cond.op == "LIKE":
            return self._like(ref, cond)
        return self._compare(ref, cond)

    def bind(self, path: ast.FieldPath) -> FieldRef:
        ref = self.binder.bind_path(self.obj, path)
        if is_long_text(ref.field):
            raise error_at("INVALID_FIELD", self.soql, path.pos,
                           f"field '{ref.name}' can not be filtered in a query call")
        self.refs.append(ref)
        return ref

    # -- errors ---------------------------------------------------------------------------
    def _bad_operator(self, ref: FieldRef) -> SoqlError:
        type_name = "id" if ref.kind == "id" else ref.field.type
        return error_at("INVALID_QUERY_FILTER_OPERATOR", self.soql, ref.pos,
                        f"invalid operator on {type_name} field")

    def _bad_value(self, ref: FieldRef) -> SoqlError:
        type_name = "string" if ref.kind in ("text", "multi") else _TYPE_NAMES.get(
            ref.field.type, ref.field.type)
        quotes = "should be" if ref.kind in _QUOTED_KINDS else "should not be"
        return error_at("INVALID_FIELD", self.soql, ref.pos,
                        f"value of filter criterion for field '{ref.name}' must be of type "
                        f"{type_name} and {quotes} enclosed in quotes")

    # -- literals -------------------------------------------------------------------------
    def operand(self, ref: FieldRef, lit: ast.Literal) -> Operand:
        """The literal as a range in the field's normalised value space."""
        if lit.kind == "null":
            return lambda today: None
        kind = ref.kind
        accepted = {"text": ("string",), "id": ("string",), "multi": ("string",),
                    "number": ("number",), "bool": ("boolean",), "date": ("date", "relative"),
                    "datetime": ("datetime", "relative")}[kind]
        if lit.kind not in accepted:
            raise self._bad_value(ref)
        if lit.kind == "relative":
            assert isinstance(lit.value, ast.RelativeDate)
            return _relative_operand(lit.value, kind)
        if kind == "id":
            assert isinstance(lit.value, str)
            point: Any = self._id_value(ref, lit.value)
        elif kind == "date":
            assert isinstance(lit.value, date)
            point = lit.value.isoformat()
        elif kind == "datetime":
            try:
                point = lit.value.timestamp()  # type: ignore[union-attr]
            except (OverflowError, ValueError):
                raise error_at("MALFORMED_QUERY", self.soql, lit.pos,
                               f"Invalid datetime: {lit.raw}") from None
        else:
            point = _normaliser(ref)(lit.value)
        if point is None:
            return lambda today: None
        fixed: Range = (point, point, True)
        return lambda today: fixed

    def _id_value(self, ref: FieldRef, value: str) -> str | None:
        if value == "":
            return None
        try:
            return to18(value)
        except ValueError:
            raise error_at("INVALID_QUERY_FILTER_OPERATOR", self.soql, ref.pos,
                           f"invalid ID field: {value}") from None

    # -- operators ------------------------------------------------------------------------
    def _compare(self, ref: FieldRef, cond: ast.Compare) -> Factory:
        kind, op = ref.kind, cond.op
        if op not in ("=", "!=") and kind in ("bool", "multi"):
            raise self._bad_operator(ref)
        norm = _normaliser(ref)
        if kind == "multi":
            values = self._multi_values(ref, (cond.value,))
            pred = _multi_in(ref, values)
            return lambda env: pred if op == "=" else _negate(pred)
        operand = self.operand(ref, cond.value)
        return lambda env: _range_predicate(ref, norm, op, operand(env.today))

    def _like(self, ref: FieldRef, cond: ast.Compare) -> Factory:
        if ref.kind != "text":
            raise self._bad_operator(ref)
        lit = cond.value
        if lit.kind == "null":
            return lambda env: _never
        if lit.kind != "string":
            raise self._bad_value(ref)
        pattern = like_regex(lit.raw)
        return lambda env: _like_predicate(ref, pattern)

    def _in_list(self, ref: FieldRef, cond: ast.InList) -> Factory:
        kind = ref.kind
        if kind == "multi":
            pred = _multi_in(ref, self._multi_values(ref, cond.values))
            return lambda env: _negate(pred) if cond.negated else pred
        norm = _normaliser(ref)
        operands = [self.operand(ref, v) for v in cond.values]

        def build(env: Env) -> Predicate:
            ranges = [o(env.today) for o in operands]
            pred = _membership(ref, norm, ranges)
            return _negate(pred) if cond.negated else pred
        return build

    def _includes(self, ref: FieldRef, cond: ast.Includes) -> Factory:
        if ref.kind != "multi":
            raise error_at("INVALID_QUERY_FILTER_OPERATOR", self.soql, ref.pos,
                           "includes or excludes operator only valid on multipicklist field")
        wanted = [v for v in self._multi_values(ref, cond.values) if v is not None]

        def pred(record: Record, cache: Cache) -> bool:
            have = _norm_multi(ref.get(record, cache)) or frozenset()
            return any(w <= have for w in wanted)
        return lambda env: _negate(pred) if cond.excludes else pred

    def _semi_join(self, ref: FieldRef, cond: ast.SemiJoin) -> Factory:
        check_left_operand(self.soql, cond, ref.field, len(ref.rels))
        index = len(self.semi_joins)
        self.semi_joins.append(cond)
        get = ref.get

        def build(env: Env) -> Predicate:
            ids = env.semi_ids[index]

            def member(record: Record, cache: Cache) -> bool:
                return norm_id(get(record, cache)) in ids
            return _negate(member) if cond.negated else member
        return build

    def _multi_values(self, ref: FieldRef, values: tuple[ast.Literal, ...]
                      ) -> list[frozenset[str] | None]:
        out: list[frozenset[str] | None] = []
        for lit in values:
            if lit.kind == "null":
                out.append(None)
            elif lit.kind == "string":
                out.append(_norm_multi(lit.value))
            else:
                raise self._bad_value(ref)
        return out


def _relative_operand(literal: ast.RelativeDate, kind: str) -> Operand:
    def at(today: date) -> Range:
        first, last = relative_range(literal, today)
        if kind == "date":
            return (first.isoformat(), last.isoformat(), True)
        return (day_start_instant(first), day_start_instant(last) + 86400.0, False)
    return at


def _never(record: Record, cache: Cache) -> bool:
    return False


def _all(preds: list[Predicate]) -> Predicate:
    return lambda record, cache: all(p(record, cache) for p in preds)


def _any(preds: list[Predicate]) -> Predicate:
    return lambda record, cache: any(p(record, cache) for p in preds)


def _negate(pred: Predicate) -> Predicate:
    return lambda record, cache: not pred(record, cache)


def _range_predicate(ref: FieldRef, norm: Callable[[Any], Any], op: str,
                     rng: Range | None) -> Predicate:
    get = ref.get
    if rng is None:  # comparisons with null: only = and != mean anything
        if op == "=":
            return lambda r, c: norm(get(r, c)) is None
        if op == "!=":
            return lambda r, c: norm(get(r, c)) is not None
        return _never
    lo, hi, inclusive = rng
    tests: dict[str, Callable[[Any], bool]] = {
        "=": (lambda v: lo <= v <= hi) if inclusive else (lambda v: lo <= v < hi),
        "!=": (lambda v: not lo <= v <= hi) if inclusive else (lambda v: not lo <= v < hi),
        "<": lambda v: v < lo,
        "<=": (lambda v: v <= hi) if inclusive else (lambda v: v < hi),
        ">": (lambda v: v > hi) if inclusive else (lambda v: v >= hi),
        ">=": lambda v: v >= lo,
    }
    test = tests[op]
    if op == "!=":
        def differs(record: Record, cache: Cache) -> bool:
            value = norm(get(record, cache))
            return value is None or test(value)
        return differs

    def matches(record: Record, cache: Cache) -> bool:
        value = norm(get(record, cache))
        return value is not None and test(value)
    return matches


def _membership(ref: FieldRef, norm: Callable[[Any], Any],
                ranges: list[Range | None]) -> Predicate:
    get = ref.get
    with_null = any(r is None for r in ranges)
    points = {r[0] for r in ranges if r is not None and r[0] == r[1] and r[2]}
    spans = [r for r in ranges if r is not None and not (r[0] == r[1] and r[2])]

    def member(record: Record, cache: Cache) -> bool:
        value = norm(get(record, cache))
        if value is None:
            return with_null
        if value in points:
            return True
        return any(lo <= value <= hi if inc else lo <= value < hi for lo, hi, inc in spans)
    return member


def _multi_in(ref: FieldRef, values: list[frozenset[str] | None]) -> Predicate:
    get = ref.get

    def member(record: Record, cache: Cache) -> bool:
        return _norm_multi(get(record, cache)) in values
    return member


def _like_predicate(ref: FieldRef, pattern: re.Pattern[str]) -> Predicate:
    get, match = ref.get, pattern.fullmatch

    def like(record: Record, cache: Cache) -> bool:
        value = get(record, cache)
        return isinstance(value, str) and match(value) is not None
    return like

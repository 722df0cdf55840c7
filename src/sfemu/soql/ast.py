"""The SOQL syntax tree: what the parser produces and the compiler validates.

Every node that can be the subject of an error carries its position, because Salesforce's
error messages point at the offending token (``ERROR at Row:1:Column:8``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Union


@dataclass(frozen=True)
class Pos:
    line: int  # 1-based
    column: int  # 1-based


@dataclass(frozen=True)
class FieldPath:
    """``Name`` or ``Account.Owner.Email``: relationship names, then a field name."""

    parts: tuple[str, ...]
    pos: Pos

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Aggregate:
    """``COUNT(Id)``, ``SUM(Amount)``…; ``COUNT()`` is :class:`CountAll`."""

    function: str  # upper case: COUNT, COUNT_DISTINCT, MIN, MAX, SUM, AVG
    field: FieldPath
    pos: Pos
    written: str = ""  # the function's name as the query spells it (column metadata)

    @property
    def text(self) -> str:
        return f"{self.written or self.function}({self.field.text})"


@dataclass(frozen=True)
class RelativeDate:
    """TODAY, LAST_N_DAYS:5…: ``n`` is None for the literals without a number."""

    name: str  # upper case, without the ':n'
    n: int | None


@dataclass(frozen=True)
class Literal:
    """A value in a WHERE clause.

    ``kind`` is one of string, number, boolean, null, date, datetime, relative.  Strings keep
    their ``raw`` body (escapes undecoded) because LIKE reads ``\\%`` and ``\\_`` differently.
    """

    kind: str
    value: str | int | float | bool | date | datetime | RelativeDate | None
    raw: str
    pos: Pos


@dataclass(frozen=True)
class Compare:
    path: FieldPath
    op: str  # = != < <= > >= LIKE  ('<>' is normalised to '!=')
    value: Literal
    pos: Pos


@dataclass(frozen=True)
class InList:
    path: FieldPath
    negated: bool
    values: tuple[Literal, ...]
    pos: Pos


@dataclass(frozen=True)
class Includes:
    path: FieldPath
    excludes: bool
    values: tuple[Literal, ...]
    pos: Pos


@dataclass(frozen=True)
class SemiJoin:
    """``Id IN (SELECT ContactId FROM …)``, or NOT IN (an anti-join)."""

    path: FieldPath
    negated: bool
    query: Query
    pos: Pos  # the IN (or NOT) keyword


@dataclass(frozen=True)
class Not:
    operand: Condition


@dataclass(frozen=True)
class And:
    operands: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Condition, ...]


Condition = Union[Compare, InList, Includes, SemiJoin, Not, And, Or]  # noqa: UP007 - runtime


@dataclass(frozen=True)
class CountAll:
    pos: Pos


@dataclass(frozen=True)
class SelectAggregate:
    aggregate: Aggregate
    alias: str | None


@dataclass(frozen=True)
class FieldsFn:
    """``FIELDS(ALL)``, ``FIELDS(CUSTOM)`` or ``FIELDS(STANDARD)``."""

    kind: str  # upper case
    pos: Pos


@dataclass(frozen=True)
class TypeOfBranch:
    sobject: str  # as written
    fields: tuple[FieldPath, ...]
    pos: Pos


@dataclass(frozen=True)
class TypeOf:
    """``TYPEOF What WHEN Account THEN Name, Phone … ELSE Name END``."""

    relationship: str  # as written
    whens: tuple[TypeOfBranch, ...]
    otherwise: tuple[FieldPath, ...]  # the ELSE fields, () without ELSE
    pos: Pos


@dataclass(frozen=True)
class OrderItem:
    expr: FieldPath | Aggregate
    descending: bool
    nulls_first: bool | None  # None: Salesforce's default for the direction


@dataclass(frozen=True)
class Query:
    """A top-level query, or a child subquery (``sobject`` is then a relationship name)."""

    select: tuple[SelectItem, ...]
    sobject: str
    sobject_pos: Pos
    where: Condition | None = None
    group_by: tuple[FieldPath, ...] = ()
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int | None = None
    security_enforced: bool = False
    pos: Pos = Pos(1, 1)


SelectItem = Union[FieldPath, Query, CountAll, SelectAggregate, FieldsFn, TypeOf]  # noqa: UP007

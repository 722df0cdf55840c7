"""Semi-joins (``Id IN (SELECT ContactId FROM …)``) and anti-joins (``NOT IN``): the rules.

Salesforce's rules (SOQL reference, "Semi-Joins with IN and Anti-Joins with NOT IN"):

- the left operand is the Id or a reference field of the queried object, without a path;
- the subquery selects exactly one field, Id or a reference, without a path, that points to
  the same kind of object as the left operand; it queries another object than the main query;
- no more than two semi- or anti-joins in a query, and none inside a subquery (no nesting);
- they stand at the top level of WHERE: alone or joined by AND.  Beside OR, Salesforce answers
  "Semi join sub-selects are not allowed with the 'OR' operator"; deeper (under NOT, or in a
  parenthesised group) "… only allowed at the top level WHERE expressions …".

Both messages are Salesforce's own; the other refusals here are worded by sfemu, in the style
of Salesforce's (their exact wording is not published).
"""

from __future__ import annotations

from collections.abc import Iterator

from sfemu.schema.model import FieldDef, ObjectDef
from sfemu.soql import ast
from sfemu.soql.context import SoqlError
from sfemu.soql.errors import error_at

MAX_SEMI_JOINS = 2
_ID_TYPES = ("id", "reference")


def _malformed(soql: str, pos: ast.Pos, reason: str) -> SoqlError:
    return error_at("MALFORMED_QUERY", soql, pos, reason)


def semi_joins_in(cond: ast.Condition | None) -> Iterator[ast.SemiJoin]:
    if isinstance(cond, ast.SemiJoin):
        yield cond
    elif isinstance(cond, ast.And | ast.Or):
        for operand in cond.operands:
            yield from semi_joins_in(operand)
    elif isinstance(cond, ast.Not):
        yield from semi_joins_in(cond.operand)


def check_placement(soql: str, where: ast.Condition | None) -> None:
    """At most two semi-joins, each the whole WHERE or an operand of its top-level AND."""
    found = list(semi_joins_in(where))
    if len(found) > MAX_SEMI_JOINS:
        raise _malformed(soql, found[MAX_SEMI_JOINS].pos,
                         f"A query can have at most {MAX_SEMI_JOINS} semi join or anti join "
                         "sub-selects")
    top = where.operands if isinstance(where, ast.And) else (where,)
    beside_or = where.operands if isinstance(where, ast.Or) else ()
    for semi in found:
        if any(semi is c for c in top):
            continue
        if any(semi is c for c in beside_or):
            raise _malformed(soql, semi.pos,
                             "Semi join sub-selects are not allowed with the 'OR' operator")
        raise _malformed(soql, semi.pos, "Semi join sub-selects are only allowed at the top "
                         "level WHERE expressions and not in nested WHERE expressions.")


def check_left_operand(soql: str, cond: ast.SemiJoin, field: FieldDef, depth: int) -> None:
    if depth or field.type not in _ID_TYPES:
        raise _malformed(soql, cond.path.pos,
                         f"The left operand of a semi join or anti join must be the Id or a "
                         f"reference field of the queried object, cannot use: "
                         f"'{cond.path.text}'")


def selected_path(soql: str, sub: ast.Query) -> ast.FieldPath:
    """The one field a semi-join's subquery selects."""
    nested = next(semi_joins_in(sub.where), None)
    if nested is not None:
        raise _malformed(soql, nested.pos, "Nesting of semi join sub-selects is not supported")
    item = sub.select[0]
    if len(sub.select) > 1 or not isinstance(item, ast.FieldPath):
        wrong = sub.select[1] if len(sub.select) > 1 else item
        raise _malformed(soql, _pos_of(wrong), "semi join sub selects can only select "
                         "one field")
    return item


def _pos_of(item: ast.SelectItem) -> ast.Pos:
    if isinstance(item, ast.SelectAggregate):
        return item.aggregate.pos
    if isinstance(item, ast.Query):
        return item.sobject_pos
    return item.pos


def targets(obj: ObjectDef, field: FieldDef) -> set[str]:
    """The objects an Id or reference field points to."""
    return {obj.name} if field.type == "id" else set(field.reference_to)


def check_subquery(soql: str, outer: ObjectDef, left: FieldDef, sub: ast.Query,
                   inner: ObjectDef, path: ast.FieldPath, selected: FieldDef) -> None:
    if len(path.parts) > 1 or selected.type not in _ID_TYPES:
        raise _malformed(soql, path.pos, f"semi join sub selects can only query id fields, "
                         f"cannot use: '{path.text}'")
    if inner.name == outer.name:
        raise _malformed(soql, sub.sobject_pos,
                         "The inner and outer selects should not be on the same object type")
    if not targets(outer, left) & targets(inner, selected):
        raise _malformed(soql, path.pos,
                         f"The selected field '{selected.name}' in the sub-select must point to "
                         f"the same object type as the left operand '{left.name}'")

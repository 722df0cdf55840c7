"""FIELDS(ALL), FIELDS(CUSTOM) and FIELDS(STANDARD): expanded to field paths before planning.

Salesforce expands them to the fields the reader can see, in describe order; FIELDS(ALL) and
FIELDS(CUSTOM) are "unbounded" and need a LIMIT of at most 200, FIELDS(STANDARD) does not.  A
field both listed and expanded is a duplicate, as in ``SELECT Id, FIELDS(ALL) …``.
"""

from __future__ import annotations

from dataclasses import replace

from sfemu.schema.model import FieldDef, ObjectDef
from sfemu.soql import ast
from sfemu.soql.context import QueryContext
from sfemu.soql.errors import error_at

MAX_FIELDS_LIMIT = 200


def is_custom(field: FieldDef) -> bool:
    return field.custom or field.name.endswith("__c")


def _wanted(kind: str, field: FieldDef) -> bool:
    if kind == "ALL":
        return True
    return is_custom(field) == (kind == "CUSTOM")


def expand_fields(soql: str, query: ast.Query, obj: ObjectDef, ctx: QueryContext) -> ast.Query:
    """``query`` with every FIELDS() item replaced by the field paths it stands for."""
    if not any(isinstance(item, ast.FieldsFn) for item in query.select):
        return query
    select: list[ast.SelectItem] = []
    for item in query.select:
        if not isinstance(item, ast.FieldsFn):
            select.append(item)
            continue
        if item.kind != "STANDARD" and (query.limit is None or query.limit > MAX_FIELDS_LIMIT):
            raise error_at("MALFORMED_QUERY", soql, item.pos,
                           f"The SOQL FIELDS function must have a LIMIT of at most "
                           f"{MAX_FIELDS_LIMIT}")
        select.extend(ast.FieldPath((f.name,), item.pos) for f in obj.fields.values()
                      if _wanted(item.kind, f) and ctx.can_read_field(obj.name, f.name))
    return replace(query, select=tuple(select))

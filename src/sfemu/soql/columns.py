"""``query?q=…&columns=true``: a query's column metadata instead of its rows.

The Salesforce CLI (``sf data query``) and the Developer Console ask for it to lay out their
tables.  The CLI reads ``columnName``, ``joinColumns``, ``aggregate`` and ``displayName``: a
parent relationship is a column whose ``joinColumns`` are the parent's fields (``Owner`` then
``Name`` gives ``Owner.Name``); a child subquery is an ``aggregate`` column whose
``joinColumns`` are the subquery's; an aggregate function is an ``aggregate`` column named
``expr0`` (or its alias) whose ``displayName`` is the call as written, ``COUNT(Id)``.
"""

from __future__ import annotations

from typing import Any

from sfemu.schema.model import NUMBER_TYPES, FieldDef, ObjectDef, OrgSchema
from sfemu.soql import ast
from sfemu.soql.fields import is_custom
from sfemu.soql.plan import ChildPlan, Plan
from sfemu.soql.shape import ShapeNode, TypeOfShape

Column = dict[str, Any]

_APEX_TYPES = {"id": "Id", "reference": "Id", "boolean": "Boolean", "int": "Integer",
               "long": "Long", "double": "Double", "currency": "Decimal", "percent": "Decimal",
               "date": "Date", "datetime": "Datetime", "time": "Time"}
_TEXT_TYPES = frozenset({"string", "picklist", "multipicklist", "combobox", "textarea", "phone",
                         "url", "email"})


def _column(name: str, *, aggregate: bool = False, apex_type: str | None = None,
            boolean: bool = False, custom: bool = False, display: str | None = None,
            foreign_key: str | None = None, insertable: bool = False,
            joins: list[Column] | None = None, number: bool = False, text: bool = False,
            updatable: bool = False) -> Column:
    return {"aggregate": aggregate, "apexType": apex_type, "booleanType": boolean,
            "columnName": name, "custom": custom, "displayName": display or name,
            "foreignKeyName": foreign_key, "insertable": insertable, "joinColumns": joins or [],
            "numberType": number, "textType": text, "updatable": updatable}


def _field_column(f: FieldDef, name: str | None = None) -> Column:
    return _column(name or f.name, apex_type=_APEX_TYPES.get(f.type, "String"),
                   boolean=f.type == "boolean", custom=is_custom(f), insertable=f.createable,
                   number=f.type in NUMBER_TYPES, text=f.type in _TEXT_TYPES,
                   updatable=f.updateable)


def _find(objects: list[ObjectDef], name: str) -> FieldDef | None:
    return next((o.fields[name] for o in objects if name in o.fields), None)


def _node_columns(schema: OrgSchema, node: ShapeNode, objects: list[ObjectDef]) -> list[Column]:
    out: list[Column] = []
    for entry in node.fields:
        if isinstance(entry, str):
            found = _find(objects, entry)
            out.append(_field_column(found) if found else _column(entry))
        elif isinstance(entry, tuple):
            rel, fk, sub = entry
            out.append(_parent_column(schema, objects, rel, fk, [sub]))
        elif isinstance(entry, TypeOfShape):
            nodes = [*entry.branches.values(), *([entry.otherwise] if entry.otherwise else [])]
            out.append(_parent_column(schema, objects, entry.rel, entry.fk, nodes))
        else:
            out.append(_child_column(schema, entry))
    return out


def _parent_column(schema: OrgSchema, objects: list[ObjectDef], rel: str, fk: str,
                   nodes: list[ShapeNode]) -> Column:
    lookup = _find(objects, fk)
    targets = [schema.objects[n] for n in (lookup.reference_to if lookup else [])
               if n in schema.objects]
    joins: list[Column] = []
    for node in nodes:  # a TYPEOF's branches: each column once
        joins.extend(c for c in _node_columns(schema, node, targets)
                     if all(c["columnName"] != j["columnName"] for j in joins))
    return _column(rel, custom=bool(lookup and is_custom(lookup)), foreign_key=fk, joins=joins)


def _child_column(schema: OrgSchema, child: ChildPlan) -> Column:
    return _column(child.relationship.relationship_name, aggregate=True,
                   joins=_node_columns(schema, child.plan.shape, [child.plan.obj]))


def _aggregate_columns(plan: Plan) -> list[Column]:
    agg = plan.aggregate
    assert agg is not None
    out: list[Column] = []
    for (key, index, is_measure), display in zip(agg.outputs, agg.displays, strict=True):
        if not is_measure:
            out.append(_field_column(agg.groups[index].field, key))
            continue
        measure = agg.measures[index]
        numeric = measure.function not in ("MIN", "MAX") or measure.ref.kind == "number"
        out.append(_column(key, aggregate=True, display=display, number=numeric,
                           text=not numeric and measure.ref.field.type in _TEXT_TYPES))
    return out


def column_metadata(schema: OrgSchema, plan: Plan, query: ast.Query) -> dict[str, Any]:
    """The body Salesforce answers for ``columns=true``."""
    if plan.count_only:
        columns: list[Column] = []
    elif plan.aggregate is not None:
        columns = _aggregate_columns(plan)
    else:
        columns = _node_columns(schema, plan.shape, [plan.obj])
    return {"columnMetadata": columns, "entityName": plan.obj.name,
            "groupBy": bool(query.group_by), "idSelected": "Id" in plan.shape.fields,
            "keyPrefix": plan.obj.key_prefix}

"""TYPEOF on a polymorphic relationship: the parent's fields depend on the object it is.

``TYPEOF What WHEN Account THEN Name, Phone WHEN Opportunity THEN Amount ELSE Name END``
shapes ``What`` as an Account with Name and Phone, an Opportunity with Amount, anything else
with Name (a field that object lacks reads as null).  A parent no WHEN matches, without ELSE,
carries only its ``attributes``.  The relationship can't also be selected outside the TYPEOF.
"""

from __future__ import annotations

from sfemu.schema.model import ObjectDef
from sfemu.soql import ast
from sfemu.soql.binding import Binder, FieldRef, Trie, add_chain
from sfemu.soql.context import SoqlError
from sfemu.soql.errors import error_at, unknown_relationship, unsupported_type
from sfemu.soql.shape import ShapeNode, TypeOfShape


def plan_typeof(binder: Binder, obj: ObjectDef, item: ast.TypeOf, trie: Trie) -> TypeOfShape:
    """Bind a TYPEOF's branches and add the parents it needs to ``trie``."""
    soql = binder.soql
    lookup = binder.relationship(obj, item.relationship)
    targets = binder.readable_targets(lookup) if lookup is not None else ()
    if lookup is None or not lookup.relationship_name or not targets:
        raise unknown_relationship(soql, item.pos, item.relationship)
    rel = lookup.relationship_name
    shape = TypeOfShape(rel, lookup.name, targets, {}, None)
    add_chain(trie, (lookup.name,), (targets,))

    def add(node: ShapeNode, ref: FieldRef) -> None:
        node.add(ref)
        add_chain(trie, (lookup.name, *ref.fks), (targets, *ref.targets))
        column = ".".join([rel, *ref.rels, ref.name])
        if column not in shape.columns:
            shape.columns.append(column)

    for branch in item.whens:
        target = binder.readable_object(branch.sobject)
        if target is None:
            raise unsupported_type(soql, branch.pos, branch.sobject)
        if target.name not in targets:
            raise error_at("MALFORMED_QUERY", soql, branch.pos,
                           f"TYPEOF {rel}: {target.name} is not an object {rel} can refer to")
        if target.name in shape.branches:
            raise error_at("MALFORMED_QUERY", soql, branch.pos,
                           f"TYPEOF {rel}: duplicate WHEN {target.name}")
        node = shape.branches[target.name] = ShapeNode()
        for path in branch.fields:
            add(node, binder.bind_path(target, path))
    if item.otherwise:
        shape.otherwise = ShapeNode()
        others = [n for n in targets if n not in shape.branches] or list(targets)
        for path in item.otherwise:
            add(shape.otherwise, _bind_any(binder, others, path))
    return shape


def _bind_any(binder: Binder, names: list[str], path: ast.FieldPath) -> FieldRef:
    """The path bound on the first of ``names`` that has it (ELSE spans several objects)."""
    first: SoqlError | None = None
    for name in names:
        try:
            return binder.bind_path(binder.schema.objects[name], path)
        except SoqlError as exc:
            first = first or exc
    assert first is not None
    raise first

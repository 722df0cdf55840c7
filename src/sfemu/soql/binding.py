"""Binding names in a query to the schema, as the reading user is allowed to see it.

Names are case-insensitive; what comes out carries the schema's canonical spelling.  Objects
and fields the user cannot read do not exist for the query, exactly like unknown ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sfemu.schema.model import NUMBER_TYPES, FieldDef, ObjectDef
from sfemu.soql import ast
from sfemu.soql.context import QueryContext
from sfemu.soql.errors import no_such_column, unknown_relationship, unsupported_type

Record = dict[str, Any]
Cache = dict[str, Record | None]  # parent records by Id, None when absent or hidden


def kind_of(field: FieldDef) -> str:
    """How values of a field compare: text, id, multi, number, bool, date or datetime."""
    if field.type in ("id", "reference"):
        return "id"
    if field.type == "multipicklist":
        return "multi"
    if field.type in NUMBER_TYPES:
        return "number"
    if field.type == "boolean":
        return "bool"
    if field.type in ("date", "datetime"):
        return field.type
    return "text"


def is_long_text(field: FieldDef) -> bool:
    """Long text areas can be selected but neither filtered, sorted nor grouped."""
    return field.type == "textarea" and field.length > 255


@dataclass(frozen=True)
class FieldRef:
    """A bound field path: the lookups walked to reach the field, then the field itself."""

    column: str  # canonical dotted path, e.g. "Account.Owner.Email"
    rels: tuple[str, ...]  # canonical relationship names walked
    fks: tuple[str, ...]  # the lookup fields behind them
    targets: tuple[tuple[str, ...], ...]  # the objects each lookup may point to
    name: str  # the field's canonical name
    field: FieldDef
    pos: ast.Pos

    @property
    def kind(self) -> str:
        return kind_of(self.field)

    def get(self, record: Record, cache: Cache) -> Any:
        current: Record | None = record
        for fk in self.fks:
            parent_id = current.get(fk) if current is not None else None
            if not parent_id or not isinstance(parent_id, str):
                return None
            current = cache.get(parent_id)
            if current is None:
                return None
        return current.get(self.name) if current is not None else None


class Binder:
    """Resolves object names and field paths for one query text and one reader."""

    def __init__(self, soql: str, ctx: QueryContext) -> None:
        self.soql = soql
        self.ctx = ctx
        self.schema = ctx.schema

    def readable_object(self, name: str) -> ObjectDef | None:
        obj = self.schema.get_ci(name)
        if obj is None or not self.ctx.can_read_object(obj.name):
            return None
        return obj

    def bind_object(self, name: str, pos: ast.Pos) -> ObjectDef:
        obj = self.readable_object(name)
        if obj is None:
            raise unsupported_type(self.soql, pos, name)
        return obj

    def bind_path(self, obj: ObjectDef, path: ast.FieldPath) -> FieldRef:
        objects = [obj]
        rels: list[str] = []
        fks: list[str] = []
        targets: list[tuple[str, ...]] = []
        for part in path.parts[:-1]:
            lookup = self._relationship(objects, part)
            if lookup is None:
                raise unknown_relationship(self.soql, path.pos, part)
            readable = self.readable_targets(lookup)
            if not readable:
                raise unknown_relationship(self.soql, path.pos, part)
            rels.append(lookup.relationship_name or part)
            fks.append(lookup.name)
            targets.append(readable)
            objects = [self.schema.objects[n] for n in readable]
        leaf = path.parts[-1]
        field = None
        for candidate in objects:
            found = candidate.field_ci(leaf)
            if found is not None and self.ctx.can_read_field(candidate.name, found.name):
                field = found
                break
        if field is None:
            # A polymorphic relationship's fields are those of Salesforce's "Name" entity.
            entity = objects[0].name if len(objects) == 1 else "Name"
            raise no_such_column(self.soql, path.pos, leaf, entity)
        column = ".".join([*rels, field.name])
        return FieldRef(column, tuple(rels), tuple(fks), tuple(targets), field.name, field,
                        path.pos)

    def readable_targets(self, lookup: FieldDef) -> tuple[str, ...]:
        """The objects a lookup may point to that the reader can see."""
        return tuple(t.name for t in map(self.readable_object, lookup.reference_to)
                     if t is not None)

    def relationship(self, obj: ObjectDef, name: str) -> FieldDef | None:
        """The readable lookup behind relationship ``name`` (``What`` -> WhatId)."""
        return self._relationship([obj], name)

    def _relationship(self, objects: list[ObjectDef], name: str) -> FieldDef | None:
        for candidate in objects:
            lookup = candidate.relationship_ci(name)
            if (lookup is not None and lookup.type == "reference"
                    and self.ctx.can_read_field(candidate.name, lookup.name)):
                return lookup
        return None


@dataclass
class TrieNode:
    """A lookup to follow for a page of rows, and the lookups to follow from its parents."""

    targets: tuple[str, ...]
    children: dict[str, TrieNode] = field(default_factory=dict)


Trie = dict[str, TrieNode]


def add_to_trie(trie: Trie, ref: FieldRef) -> None:
    add_chain(trie, ref.fks, ref.targets)


def add_chain(trie: Trie, fks: tuple[str, ...], targets: tuple[tuple[str, ...], ...]) -> None:
    """Follow ``fks`` in turn; a lookup reached twice may point to the objects of both."""
    level = trie
    for fk, objects in zip(fks, targets, strict=True):
        node = level.setdefault(fk, TrieNode(objects))
        node.targets = tuple(dict.fromkeys((*node.targets, *objects)))
        level = node.children

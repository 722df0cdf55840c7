"""The shape of a result record: which keys it has, in query order, and how to fill them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sfemu.soql.binding import FieldRef

if TYPE_CHECKING:
    from sfemu.soql.plan import ChildPlan


@dataclass
class TypeOfShape:
    """A TYPEOF: the parent's keys depend on the object the reference points to."""

    rel: str  # the relationship's canonical name, e.g. "What"
    fk: str  # the lookup behind it, e.g. "WhatId"
    targets: tuple[str, ...]  # the readable objects it may point to
    branches: dict[str, ShapeNode]  # WHEN object -> its fields
    otherwise: ShapeNode | None  # ELSE, for every other object; None without ELSE
    columns: list[str] = field(default_factory=list)  # "What.Name"…, each once


@dataclass
class ShapeNode:
    """The keys of a shaped record, in query order: fields, parents (nested), TYPEOFs and
    children."""

    fields: list[str | tuple[str, str, ShapeNode] | TypeOfShape | ChildPlan] = field(
        default_factory=list)

    def add(self, ref: FieldRef) -> None:
        node = self
        for rel, fk in zip(ref.rels, ref.fks, strict=True):
            for entry in node.fields:
                if isinstance(entry, tuple) and entry[0] == rel:
                    node = entry[2]
                    break
            else:
                child = ShapeNode()
                node.fields.append((rel, fk, child))
                node = child
        if ref.name not in node.fields:
            node.fields.append(ref.name)

"""Field metadata: what to select, how to type Bulk CSV values, which fields are required.

As the guide's FAQ says, "required" comes from the object's page layout (the layout items
marked required), not from a user's view layout.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

# Compound and binary fields Bulk API 2.0 cannot export; their parts are exported instead.
_NOT_EXPORTED = frozenset({"address", "location", "base64"})
_NUMBERS = frozenset({"int", "long"})
_DECIMALS = frozenset({"double", "currency", "percent"})


def selectable_fields(describe: Mapping[str, Any]) -> list[str]:
    """The fields an audit or interval query selects: every exportable field, Id first."""
    names = [str(f["name"]) for f in describe.get("fields", [])
             if f.get("type") not in _NOT_EXPORTED]
    return ["Id", *[n for n in names if n != "Id"]] if "Id" in names else names


def field_types(describe: Mapping[str, Any]) -> dict[str, str]:
    return {str(f["name"]): str(f.get("type", "string")) for f in describe.get("fields", [])}


def layout_required(layouts: Mapping[str, Any]) -> list[str]:
    """Fields the page layout marks required (edit sections), in layout order."""
    out: list[str] = []
    for layout in layouts.get("layouts", []) or []:
        for section in layout.get("editLayoutSections", []) or []:
            for row in section.get("layoutRows", []) or []:
                for item in row.get("layoutItems", []) or []:
                    if not item.get("required"):
                        continue
                    for component in item.get("layoutComponents", []) or []:
                        if component.get("type") == "Field" and component.get("value") not in out:
                            out.append(str(component["value"]))
    return out


def _converter(kind: str) -> Callable[[str], Any] | None:
    if kind == "boolean":
        return lambda raw: raw == "true"
    if kind in _NUMBERS:
        return lambda raw: int(float(raw))
    if kind in _DECIMALS:
        return float
    return None  # text: as it is


def typed_row(types: Mapping[str, str], row: Mapping[str, str]) -> dict[str, Any]:
    """A Bulk CSV row (all strings, null as "") typed like the REST API's JSON."""
    return RowTyper(types)(row)


class RowTyper:
    """typed_row with the per-field conversions worked out once (the audit's hot path)."""

    def __init__(self, types: Mapping[str, str]) -> None:
        # Only the few non-text fields need work beyond "" -> None.
        self._convert = [(name, fn) for name, kind in types.items()
                         if (fn := _converter(kind)) is not None]

    def __call__(self, row: Mapping[str, str]) -> dict[str, Any]:
        return self.in_place(dict(row))

    def in_place(self, row: dict[str, Any]) -> dict[str, Any]:
        """Type a row the caller owns, without copying it (the audit's rows are fresh)."""
        out = row
        for key, value in row.items():
            if value == "":
                out[key] = None
        for name, fn in self._convert:
            raw = out.get(name)
            if raw is not None:
                out[name] = fn(raw)
        return out


def soql_select(sobject: str, fields: Sequence[str], where: str = "") -> str:
    return f"SELECT {', '.join(fields)} FROM {sobject}" + (f" WHERE {where}" if where else "")

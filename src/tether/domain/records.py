"""Salesforce fields as the sidebar edits them: which a role shows, and whether a value fits a
field, checked before any call (Salesforce's own refusals are its answer, not guessed here).

Pure: field metadata comes in as describe's field dicts (as the fields sync stores them).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

# What the sidebar shows of an object when the role has not chosen (with the layout-required
# fields, always): what a rep looks for first.
DEFAULT_VISIBLE: Mapping[str, tuple[str, ...]] = {
    "Contact": ("Name", "Title", "Email", "Phone", "MobilePhone", "OwnerId"),
    "Lead": ("Name", "Title", "Company", "Email", "Phone", "Status", "OwnerId"),
    "Account": ("Name", "Industry", "Website", "Phone", "OwnerId"),
    "Opportunity": ("Name", "StageName", "Amount", "CloseDate", "OwnerId"),
    "Task": ("Subject", "Status", "Priority", "ActivityDate", "Description"),
}
_ID = re.compile(r"[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
_TEXT = frozenset({"string", "textarea", "phone", "url", "email", "combobox", "encryptedstring"})
_WHOLE = frozenset({"int", "long"})
_DECIMAL = frozenset({"double", "currency", "percent"})


@dataclass(frozen=True)
class Field:
    """One field of describe, as far as editing it goes."""

    name: str
    label: str
    type: str
    length: int = 0
    nillable: bool = True
    createable: bool = False
    updateable: bool = False
    defaulted: bool = False  # defaultedOnCreate: Salesforce fills it when it is left out
    picklist: tuple[str, ...] = ()  # active values
    default: str | None = None  # the picklist's default value
    reference_to: tuple[str, ...] = ()

    @classmethod
    def from_describe(cls, f: Mapping[str, Any]) -> Field:
        return cls(name=str(f["name"]), label=str(f.get("label") or f["name"]),
                   type=str(f.get("type") or "string"), length=int(f.get("length") or 0),
                   nillable=bool(f.get("nillable", True)),
                   createable=bool(f.get("createable")), updateable=bool(f.get("updateable")),
                   defaulted=bool(f.get("defaultedOnCreate")),
                   picklist=tuple(str(v["value"]) for v in f.get("picklistValues") or ()
                                  if v.get("active", True)),
                   default=next((str(v["value"]) for v in f.get("picklistValues") or ()
                                 if v.get("defaultValue") and v.get("active", True)), None),
                   reference_to=tuple(str(t) for t in f.get("referenceTo") or ()))

    @property
    def required_on_create(self) -> bool:
        """Salesforce refuses a create without it (REQUIRED_FIELD_MISSING)."""
        return self.createable and not self.nillable and not self.defaulted \
            and self.type != "boolean"


def fields_of(describe_fields: Iterable[Mapping[str, Any]]) -> dict[str, Field]:
    return {f.name: f for f in (Field.from_describe(d) for d in describe_fields)}


def shown_fields(sobject: str, chosen: Sequence[str], required: Sequence[str],
                 available: Collection[str]) -> list[str]:
    """The fields a role shows of an object: its visible fields (or the defaults when it
    chose none), then the layout-required ones it left out; only those the org has."""
    out: list[str] = []
    for name in [*(chosen or DEFAULT_VISIBLE.get(sobject, ())), *required]:
        if name not in out and name in available:
            out.append(name)
    return out


@dataclass(frozen=True)
class Problem:
    field: str
    message: str


def missing_required(fields: Mapping[str, Field], layout_required: Sequence[str],
                     values: Mapping[str, Any]) -> list[Field]:
    """The fields a create lacks: the layout's required ones (the guide's FAQ: the object's
    page layout decides) and those Salesforce itself requires, each once, layout first.  A
    field Salesforce fills when it is left out (a Lead's Status) is never lacking."""
    wanted = [*layout_required, *(n for n, f in fields.items() if f.required_on_create)]
    out: list[Field] = []
    for name in wanted:
        f = fields.get(name)
        if f is None or f in out or not f.createable or f.defaulted:
            continue
        value = values.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            out.append(f)
    return out


def check_values(fields: Mapping[str, Field], values: Mapping[str, Any], *, creating: bool,
                 sobject: str) -> tuple[dict[str, Any], list[Problem]]:
    """Values as Salesforce takes them (a form's strings made numbers, dates checked, an
    empty text a blank), and what is wrong with the others, each naming its field."""
    clean: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, raw in values.items():
        f = fields.get(name)
        if f is None:
            problems.append(Problem(name, f"{sobject} has no field {name}"))
            continue
        if not (f.createable if creating else f.updateable):
            problems.append(Problem(name, f"{f.label} cannot be "
                                    f"{'set on a new' if creating else 'changed on a'} "
                                    f"{sobject}"))
            continue
        try:
            clean[name] = convert(f, raw)
        except ValueError as exc:
            problems.append(Problem(name, f"{f.label}: {exc}"))
    return clean, problems


def convert(f: Field, raw: Any) -> Any:
    """One value for one field, or ValueError saying what it should be."""
    if raw is None or (isinstance(raw, str) and not raw.strip() and f.type != "boolean"):
        if not f.nillable and f.type != "boolean":
            raise ValueError("a value is required")
        return None
    kind = f.type
    if kind == "boolean":
        return _boolean(raw)
    if kind in _WHOLE:
        number = _number(raw)
        if number != number.to_integral_value():
            raise ValueError(f"'{raw}' is not a whole number")
        return int(number)
    if kind in _DECIMAL:
        return float(_number(raw))
    if not isinstance(raw, str):
        raise ValueError(f"expected text, got {type(raw).__name__}")
    value = raw.strip() if kind not in ("textarea",) else raw
    if kind == "date":
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            raise ValueError(f"'{raw}' is not a date (YYYY-MM-DD)") from None
    if kind == "datetime":
        return _datetime(value, raw)
    if kind == "reference":
        if not _ID.fullmatch(value):
            raise ValueError(f"'{raw}' is not a Salesforce record id")
        return value
    if kind == "picklist":
        if f.picklist and value not in f.picklist:
            raise ValueError(f"'{raw}' is not one of its values ({', '.join(f.picklist)})")
        return value
    if kind == "multipicklist":
        chosen = [v.strip() for v in value.split(";") if v.strip()]
        wrong = [v for v in chosen if f.picklist and v not in f.picklist]
        if wrong:
            raise ValueError(f"'{wrong[0]}' is not one of its values ({', '.join(f.picklist)})")
        return ";".join(chosen)
    if kind == "email" and not _EMAIL.fullmatch(value):
        raise ValueError(f"'{raw}' is not an email address")
    if kind in _TEXT and f.length and len(value) > f.length:
        raise ValueError(f"{len(value)} characters; at most {f.length}")
    return value


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "on", "yes", "1", ""):
        return raw.strip() != ""
    if isinstance(raw, str) and raw.strip().lower() in ("false", "off", "no", "0"):
        return False
    raise ValueError(f"'{raw}' is not true or false")


def _number(raw: Any) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError(f"'{raw}' is not a number")
    try:
        number = Decimal(str(raw).strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"'{raw}' is not a number") from None
    if not number.is_finite():
        raise ValueError(f"'{raw}' is not a number")
    return number


def _datetime(value: str, raw: Any) -> str:
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"'{raw}' is not a date and time (ISO 8601 with an offset)") from None
    if moment.tzinfo is None:
        raise ValueError(f"'{raw}' has no offset: add Z for UTC, or +01:00 and the like")
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

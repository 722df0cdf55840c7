"""Turning a JSON value sent by a client into the value stored for a field, as Salesforce does."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sfemu.errors import ApiError
from sfemu.schema import FieldDef

_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _parser_error(value: Any, type_name: str) -> ApiError:
    kind = "VALUE_STRING" if isinstance(value, str) else "VALUE_" + type(value).__name__.upper()
    return ApiError("JSON_PARSER_ERROR",
                    f"Cannot deserialize instance of {type_name} from {kind} value {value} or "
                    "request may be missing a required field")


def parse_datetime(value: str) -> dt.datetime:
    """Datetimes as clients send them: ISO 8601 with Z, +hh:mm, +hhmm or none (UTC)."""
    text = value.strip().replace(" ", "T", 1)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    m = re.search(r"([+-])(\d{2})(\d{2})$", text)
    if m and not re.search(r"[+-]\d{2}:\d{2}$", text):
        text = text[: m.start()] + f"{m.group(1)}{m.group(2)}:{m.group(3)}"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def format_datetime(value: dt.datetime) -> str:
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def coerce(field: FieldDef, value: Any) -> Any:
    """The stored form of ``value`` for ``field``, or ApiError as Salesforce would answer."""
    if value is None or (value == "" and field.type not in ("boolean",)):
        return None
    t = field.type
    if t in ("string", "textarea", "phone", "url", "email", "picklist", "combobox",
             "multipicklist"):
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise _parser_error(value, "String")
        text = str(value)
        if len(text) > field.length:
            raise ApiError("STRING_TOO_LONG",
                           f"{field.label}: data value too large: {text[:60]} "
                           f"(max length={field.length})", [field.name])
        if t == "email" and not _EMAIL.match(text):
            raise ApiError("INVALID_EMAIL_ADDRESS", f"{field.label}: invalid email address: "
                           f"{text}", [field.name])
        if t in ("picklist", "multipicklist") and field.restricted_picklist:
            allowed = {p.value for p in field.picklist if p.active}
            parts = text.split(";") if t == "multipicklist" else [text]
            bad = [p for p in parts if p not in allowed]
            if bad:
                raise ApiError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                               f"{field.label}: bad value for restricted picklist field: "
                               f"{bad[0]}", [field.name])
        return text
    if t == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _parser_error(value, "boolean")
    if t in ("int", "long"):
        if isinstance(value, bool):
            raise _parser_error(value, "int")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise _parser_error(value, "int") from None
        if number != int(number):
            raise _parser_error(value, "int")
        return int(number)
    if t in ("double", "currency", "percent"):
        if isinstance(value, bool):
            raise _parser_error(value, "double")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _parser_error(value, "double") from None
    if t == "date":
        if not isinstance(value, str):
            raise _parser_error(value, "date")
        text = value[:10] if "T" in value else value
        try:
            if not _DATE.match(text):
                raise ValueError
            return dt.date.fromisoformat(text).isoformat()
        except ValueError:
            raise _parser_error(value, "date") from None
    if t == "datetime":
        if not isinstance(value, str):
            raise _parser_error(value, "datetime")
        try:
            return format_datetime(parse_datetime(value))
        except ValueError:
            raise _parser_error(value, "datetime") from None
    if t in ("reference", "id"):
        if not isinstance(value, str):
            raise _parser_error(value, "id")
        return value
    return value

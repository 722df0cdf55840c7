"""Building SOQL safely: string literals, LIKE patterns, IN lists, other literals."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Iterable

from tether.salesforce.datetimes import soql_datetime

_ESCAPES = str.maketrans({
    "\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b",
    "\f": "\\f",
})
_LIKE_ESCAPES = str.maketrans({"%": "\\%", "_": "\\_"})

Literal = str | int | float | bool | dt.date | dt.datetime | None


def quote(value: str) -> str:
    """A SOQL string literal holding exactly ``value``: ``O'Brien`` → ``'O\\'Brien'``."""
    return "'" + value.translate(_ESCAPES) + "'"


def like_quote(value: str) -> str:
    """A LIKE pattern matching ``value`` literally (``%`` and ``_`` escaped); add your own
    wildcards around it with :func:`like_pattern`."""
    return "'" + value.translate(_ESCAPES).translate(_LIKE_ESCAPES) + "'"


def like_pattern(value: str, *, prefix: bool = False, suffix: bool = False) -> str:
    """``like_pattern("50%", suffix=True)`` → ``'50\\%%'``: starts with "50%"."""
    body = value.translate(_ESCAPES).translate(_LIKE_ESCAPES)
    return "'" + ("%" if prefix else "") + body + ("%" if suffix else "") + "'"


def literal(value: Literal) -> str:
    """Any value as a SOQL literal: strings quoted, datetimes in UTC, dates, numbers, booleans,
    null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, dt.datetime):
        return soql_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"SOQL has no literal for {value}")
        return format(decimal.Decimal(repr(value)), "f")  # never an exponent
    raise TypeError(f"no SOQL literal for {type(value).__name__}")


def in_list(values: Iterable[Literal]) -> str:
    """``('a','b')`` for ``IN``/``NOT IN``; SOQL has no empty list, so none is an error."""
    items = [literal(v) for v in values]
    if not items:
        raise ValueError("IN needs at least one value")
    return "(" + ",".join(items) + ")"

"""Salesforce's date and datetime formats.  Inside Tether every datetime is aware and in UTC."""

from __future__ import annotations

import datetime as dt
import re

_OFFSET_NO_COLON = re.compile(r"([+-])(\d{2})(\d{2})$")


def parse_datetime(value: str) -> dt.datetime:
    """``2013-05-20T20:49:32.000+0000`` (and ``Z``, ``+00:00``, no offset = UTC) → aware UTC."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    m = _OFFSET_NO_COLON.search(text)
    if m is not None and "T" in text:
        text = f"{text[:m.start()]}{m.group(1)}{m.group(2)}:{m.group(3)}"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: Tether works in aware UTC datetimes")
    return value.astimezone(dt.UTC)


def _seconds(v: dt.datetime) -> str:
    # Not strftime: its %Y does not pad years before 1000.
    return f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}"


def format_datetime(value: dt.datetime) -> str:
    """As Salesforce writes datetimes in REST answers: ``2013-05-20T20:49:32.000+0000``."""
    value = _utc(value)
    return f"{_seconds(value)}.{value.microsecond // 1000:03d}+0000"


def format_param(value: dt.datetime) -> str:
    """For query-string parameters (getUpdated / getDeleted): ``2026-11-28T10:00:00+00:00``."""
    return _utc(value).replace(microsecond=0).isoformat()


def soql_datetime(value: dt.datetime) -> str:
    """A SOQL datetime literal (unquoted): ``2026-11-28T10:00:00.123Z``."""
    value = _utc(value)
    millis = f".{value.microsecond // 1000:03d}" if value.microsecond else ""
    return _seconds(value) + millis + "Z"


def parse_date(value: str) -> dt.date:
    return dt.date.fromisoformat(value.strip()[:10])


def format_date(value: dt.date) -> str:
    return value.isoformat()


def from_epoch_ms(value: str | int) -> dt.datetime:
    """OAuth's ``issued_at`` (epoch milliseconds, as a string) → aware UTC."""
    return dt.datetime.fromtimestamp(int(value) / 1000, dt.UTC)

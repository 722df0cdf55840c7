"""Date literals as ranges of days (UTC), and instants of stored datetimes.

A relative literal such as THIS_MONTH is a range [first, last] of dates; Salesforce compares
against it as a range: ``= THIS_MONTH`` means within it, ``> THIS_MONTH`` after its last day,
``< THIS_MONTH`` before its first day.  Weeks start on Sunday, quarters are calendar quarters.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sfemu.soql.ast import RelativeDate

DateRange = tuple[date, date]  # first and last day, inclusive


def _add_months(day: date, months: int) -> date:
    """The first day of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    year = min(max(year, 1), 9999)
    return date(year, month + 1, 1)


def _clamped(first: date, days: int) -> date:
    try:
        return first + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


def relative_range(literal: RelativeDate, today: date) -> DateRange:
    name, n = literal.name, literal.n or 0
    week_start = _clamped(today, -((today.weekday() + 1) % 7))
    month_start = today.replace(day=1)
    quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    year_start = date(today.year, 1, 1)
    fixed: dict[str, DateRange] = {
        "TODAY": (today, today),
        "YESTERDAY": (_clamped(today, -1),) * 2,
        "TOMORROW": (_clamped(today, 1),) * 2,
        "THIS_WEEK": (week_start, _clamped(week_start, 6)),
        "LAST_WEEK": (_clamped(week_start, -7), _clamped(week_start, -1)),
        "NEXT_WEEK": (_clamped(week_start, 7), _clamped(week_start, 13)),
        "LAST_90_DAYS": (_clamped(today, -90), today),
        "NEXT_90_DAYS": (_clamped(today, 1), _clamped(today, 90)),
    }
    if name in fixed:
        return fixed[name]
    # Months, quarters and years are all counted in months from the current period's start.
    for unit, start, size in (("MONTH", month_start, 1), ("QUARTER", quarter_start, 3),
                              ("YEAR", year_start, 12)):
        if name == f"THIS_{unit}":
            return _months_range(start, 0, size)
        if name == f"LAST_{unit}":
            return _months_range(start, -size, size)
        if name == f"NEXT_{unit}":
            return _months_range(start, size, size)
        if name == f"LAST_N_{unit}S":
            return _months_range(start, -size * n, size * n)
        if name == f"NEXT_N_{unit}S":
            return _months_range(start, size, size * n)
        if name == f"N_{unit}S_AGO":
            return _months_range(start, -size * n, size)
    if name == "LAST_N_DAYS":  # includes today
        return (_clamped(today, -n), today)
    if name == "NEXT_N_DAYS":  # starts tomorrow
        return (_clamped(today, 1), _clamped(today, n))
    if name == "N_DAYS_AGO":
        return (_clamped(today, -n),) * 2
    if name == "LAST_N_WEEKS":
        return (_clamped(week_start, -7 * n), _clamped(week_start, -1))
    if name == "NEXT_N_WEEKS":
        return (_clamped(week_start, 7), _clamped(week_start, 7 * n + 6))
    if name == "N_WEEKS_AGO":
        return (_clamped(week_start, -7 * n), _clamped(week_start, -7 * n + 6))
    raise ValueError(f"unknown date literal {name}")


def _months_range(period_start: date, offset: int, months: int) -> DateRange:
    first = _add_months(period_start, offset)
    if months <= 0:  # e.g. LAST_N_MONTHS:0 - an empty range
        return (first, first - timedelta(days=1)) if first > date.min else (date.max, date.min)
    after = _add_months(period_start, offset + months)
    if after <= first:  # clamped at the calendar's end
        return (first, date.max)
    return (first, after - timedelta(days=1))


def instant(value: object) -> float | None:
    """Seconds since the epoch of a stored datetime ('2026-11-28T10:00:00.000+0000'), or None."""
    if not isinstance(value, str):
        return None
    text = value
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def day_start_instant(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()

"""When a sequence's next stage may go out: a delay after the previous stage, then a send
window (days of the week and hours of the day, on the clock of the recipient's zone or a
named one).

The window is reckoned on the local wall clock: a day's opening is a local date and the
window's start, made an instant with ``datetime.combine(date, start, tzinfo=zone)`` and
checked by converting it back; a day is never 24 hours added in UTC.  An opening that falls
in a spring-forward gap opens at the first real instant after the gap (the clocks' change);
an hour a fall-back repeats is inside the window both times it passes, the first (fold=0)
opening it and the second able to open it again.

Pure: the caller resolves a window's ``"recipient"`` zone to the recipient's own
(:func:`zone`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zoneinfo
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RECIPIENT = "recipient"
MAX_DELAY_DAYS = 365
_DELAY_MINUTES = {"days": 24 * 60, "hours": 60, "minutes": 1}  # a delay's parts, in minutes
_WINDOW_KEYS = ("days", "start", "end", "timezone")
_HH_MM = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")
_DAY = dt.timedelta(days=1)
# Local dates looked at, from the day before the earliest's: a week and a day finds an allowed
# day's opening; two weeks also when a day's window was lost to a gap.
_SEARCH_DATES = 16


class ScheduleError(ValueError):
    """A delay or a send window cannot be read: ``field`` is the path of the part at fault
    (``send_window.days[2]``) and ``detail`` says why, for a person, starting with the path."""

    def __init__(self, detail: str, field: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


def _either(names: Iterable[str]) -> str:
    """``a, b or c``."""
    *most, last = names
    return f"{', '.join(most)} or {last}" if most else last


def _mapping(raw: object, field: str, keys: Collection[str], what: str) -> Mapping[str, object]:
    """``raw`` as a mapping of only ``keys``, or the error naming the first unknown key."""
    if not isinstance(raw, Mapping):
        raise ScheduleError(f"{field}: expected an object of {_either(keys)}, not {raw!r}", field)
    for key in raw:
        if key not in keys:
            raise ScheduleError(f"{field}.{key}: {key!r} is not {what}: {_either(keys)}",
                                f"{field}.{key}")
    return raw


@dataclass(frozen=True)
class Delay:
    """How long after the previous stage the next may go out.  Elapsed time, not the wall
    clock: a day is 24 hours, also on a day the clocks change."""

    days: int = 0
    hours: int = 0
    minutes: int = 0

    def as_timedelta(self) -> dt.timedelta:
        return dt.timedelta(days=self.days, hours=self.hours, minutes=self.minutes)

    @classmethod
    def parse(cls, raw: object, field: str) -> Delay:
        """``{"days": 1, "hours": 2, "minutes": 0}``: whole numbers from 0 (a missing part is
        0), coming to 365 days at most."""
        parts = _mapping(raw, field, _DELAY_MINUTES, "a part of a delay")
        values: dict[str, int] = {}
        total = 0
        for key, minutes in _DELAY_MINUTES.items():
            value, path = parts.get(key, 0), f"{field}.{key}"
            if isinstance(value, bool) or not isinstance(value, int):
                raise ScheduleError(f"{path}: {value!r} is not a whole number", path)
            if value < 0:
                raise ScheduleError(f"{path}: {value} is less than 0", path)
            total += value * minutes
            if total > MAX_DELAY_DAYS * 24 * 60:
                raise ScheduleError(f"{path}: the delay comes to more than {MAX_DELAY_DAYS} "
                                    "days", path)
            values[key] = value
        return cls(values["days"], values["hours"], values["minutes"])


def _clock(raw: object, path: str) -> dt.time:
    match = _HH_MM.fullmatch(raw) if isinstance(raw, str) else None
    if match is None:
        raise ScheduleError(f"{path}: {raw!r} is not a time of day as HH:MM, like 09:00", path)
    return dt.time(int(match[1]), int(match[2]))


@dataclass(frozen=True)
class SendWindow:
    """The days and hours a stage may go out, on the wall clock of ``timezone``."""

    days: frozenset[int]  # 0 = Monday .. 6 = Sunday; at least one
    start: dt.time  # inclusive
    end: dt.time  # exclusive, after start: a window does not run past midnight
    timezone: str  # RECIPIENT or an IANA zone name

    def __post_init__(self) -> None:
        if not self.days or not self.days <= frozenset(range(7)):
            raise ValueError(f"a window's days are some of 0 to 6, not {sorted(self.days)}")
        if self.end <= self.start:
            raise ValueError(f"a window's end ({self.end}) is after its start ({self.start})")

    @classmethod
    def parse(cls, raw: object, field: str = "send_window") -> SendWindow:
        """``{"days": ["mon", "tue"], "start": "09:00", "end": "17:00", "timezone":
        "recipient"}`` (or a zone like ``"Europe/Paris"``); a missing part is Monday to
        Friday, 09:00 to 17:00 in the recipient's zone."""
        parts = _mapping(raw, field, _WINDOW_KEYS, "a part of a send window")
        names = parts.get("days", WEEKDAYS[:5])
        if not isinstance(names, list | tuple):
            raise ScheduleError(f"{field}.days: expected a list of days like [\"mon\", \"tue\"],"
                                f" not {names!r}", f"{field}.days")
        if not names:
            raise ScheduleError(f"{field}.days: no days: choose at least one", f"{field}.days")
        for i, name in enumerate(names):
            if name not in WEEKDAYS:
                raise ScheduleError(f"{field}.days[{i}]: {name!r} is not a day: "
                                    f"{_either(WEEKDAYS)}", f"{field}.days[{i}]")
        start = _clock(parts.get("start", "09:00"), f"{field}.start")
        end = _clock(parts.get("end", "17:00"), f"{field}.end")
        if end <= start:
            raise ScheduleError(f"{field}.end: {end:%H:%M} is not after the start, "
                                f"{start:%H:%M} (a window ends on the day it starts)",
                                f"{field}.end")
        timezone = parts.get("timezone", RECIPIENT)
        if not isinstance(timezone, str) or (timezone != RECIPIENT and not _zone(timezone)):
            raise ScheduleError(f"{field}.timezone: {timezone!r} is not a time zone: "
                                f"{RECIPIENT!r} or a name like 'Europe/Paris'",
                                f"{field}.timezone")
        return cls(frozenset(WEEKDAYS.index(n) for n in names), start, end, timezone)

    def as_json(self) -> dict[str, object]:
        return {"days": [WEEKDAYS[d] for d in sorted(self.days)],
                "start": f"{self.start:%H:%M}", "end": f"{self.end:%H:%M}",
                "timezone": self.timezone}


def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name) if name else None
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return None


def zone(name: str | None, fallback: str = "UTC") -> zoneinfo.ZoneInfo:
    """The zone named ``name`` if it is one, else ``fallback``'s (else UTC); never raises."""
    return _zone(name or "") or _zone(fallback) or zoneinfo.ZoneInfo("UTC")


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.utcoffset() is None:
        raise ValueError(f"{moment} has no time zone")
    return moment.astimezone(dt.UTC)


def _inside(at: dt.datetime, window: SendWindow, tz: zoneinfo.ZoneInfo) -> bool:
    local = at.astimezone(tz)
    return local.weekday() in window.days and window.start <= local.time() < window.end


def _change(after: dt.datetime, before: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """The clocks' change between two instants of different offsets: the first whole second
    on ``before``'s offset (zones change on whole seconds)."""
    low, high = math.floor(after.timestamp()), math.ceil(before.timestamp())
    offset = before.astimezone(tz).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if dt.datetime.fromtimestamp(middle, tz).utcoffset() == offset:
            high = middle
        else:
            low = middle
    return dt.datetime.fromtimestamp(high, dt.UTC)


def _openings(day: dt.date, window: SendWindow, tz: zoneinfo.ZoneInfo) -> list[dt.datetime]:
    """Where the window of local date ``day`` may open: its start's instants (both, when a
    fall-back repeats it) and a change of the clocks while it is open (a start in a gap, or
    a fall-back into the window); not all inside, see :func:`_inside`."""
    def instants(time: dt.time) -> list[dt.datetime]:
        local = dt.datetime.combine(day, time, tzinfo=tz)
        return [local.replace(fold=fold).astimezone(dt.UTC) for fold in (0, 1)]

    opens, closes = instants(window.start), instants(window.end)
    first, last = min(opens), max(closes)
    if first.astimezone(tz).utcoffset() != last.astimezone(tz).utcoffset():
        opens.append(_change(first, last, tz))  # one change at most: they are months apart
    return opens


def _opens_from(at: dt.datetime, day: dt.date, window: SendWindow,
                tz: zoneinfo.ZoneInfo) -> list[dt.datetime]:
    """The instants from ``at`` where the window of local date ``day`` opens."""
    if day.weekday() not in window.days:
        return []
    return [u for u in _openings(day, window, tz) if u >= at and _inside(u, window, tz)]


def next_send(earliest: dt.datetime, window: SendWindow | None,
              tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """The first instant from ``earliest`` (aware) inside ``window`` on the clock of ``tz``
    (the local weekday one of its days, start <= local time < end), in UTC; ``earliest``
    itself (in UTC) with no window."""
    at = _utc(earliest)
    if window is None or _inside(at, window, tz):
        return at
    # From the day before, as a fall-back across midnight goes back a date; and with the
    # first date that opens, the next, whose opening could come first across midnight.
    day = at.astimezone(tz).date() - _DAY
    for _ in range(_SEARCH_DATES):
        if found := _opens_from(at, day, window, tz):
            return min(found + _opens_from(at, day + _DAY, window, tz))
        day += _DAY
    raise ValueError(f"{window} does not open in the two weeks from {earliest} in {tz}")


def due_after(previous: dt.datetime, delay: Delay, window: SendWindow | None,
              tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """When the stage after one sent at ``previous`` may go out: the delay added as elapsed
    time (in UTC, so a day across a change of the clocks is 24 hours, not the same local
    time), then the window's next opening."""
    return next_send(_utc(previous) + delay.as_timedelta(), window, tz)

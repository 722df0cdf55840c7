"""iCalendar objects as the meetings they hold: each VEVENT, and each occurrence of a recurring
one within a window, as an `Occurrence` with its times in UTC and its people as lower-cased
email addresses, ready to be matched against contacts and logged.

Choices made here, so that every caller sees the same meeting the same way:

- Times are converted to UTC, through the object's VTIMEZONE (or the IANA zone its TZID
  names).  A floating time (no zone at all) is read as UTC: the server gives no zone to read
  it in, and the rep's own zone is not known here.
- An all-day event (DATE values) starts at 00:00 UTC of its date and ends at 00:00 UTC of
  its end date (the next day when it has none); `all_day` says so, for callers that would
  rather not log those as meetings.
- The organizer is not among the attendees; attendees who declined (PARTSTAT=DECLINED) and
  rooms or resources (CUTYPE=ROOM/RESOURCE) are left out, since none of them met anyone;
  the same address twice counts once.
- A recurring series gives each occurrence a `recurrence_id`, the UTC ISO time of its
  original start, which stays the same when that one occurrence is moved: with the UID it
  makes a key that survives edits.  A single event's is None.
- STATUS:CANCELLED, on the event or on one occurrence's override, is `cancelled`; anything
  else is `confirmed`.  An EXDATE removes the occurrence altogether.
- An object that cannot be read is logged and yields no occurrences: one bad event in a
  calendar must not stop the others from being synced.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Literal

import icalendar
import recurring_ical_events  # type: ignore[import-untyped]

__all__ = ["MAX_OCCURRENCES", "Occurrence", "Status", "occurrences"]

log = logging.getLogger("tether.calendar")

Status = Literal["confirmed", "cancelled"]

# Beyond this many occurrences in one window an object is not a meeting series anyone keeps
# (or is an attack on the expansion): the first ones are kept and the rest dropped, logged.
MAX_OCCURRENCES = 2000
# Rules this frequent would expand to millions of occurrences over a window of months.
_TOO_FREQUENT = {"SECONDLY", "MINUTELY"}
_UTC = dt.UTC


@dataclass(frozen=True)
class Occurrence:
    """One meeting: a single event, or one occurrence of a recurring one."""

    uid: str
    recurrence_id: str | None
    title: str
    start: dt.datetime
    end: dt.datetime
    organizer: str
    attendees: tuple[str, ...]
    location: str | None
    status: Status
    sequence: int
    all_day: bool

    @property
    def key(self) -> str:
        """What identifies this meeting across edits: the UID, and for an occurrence of a
        series also its original start."""
        return self.uid if self.recurrence_id is None else f"{self.uid}/{self.recurrence_id}"


def occurrences(ics_text: str, window_start: dt.datetime,
                window_end: dt.datetime) -> list[Occurrence]:
    """The meetings of one iCalendar object that overlap [window_start, window_end), earliest
    first; [] when the object cannot be read.  The window's ends must be time-zone aware."""
    start, end = _utc_bound(window_start), _utc_bound(window_end)
    if end <= start:
        return []
    try:
        calendar = icalendar.Calendar.from_ical(ics_text)
    except Exception as exc:
        log.warning("unreadable iCalendar object skipped: %s", exc)
        return []
    try:
        return _occurrences(calendar, start, end)
    except Exception as exc:
        uids = sorted({str(c.get("UID", "")) for c in calendar.walk("VEVENT")})
        log.warning("iCalendar object %s skipped, its events could not be expanded: %s",
                    ", ".join(uids) or "(no UID)", exc)
        return []


def _occurrences(calendar: icalendar.Component, start: dt.datetime,
                 end: dt.datetime) -> list[Occurrence]:
    events = list(calendar.walk("VEVENT"))
    recurring: set[str] = set()
    for event in events:
        rule = event.get("RRULE")
        if rule is not None and any(str(f).upper() in _TOO_FREQUENT
                                    for f in _as_list(rule.get("FREQ", []))):
            raise ValueError(f"its RRULE repeats {rule.get('FREQ')}")
        if any(event.get(name) is not None for name in ("RRULE", "RDATE", "RECURRENCE-ID")):
            recurring.add(str(event.get("UID", "")))
    found: list[Occurrence] = []
    for component in recurring_ical_events.of(calendar).between(start, end):
        occurrence = _occurrence(component, recurring)
        if occurrence is None or not _overlaps(occurrence, start, end):
            continue
        found.append(occurrence)
    found.sort(key=lambda o: (o.start, o.key))
    if len(found) > MAX_OCCURRENCES:
        log.warning("iCalendar object %s has %d occurrences in the window; the first %d kept",
                    found[0].uid, len(found), MAX_OCCURRENCES)
        del found[MAX_OCCURRENCES:]
    return found


def _overlaps(occurrence: Occurrence, start: dt.datetime, end: dt.datetime) -> bool:
    # The library's window includes its end; here it is half-open, as windows that follow
    # each other need (an event at 10:00 belongs to the window starting then, not to both).
    if occurrence.end <= occurrence.start:  # an instant: DTSTART with no duration
        return start <= occurrence.start < end
    return occurrence.start < end and occurrence.end > start


def _occurrence(component: icalendar.Component, recurring: set[str]) -> Occurrence | None:
    uid = str(component.get("UID", "")).strip()
    dtstart = component.get("DTSTART")
    if not uid or dtstart is None:
        return None  # not an event anyone can refer to (RFC 5545 requires both)
    all_day = not isinstance(dtstart.dt, dt.datetime)
    start = _utc(dtstart.dt)
    dtend = component.get("DTEND")
    if dtend is not None:
        end = _utc(dtend.dt)
    else:
        end = start + dt.timedelta(days=1) if all_day else start
    end = max(end, start)
    recurrence_id: str | None = None
    if uid in recurring:
        rid = component.get("RECURRENCE-ID")
        recurrence_id = _utc(rid.dt if rid is not None else dtstart.dt).isoformat()
    organizer = _address(component.get("ORGANIZER"))
    attendees: list[str] = []
    for attendee in _as_list(component.get("ATTENDEE", [])):
        params = getattr(attendee, "params", {})
        if str(params.get("PARTSTAT", "")).upper() == "DECLINED":
            continue
        if str(params.get("CUTYPE", "")).upper() in {"ROOM", "RESOURCE"}:
            continue
        address = _address(attendee)
        if address and address != organizer and address not in attendees:
            attendees.append(address)
    location = " ".join(str(component.get("LOCATION", "")).split()) or None
    status: Status = ("cancelled" if str(component.get("STATUS", "")).upper() == "CANCELLED"
                      else "confirmed")
    try:
        sequence = int(component.get("SEQUENCE", 0))
    except (TypeError, ValueError):
        sequence = 0
    return Occurrence(uid=uid, recurrence_id=recurrence_id,
                      title=" ".join(str(component.get("SUMMARY", "")).split()),
                      start=start, end=end, organizer=organizer, attendees=tuple(attendees),
                      location=location, status=status, sequence=sequence, all_day=all_day)


def _address(value: Any) -> str:
    """The email address of an ORGANIZER or ATTENDEE, lower-cased, or "" when it has none:
    the value without its mailto:, or else its EMAIL parameter (RFC 7986)."""
    if value is None:
        return ""
    text = str(value).strip()
    if text.lower().startswith("mailto:"):
        text = text[len("mailto:"):].strip()
    if "@" not in text or ":" in text:
        text = str(getattr(value, "params", {}).get("EMAIL", "")).strip()
    return text.lower() if "@" in text else ""


def _as_list(value: Any) -> list[Any]:
    """A property given once is the value itself, given more than once a list of them."""
    return list(value) if isinstance(value, list | tuple) else [value]


def _utc(value: dt.date | dt.datetime) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day, tzinfo=_UTC)
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        return value.replace(tzinfo=_UTC)  # floating: read as UTC
    return value.astimezone(_UTC)


def _utc_bound(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"a window needs time-zone aware ends, not {value.isoformat()}")
    return value.astimezone(_UTC)

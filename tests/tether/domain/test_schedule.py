"""When a sequence's next stage may go out: delays and send windows read with errors that name
the part at fault, and the next instant inside a window on the local wall clock, across the
clocks' changes (gaps, repeated hours, half-hour shifts and odd offsets)."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.domain.schedule import (
    WEEKDAYS,
    Delay,
    ScheduleError,
    SendWindow,
    due_after,
    next_send,
    zone,
)

NEW_YORK, LONDON, PARIS = (ZoneInfo("America/New_York"), ZoneInfo("Europe/London"),
                           ZoneInfo("Europe/Paris"))
LORD_HOWE, KATHMANDU = ZoneInfo("Australia/Lord_Howe"), ZoneInfo("Asia/Kathmandu")
MINUTE = dt.timedelta(minutes=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
        second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)


def local(tz: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0,
          second: int = 0, *, fold: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=tz, fold=fold)


def window(start: str = "09:00", end: str = "17:00", days: list[str] | None = None,
           timezone: str = "recipient") -> SendWindow:
    return SendWindow.parse({"days": list(WEEKDAYS) if days is None else days,
                             "start": start, "end": end, "timezone": timezone})


WEEKDAYS_9_TO_5 = window(days=["mon", "tue", "wed", "thu", "fri"])
EVERY_DAY_9_TO_5 = window()


# Reading a delay and a window


def test_a_delay_reads_its_parts_with_missing_ones_zero() -> None:
    assert Delay.parse({}, "delay") == Delay()
    assert Delay.parse({"days": 1, "hours": 2}, "delay") == Delay(1, 2, 0)
    assert Delay.parse({"days": 1, "hours": 2, "minutes": 3}, "delay").as_timedelta() == \
        dt.timedelta(days=1, hours=2, minutes=3)
    assert Delay.parse({"days": 365}, "delay").as_timedelta() == dt.timedelta(days=365)
    assert Delay.parse({"minutes": 365 * 24 * 60}, "d") == Delay(0, 0, 365 * 24 * 60)


@pytest.mark.parametrize("raw,path", [
    ({"days": "1"}, "stages[2].delay.days"),
    ({"days": 1.0}, "stages[2].delay.days"),
    ({"hours": True}, "stages[2].delay.hours"),
    ({"minutes": None}, "stages[2].delay.minutes"),
    ({"minutes": -1}, "stages[2].delay.minutes"),
    ({"weeks": 1}, "stages[2].delay.weeks"),
    ({"days": 366}, "stages[2].delay.days"),
    ({"days": 365, "minutes": 1}, "stages[2].delay.minutes"),
    ({"hours": 10**30}, "stages[2].delay.hours"),
    ("1 day", "stages[2].delay"),
    ([1, 0, 0], "stages[2].delay"),
])
def test_a_bad_delay_names_its_part(raw: object, path: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        Delay.parse(raw, "stages[2].delay")
    assert caught.value.field == path
    assert caught.value.detail.startswith(f"{path}: ")
    assert str(caught.value) == caught.value.detail
    assert isinstance(caught.value, ValueError)


def test_a_window_has_defaults_for_the_parts_left_out() -> None:
    assert SendWindow.parse({}) == SendWindow(frozenset(range(5)), dt.time(9), dt.time(17),
                                              "recipient")
    assert SendWindow.parse({"days": ["sun", "sat", "sat"], "start": "7:05",
                             "timezone": "Europe/Paris"}) == \
        SendWindow(frozenset({5, 6}), dt.time(7, 5), dt.time(17), "Europe/Paris")


def test_a_day_not_a_day_is_said_in_words_with_its_place() -> None:
    with pytest.raises(ScheduleError) as caught:
        SendWindow.parse({"days": ["mon", "tue", "funday"]})
    assert caught.value.field == "send_window.days[2]"
    assert caught.value.detail == ("send_window.days[2]: 'funday' is not a day: "
                                   "mon, tue, wed, thu, fri, sat or sun")


@pytest.mark.parametrize("raw,path", [
    ({"days": []}, "send_window.days"),
    ({"days": "mon"}, "send_window.days"),
    ({"days": None}, "send_window.days"),
    ({"days": ["mon", 0]}, "send_window.days[1]"),
    ({"days": ["Monday"]}, "send_window.days[0]"),
    ({"start": "9am"}, "send_window.start"),
    ({"start": "24:00"}, "send_window.start"),
    ({"start": "09:00:00"}, "send_window.start"),
    ({"start": 9}, "send_window.start"),
    ({"end": "17:60"}, "send_window.end"),
    ({"end": ""}, "send_window.end"),
    ({"start": "17:00", "end": "09:00"}, "send_window.end"),  # overnight: refused
    ({"start": "09:00", "end": "09:00"}, "send_window.end"),
    ({"timezone": "Mars/Olympus"}, "send_window.timezone"),
    ({"timezone": "America"}, "send_window.timezone"),
    ({"timezone": "../etc/passwd"}, "send_window.timezone"),
    ({"timezone": ""}, "send_window.timezone"),
    ({"timezone": None}, "send_window.timezone"),
    ({"hours": "9-5"}, "send_window.hours"),
    (None, "send_window"),
    (["mon"], "send_window"),
])
def test_a_bad_window_names_its_part(raw: object, path: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        SendWindow.parse(raw)
    assert caught.value.field == path
    assert caught.value.detail.startswith(f"{path}: ")


def test_a_windows_path_starts_with_the_field_given() -> None:
    with pytest.raises(ScheduleError) as caught:
        SendWindow.parse({"days": ["mon", "x"]}, "stages[1].send_window")
    assert caught.value.field == "stages[1].send_window.days[1]"


def test_a_window_made_directly_is_checked_too() -> None:
    with pytest.raises(ValueError):
        SendWindow(frozenset(), dt.time(9), dt.time(17), "recipient")
    with pytest.raises(ValueError):
        SendWindow(frozenset({7}), dt.time(9), dt.time(17), "recipient")
    with pytest.raises(ValueError):
        SendWindow(frozenset({0}), dt.time(17), dt.time(9), "recipient")


clock_minutes = st.lists(st.integers(0, 24 * 60 - 1), min_size=2, max_size=2,
                         unique=True).map(sorted)
day_sets = st.frozensets(st.integers(0, 6), min_size=1)


@given(days=day_sets, minutes=clock_minutes,
       timezone=st.sampled_from(["recipient", "UTC", "Europe/Paris", "Asia/Kathmandu"]))
def test_a_window_round_trips_through_json(days: frozenset[int], minutes: list[int],
                                           timezone: str) -> None:
    start, end = (dt.time(m // 60, m % 60) for m in minutes)
    made = SendWindow(days, start, end, timezone)
    assert SendWindow.parse(made.as_json()) == made
    assert made.as_json()["days"] == [WEEKDAYS[d] for d in sorted(days)]


def test_the_json_of_a_window_is_what_was_written() -> None:
    raw: dict[str, Any] = {"days": ["mon", "wed"], "start": "08:30", "end": "12:00",
                           "timezone": "America/New_York"}
    assert SendWindow.parse(raw).as_json() == raw


def test_a_zone_by_name_else_the_fallback() -> None:
    assert zone("Europe/Paris").key == "Europe/Paris"
    assert zone("Mars/Olympus").key == "UTC"
    assert zone(None, "Europe/London").key == "Europe/London"
    assert zone("recipient", "America/New_York").key == "America/New_York"
    assert zone("../etc/passwd").key == "UTC"
    assert zone("America").key == "UTC"
    assert zone("bad", "also bad").key == "UTC"


# The next instant inside a window


def test_no_window_is_the_earliest_itself_in_utc() -> None:
    earliest = local(NEW_YORK, 2026, 6, 13, 3, 7)
    out = next_send(earliest, None, NEW_YORK)
    assert out == earliest and out.tzinfo is dt.UTC


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError):
        next_send(dt.datetime(2026, 6, 10, 10), WEEKDAYS_9_TO_5, NEW_YORK)
    with pytest.raises(ValueError):
        due_after(dt.datetime(2026, 6, 10, 10), Delay(), None, NEW_YORK)


def test_inside_the_window_is_unchanged() -> None:
    wednesday = local(NEW_YORK, 2026, 6, 10, 10, 15, 30)
    assert next_send(wednesday, WEEKDAYS_9_TO_5, NEW_YORK) == utc(2026, 6, 10, 14, 15, 30)
    opening = local(NEW_YORK, 2026, 6, 10, 9)
    assert next_send(opening, WEEKDAYS_9_TO_5, NEW_YORK) == opening, "the start is inside"


def test_before_hours_is_that_morning_and_after_hours_the_next() -> None:
    assert next_send(local(NEW_YORK, 2026, 6, 10, 6), WEEKDAYS_9_TO_5, NEW_YORK) == \
        utc(2026, 6, 10, 13)
    assert next_send(local(NEW_YORK, 2026, 6, 10, 18, 30), WEEKDAYS_9_TO_5, NEW_YORK) == \
        utc(2026, 6, 11, 13)
    assert next_send(local(NEW_YORK, 2026, 6, 10, 17), WEEKDAYS_9_TO_5, NEW_YORK) == \
        utc(2026, 6, 11, 13), "the end is not inside"


def test_friday_evening_is_monday_morning_for_weekdays() -> None:
    friday = local(NEW_YORK, 2026, 6, 12, 17, 30)
    assert next_send(friday, WEEKDAYS_9_TO_5, NEW_YORK) == utc(2026, 6, 15, 13)
    assert next_send(friday, EVERY_DAY_9_TO_5, NEW_YORK) == utc(2026, 6, 13, 13)
    saturday = local(NEW_YORK, 2026, 6, 13, 11)
    assert next_send(saturday, WEEKDAYS_9_TO_5, NEW_YORK) == utc(2026, 6, 15, 13)


def test_the_window_is_on_the_zones_clock_not_the_earliests() -> None:
    paris_morning = window(timezone="Europe/Paris")
    earliest = local(NEW_YORK, 2026, 6, 10, 2)  # 08:00 in Paris
    assert next_send(earliest, paris_morning, PARIS) == utc(2026, 6, 10, 7)


@pytest.mark.parametrize("earliest,days,expected", [
    # New York springs forward on Sunday 2026-03-08 (02:00 EST -> 03:00 EDT): 09:00 is 13:00
    # UTC that day, not 24 hours after Saturday's 14:00.
    (local(NEW_YORK, 2026, 3, 7, 18), None, utc(2026, 3, 8, 13)),
    (local(NEW_YORK, 2026, 3, 6, 17, 30), "mon-fri", utc(2026, 3, 9, 13)),
    # ... and falls back on Sunday 2026-11-01 (02:00 EDT -> 01:00 EST)
    (local(NEW_YORK, 2026, 10, 31, 18), None, utc(2026, 11, 1, 14)),
    (local(NEW_YORK, 2026, 10, 30, 17, 30), "mon-fri", utc(2026, 11, 2, 14)),
])
def test_new_york_across_the_clocks_changes(earliest: dt.datetime, days: str | None,
                                           expected: dt.datetime) -> None:
    chosen = WEEKDAYS_9_TO_5 if days else EVERY_DAY_9_TO_5
    out = next_send(earliest, chosen, NEW_YORK)
    assert out == expected
    assert out.astimezone(NEW_YORK).time() == dt.time(9)


def test_a_start_in_the_spring_gap_opens_when_the_clocks_jump() -> None:
    night = window("02:30", "17:00")
    out = next_send(local(NEW_YORK, 2026, 3, 8, 0), night, NEW_YORK)
    assert out == utc(2026, 3, 8, 7)
    assert out.astimezone(NEW_YORK).replace(tzinfo=None) == dt.datetime(2026, 3, 8, 3)
    assert next_send(local(NEW_YORK, 2026, 3, 7, 0), night, NEW_YORK) == \
        utc(2026, 3, 7, 7, 30), "the day before, 02:30 EST"
    assert next_send(local(NEW_YORK, 2026, 3, 8, 4), night, NEW_YORK) == utc(2026, 3, 8, 8)


def test_a_window_wholly_in_the_gap_opens_the_next_day() -> None:
    lost = window("02:00", "02:45")
    assert next_send(local(NEW_YORK, 2026, 3, 8, 0), lost, NEW_YORK) == utc(2026, 3, 9, 6)
    sundays_lost = window("02:00", "02:45", days=["sun"])
    assert next_send(local(NEW_YORK, 2026, 3, 8, 0), sundays_lost, NEW_YORK) == \
        utc(2026, 3, 15, 6), "the Sunday after"


def test_a_start_in_the_repeated_hour_opens_first_time_and_again_the_second() -> None:
    repeated = window("01:30", "01:45")
    assert next_send(local(NEW_YORK, 2026, 11, 1, 0), repeated, NEW_YORK) == \
        utc(2026, 11, 1, 5, 30), "01:30 EDT"
    assert next_send(local(NEW_YORK, 2026, 11, 1, 1, 50), repeated, NEW_YORK) == \
        utc(2026, 11, 1, 6, 30), "01:30 EST, the hour's second pass"
    second = local(NEW_YORK, 2026, 11, 1, 1, 40, fold=1)
    # (compared in UTC: Python never finds an instant of the repeated hour equal across zones)
    assert next_send(second, repeated, NEW_YORK) == second.astimezone(dt.UTC)
    assert next_send(local(NEW_YORK, 2026, 11, 1, 1, 50, fold=1), repeated, NEW_YORK) == \
        utc(2026, 11, 2, 6, 30)


def test_falling_back_into_the_window_opens_it_at_the_change() -> None:
    early = window("00:30", "01:30")
    # 01:40 EDT is after the window; at 02:00 EDT the clocks go back to 01:00 EST, inside.
    assert next_send(local(NEW_YORK, 2026, 11, 1, 1, 40), early, NEW_YORK) == \
        utc(2026, 11, 1, 6)


@pytest.mark.parametrize("earliest,chosen,tz,expected", [
    # London: 01:00 GMT -> 02:00 BST on 2026-03-29, back on 2026-10-25
    (local(LONDON, 2026, 3, 28, 18), EVERY_DAY_9_TO_5, LONDON, utc(2026, 3, 29, 8)),
    (local(LONDON, 2026, 10, 24, 18), EVERY_DAY_9_TO_5, LONDON, utc(2026, 10, 25, 9)),
    (local(LONDON, 2026, 3, 29, 0), window("01:15", "03:00"), LONDON, utc(2026, 3, 29, 1)),
    # Paris: 02:00 CET -> 03:00 CEST on 2026-03-29; 03:00 CEST -> 02:00 CET on 2026-10-25
    (local(PARIS, 2026, 3, 28, 18), EVERY_DAY_9_TO_5, PARIS, utc(2026, 3, 29, 7)),
    (local(PARIS, 2026, 10, 24, 18), EVERY_DAY_9_TO_5, PARIS, utc(2026, 10, 25, 8)),
    (local(PARIS, 2026, 3, 29, 0), window("02:30", "04:00"), PARIS, utc(2026, 3, 29, 1)),
    (local(PARIS, 2026, 10, 25, 0), window("02:30", "02:45"), PARIS, utc(2026, 10, 25, 0, 30)),
    # Lord Howe shifts by half an hour: 02:00 -> 02:30 (+11) on 2026-10-04 and
    # 02:00 -> 01:30 (+10:30) on 2026-04-05
    (local(LORD_HOWE, 2026, 10, 3, 18), EVERY_DAY_9_TO_5, LORD_HOWE, utc(2026, 10, 3, 22)),
    (local(LORD_HOWE, 2026, 10, 4, 0), window("02:00", "03:00"), LORD_HOWE,
     utc(2026, 10, 3, 15, 30)),
    (local(LORD_HOWE, 2026, 4, 4, 18), EVERY_DAY_9_TO_5, LORD_HOWE, utc(2026, 4, 4, 22, 30)),
    (local(LORD_HOWE, 2026, 4, 5, 0), window("01:30", "01:45"), LORD_HOWE,
     utc(2026, 4, 4, 14, 30)),
    (local(LORD_HOWE, 2026, 4, 5, 1, 50), window("01:30", "01:45"), LORD_HOWE,
     utc(2026, 4, 4, 15)),
    # Kathmandu is +05:45 all year
    (utc(2026, 6, 5, 12), WEEKDAYS_9_TO_5, KATHMANDU, utc(2026, 6, 8, 3, 15)),
    (utc(2026, 6, 8, 3, 14), WEEKDAYS_9_TO_5, KATHMANDU, utc(2026, 6, 8, 3, 15)),
    (utc(2026, 6, 8, 11, 14), WEEKDAYS_9_TO_5, KATHMANDU, utc(2026, 6, 8, 11, 14)),
    (utc(2026, 6, 8, 11, 15), WEEKDAYS_9_TO_5, KATHMANDU, utc(2026, 6, 9, 3, 15)),
])
def test_other_zones_changes_and_offsets(earliest: dt.datetime, chosen: SendWindow,
                                        tz: ZoneInfo, expected: dt.datetime) -> None:
    assert next_send(earliest, chosen, tz) == expected


def test_falling_back_across_midnight_reopens_the_days_window() -> None:
    st_johns = ZoneInfo("America/St_Johns")
    # In 2006 St John's went back at 00:01 on Sunday, to 23:01 on Saturday: half an hour
    # later, Saturday's window opens a second time.
    sunday = local(st_johns, 2006, 10, 29, 0, 0, 30)
    saturday_night = window("23:30", "23:59", days=["sat"])
    assert next_send(sunday, saturday_night, st_johns) == utc(2006, 10, 29, 3)
    # A minute before, Sunday opens at 00:00 just ahead of Saturday's second 23:01.
    saturday = local(st_johns, 2006, 10, 28, 23, 59, 30)
    weekend = window("00:00", "23:59", days=["sat", "sun"])
    assert next_send(saturday, weekend, st_johns) == utc(2006, 10, 29, 2, 30)


def test_a_delay_is_elapsed_time_then_the_window() -> None:
    friday = local(NEW_YORK, 2026, 3, 6, 10)  # 15:00 UTC
    # Two days of 24 hours reach Sunday 15:00 UTC, 11:00 EDT after the clocks sprang forward.
    assert due_after(friday, Delay(days=2), EVERY_DAY_9_TO_5, NEW_YORK) == utc(2026, 3, 8, 15)
    assert due_after(friday, Delay(days=2), None, NEW_YORK) == utc(2026, 3, 8, 15)
    late = local(NEW_YORK, 2026, 3, 6, 16)
    assert due_after(late, Delay(hours=2), WEEKDAYS_9_TO_5, NEW_YORK) == utc(2026, 3, 9, 13)
    assert due_after(late, Delay(minutes=30), WEEKDAYS_9_TO_5, NEW_YORK) == \
        utc(2026, 3, 6, 21, 30)


# For any instant, window and zone


ZONES = [ZoneInfo(name) for name in (
    "UTC", "America/New_York", "America/Santiago", "America/St_Johns", "America/Havana",
    "Europe/London", "Europe/Paris", "Africa/Casablanca", "Asia/Kathmandu", "Asia/Kolkata",
    "Australia/Lord_Howe", "Pacific/Chatham", "Pacific/Kiritimati")]


@functools.cache
def changes(tz: ZoneInfo) -> list[dt.datetime]:
    """The instants in 2025 to 2027 when ``tz``'s offset changes (to the minute)."""
    out: list[dt.datetime] = []
    at, stop = utc(2025, 1, 1), utc(2028, 1, 1)
    while at < stop:
        later = at + dt.timedelta(hours=1)
        if at.astimezone(tz).utcoffset() != later.astimezone(tz).utcoffset():
            change = at
            while change.astimezone(tz).utcoffset() == at.astimezone(tz).utcoffset():
                change += MINUTE
            out.append(change)
        at = later
    return out


@st.composite
def cases(draw: st.DrawFn) -> tuple[dt.datetime, SendWindow, ZoneInfo]:
    """An instant and a window, often near one of the zone's changes of the clocks (with the
    window's start or end near the change's local time)."""
    tz = draw(st.sampled_from(ZONES))
    minutes = draw(clock_minutes)
    near = changes(tz)
    if draw(st.booleans()) and near:
        change = draw(st.sampled_from(near))
        earliest = change + draw(st.integers(-3 * 24 * 60, 24 * 60)) * MINUTE
        earliest += draw(st.integers(0, 59)) * dt.timedelta(seconds=1)
        wall = change.astimezone(tz)
        edge = wall.hour * 60 + wall.minute + draw(st.integers(-90, 90))
        other = draw(st.integers(0, 24 * 60 - 1))
        if 0 <= edge < 24 * 60 and edge != other:
            minutes = sorted([edge, other])
    else:
        earliest = draw(st.datetimes(dt.datetime(2020, 1, 1), dt.datetime(2035, 12, 31),
                                     timezones=st.sampled_from([dt.UTC, *ZONES])))
    start, end = (dt.time(m // 60, m % 60) for m in minutes)
    return earliest, SendWindow(draw(day_sets), start, end, tz.key), tz


def inside(at: dt.datetime, chosen: SendWindow, tz: ZoneInfo) -> bool:
    wall = at.astimezone(tz)
    return wall.weekday() in chosen.days and chosen.start <= wall.time() < chosen.end


def first_inside(earliest: dt.datetime, chosen: SendWindow, tz: ZoneInfo) -> dt.datetime:
    """By brute force: ``earliest`` if inside, else the first whole minute after it that is
    (in these years every zone's offset and change is on a whole minute, and so is every
    window's edge, so the window cannot open between two minutes)."""
    at = earliest.astimezone(dt.UTC)
    if inside(at, chosen, tz):
        return at
    at = at.replace(second=0, microsecond=0) + MINUTE
    while not inside(at, chosen, tz):
        at += MINUTE
    return at


@settings(max_examples=400, deadline=None)
@given(case=cases())
def test_the_next_send_is_the_first_instant_inside_the_window(
        case: tuple[dt.datetime, SendWindow, ZoneInfo]) -> None:
    earliest, chosen, tz = case
    out = next_send(earliest, chosen, tz)
    assert out.tzinfo is dt.UTC
    assert out >= earliest
    # a week and a day, or a week more when a gap swallowed the only day's window
    assert out - earliest <= dt.timedelta(days=15)
    assert inside(out, chosen, tz), out.astimezone(tz)
    assert out == first_inside(earliest, chosen, tz), "nothing inside in between"
    assert next_send(out, chosen, tz) == out
    assert next_send(out.astimezone(tz), chosen, tz) == out

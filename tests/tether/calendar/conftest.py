"""The calendar fixtures (tests/calendar_fixtures.py) for the tests here."""

from tests.calendar_fixtures import local_calendar, make_local_calendar

__all__ = ["local_calendar", "make_local_calendar"]

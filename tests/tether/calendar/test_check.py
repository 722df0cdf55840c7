"""check(): a calendar's display name, or the stage at which it could not be used."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.calendar_fixtures import MakeLocalCalendar
from tether.calendar.caldav_client import Account, CalendarCheckError, check
from tether.calendar.local_server import LocalCalendarServer

USER = "admin@acme.example"
PASSWORD = "tether-demo"


@pytest.fixture
def account(local_calendar: LocalCalendarServer) -> Account:
    url = local_calendar.add_user(USER, PASSWORD, display_name="Acme meetings")
    return Account(url, USER, PASSWORD)


def failure(account: Account, timeout: float = 10) -> CalendarCheckError:
    with pytest.raises(CalendarCheckError) as caught:
        check(account, timeout=timeout)
    return caught.value


def test_a_calendar_answers_its_display_name(account: Account) -> None:
    assert check(account) == "Acme meetings"


def test_the_account_hides_its_password(account: Account) -> None:
    assert PASSWORD not in repr(account)
    assert repr(account) == f"Account(url={account.url!r}, username='{USER}')"


def test_a_wrong_password_is_authentication(account: Account) -> None:
    error = failure(Account(account.url, USER, "wrong"))
    assert error.stage == "authentication"
    assert str(error) == f"CalDAV authentication failed: {error.detail}"
    assert USER in error.detail and "refused the password" in error.detail


def test_another_users_calendar_is_authentication(local_calendar: LocalCalendarServer,
                                                  account: Account) -> None:
    local_calendar.add_user("bob@acme.example", "b")
    error = failure(Account(account.url, "bob@acme.example", "b"))
    assert error.stage == "authentication"
    assert error.detail == f"bob@acme.example may not read {account.url}"


def test_a_wrong_path_is_not_a_calendar(account: Account) -> None:
    error = failure(Account(account.url + "nope/", USER, PASSWORD))
    assert error.stage == "not a calendar"
    assert error.detail == f"there is nothing at {account.url}nope/"


@pytest.mark.parametrize("where", ["principal", "root"])
def test_an_address_above_the_calendar_names_the_calendars_there(
        local_calendar: LocalCalendarServer, account: Account, where: str) -> None:
    url = local_calendar.principal_url(USER) if where == "principal" else local_calendar.url
    error = failure(Account(url, USER, PASSWORD))
    assert error.stage == "not a calendar"
    assert "is a collection, not a calendar; calendars there: Acme meetings (" in error.detail
    assert "/admin%40acme.example/calendar/)" in error.detail


def test_a_task_list_is_not_a_calendar_of_events(local_calendar: LocalCalendarServer,
                                                 account: Account) -> None:
    url = local_calendar.add_calendar(USER, "tasks", display_name="To do",
                                      components=("VTODO",))
    error = failure(Account(url, USER, PASSWORD))
    assert (error.stage, error.detail) == ("not a calendar",
                                           f"{url} is a calendar of tasks, not of events")


def test_a_closed_port_is_connection() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = failure(Account(f"http://127.0.0.1:{port}/cal/", USER, PASSWORD))
    assert (error.stage, error.detail) == ("connection",
                                           f"nothing is listening at 127.0.0.1:{port}")


def test_an_unknown_host_is_name_resolution() -> None:
    error = failure(Account("https://nonexistent.invalid/dav/cal/", USER, PASSWORD))
    assert error.stage == "name resolution"
    assert error.detail.startswith("nonexistent.invalid could not be found")


def test_not_an_http_address_is_connection() -> None:
    error = failure(Account("caldav.acme.example/cal/", USER, PASSWORD))
    assert error.stage == "connection" and "not an http:// or https:// address" in error.detail


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that takes connections (into its backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_a_server_that_does_not_answer_is_timeout(silent_port: int) -> None:
    error = failure(Account(f"http://127.0.0.1:{silent_port}/cal/", USER, PASSWORD),
                    timeout=0.3)
    assert (error.stage, error.detail) == (
        "timeout", f"127.0.0.1:{silent_port} did not answer within 0.3 s")


def test_an_untrusted_certificate_is_tls(make_local_calendar: MakeLocalCalendar) -> None:
    server = make_local_calendar(tls=True)
    url = server.add_user(USER, PASSWORD)
    assert url.startswith("https://")
    error = failure(Account(url, USER, PASSWORD))
    assert error.stage == "TLS"
    assert error.detail.startswith(f"the certificate of 127.0.0.1:{server.port} is not trusted")
    assert check(Account(url, USER, PASSWORD, ca_file=server.ca_file)) == "Calendar"


def test_plain_http_to_a_tls_port_is_connection(make_local_calendar: MakeLocalCalendar) -> None:
    server = make_local_calendar(tls=True)
    url = server.add_user(USER, PASSWORD).replace("https://", "http://")
    error = failure(Account(url, USER, PASSWORD))
    assert error.stage == "connection"

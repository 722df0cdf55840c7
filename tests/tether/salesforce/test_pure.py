"""Pure helpers: Sforce-Limit-Info, SOQL literals, datetimes, the streaming CSV parser."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.salesforce.auth import ids_from_identity_url, pkce_challenge
from tether.salesforce.bulk2 import CsvRecords, PollPolicy
from tether.salesforce.composite import CompositeSubrequest, chunks, typed_records
from tether.salesforce.datetimes import (
    format_datetime,
    format_param,
    from_epoch_ms,
    parse_datetime,
    soql_datetime,
)
from tether.salesforce.limits import ApiUsage, MemoryUsageLedger, parse_limit_info
from tether.salesforce.soql import in_list, like_pattern, like_quote, literal, quote


@pytest.mark.parametrize(("header", "expected"), [
    ("api-usage=18/5000", ApiUsage(18, 5000)),
    ("api-usage=25/5000; per-app-api-usage=17/250(appName=sample-app)", ApiUsage(25, 5000)),
    ("per-app-api-usage=17/250(appName=x); api-usage=3/15000", ApiUsage(3, 15000)),
    ("api-usage=0/0", ApiUsage(0, 0)),
    ("", None), (None, None), ("api-usage=abc", None), ("per-app-api-usage=1/2(appName=a)", None),
])
def test_parse_limit_info(header: str | None, expected: ApiUsage | None) -> None:
    assert parse_limit_info(header) == expected


def test_usage_remaining() -> None:
    assert ApiUsage(4990, 5000).remaining == 10 and ApiUsage(6000, 5000).remaining == 0


@pytest.mark.anyio
async def test_memory_ledger() -> None:
    ledger = MemoryUsageLedger()
    await ledger.record("00D1", 5, 100)
    await ledger.record("00D1", 7, 100)
    await ledger.record("00D2", 1, 50)
    assert ledger.usage("00D1") == ApiUsage(7, 100) and ledger.usage("00D2") == ApiUsage(1, 50)
    assert [s.used for s in ledger.samples] == [5, 7, 1]


def test_quote() -> None:
    assert quote("O'Brien") == "'O\\'Brien'"
    assert quote('a\\b"c\n\r\t\b\f') == "'a\\\\b\\\"c\\n\\r\\t\\b\\f'"
    assert quote("50%_off") == "'50%_off'"
    assert like_quote("50%_off") == "'50\\%\\_off'"
    assert like_pattern("O'B", suffix=True) == "'O\\'B%'"
    assert like_pattern("x", prefix=True, suffix=True) == "'%x%'"


def test_literals_and_in_list() -> None:
    assert in_list(["a", "b'c"]) == "('a','b\\'c')"
    assert in_list([1, 2.5, True, None]) == "(1,2.5,true,null)"
    assert literal(1e-7) == "0.0000001" and literal(1e20) == "100000000000000000000"
    assert literal(dt.date(2026, 11, 28)) == "2026-11-28"
    berlin = dt.timezone(dt.timedelta(hours=1))
    assert literal(dt.datetime(2026, 11, 28, 11, 0, tzinfo=berlin)) == "2026-11-28T10:00:00Z"
    with pytest.raises(ValueError):
        in_list([])
    with pytest.raises(ValueError):
        literal(dt.datetime(2026, 1, 1))  # naive
    with pytest.raises(ValueError):
        literal(float("nan"))


@pytest.mark.parametrize("text", ["2013-05-20T20:49:32.000+0000", "2013-05-20T20:49:32Z",
                                  "2013-05-20T22:49:32.000+02:00", "2013-05-20T20:49:32",
                                  "2013-05-20T18:49:32.000-0200"])
def test_parse_datetime(text: str) -> None:
    assert parse_datetime(text) == dt.datetime(2013, 5, 20, 20, 49, 32, tzinfo=dt.UTC)
    assert parse_datetime(text).tzinfo is dt.UTC


def test_format_datetime() -> None:
    moment = dt.datetime(2013, 5, 20, 20, 49, 32, 123456, tzinfo=dt.UTC)
    assert format_datetime(moment) == "2013-05-20T20:49:32.123+0000"
    assert parse_datetime(format_datetime(moment)) == moment.replace(microsecond=123000)
    assert format_param(moment) == "2013-05-20T20:49:32+00:00"
    assert soql_datetime(moment) == "2013-05-20T20:49:32.123Z"
    assert from_epoch_ms("1369082972000") == dt.datetime(2013, 5, 20, 20, 49, 32, tzinfo=dt.UTC)
    with pytest.raises(ValueError):
        format_datetime(dt.datetime(2013, 5, 20))


@given(st.datetimes(timezones=st.just(dt.UTC)))
def test_datetime_round_trip(moment: dt.datetime) -> None:
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    assert parse_datetime(format_datetime(moment)) == moment


def _csv(rows: list[list[str]], terminator: str) -> str:
    buf = io.StringIO()
    csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator=terminator).writerows(rows)
    return buf.getvalue()


cell = st.text(alphabet=st.sampled_from('ab,"\n\r\x0c\u2028 é'), max_size=8)


@given(rows=st.lists(st.lists(cell, min_size=3, max_size=3), min_size=1, max_size=12),
       cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
       terminator=st.sampled_from(["\n", "\r\n"]))
def test_csv_records_survive_any_chunking(rows: list[list[str]], cuts: list[int],
                                          terminator: str) -> None:
    text = _csv(rows, terminator)
    bounds = sorted({0, len(text), *(c for c in cuts if c < len(text))})
    parser = CsvRecords()
    out = [r for a, b in itertools.pairwise(bounds) for r in parser.feed(text[a:b])]
    out += list(parser.close())
    assert out == rows


def test_csv_records_refuse_a_cut_off_value() -> None:
    parser = CsvRecords()
    assert list(parser.feed('"a","b\nc')) == []
    with pytest.raises(ValueError):
        list(parser.close())


def test_poll_policy_grows_to_its_cap() -> None:
    delays = PollPolicy(initial=1, factor=2, max_interval=5).delays()
    assert [next(delays) for _ in range(5)] == [1, 2, 4, 5, 5]


def test_composite_helpers() -> None:
    assert [len(c) for c in chunks(list(range(450)))] == [200, 200, 50]
    assert typed_records([{"LastName": "x"}, {"attributes": {"type": "Lead"}}], "Contact") == [
        {"LastName": "x", "attributes": {"type": "Contact"}}, {"attributes": {"type": "Lead"}}]
    with pytest.raises(ValueError):
        typed_records([{"LastName": "x"}], None)
    sub = CompositeSubrequest("post", "sobjects/Contact", "c", {"LastName": "x"})
    assert sub.to_json("59.0") == {"method": "POST", "url": "/services/data/v59.0/sobjects/Contact",
                                   "referenceId": "c", "body": {"LastName": "x"}}


def test_oauth_helpers() -> None:
    # RFC 7636, appendix B.
    assert (pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
            == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    assert ids_from_identity_url("https://login.salesforce.com/id/00Dx0000000BV7z/"
                                 "005x00000012Q9P") == ("00Dx0000000BV7z", "005x00000012Q9P")

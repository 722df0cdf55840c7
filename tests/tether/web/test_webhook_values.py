"""The real-time webhook checks what each record carries: Salesforce ids, datetimes, field
names and values, all bounded.  A malformed record is refused (422 naming it) and the
document's good records are applied; SystemModstamps are compared as moments."""

from __future__ import annotations

from typing import Any

import pytest

from tests.tether.web.conftest import World
from tests.tether.web.test_webhook import _contact, _doc, _lookup, _post, _token

STAMP = "2026-11-28T10:00:00.000+0000"


def _update(*records: dict[str, Any]) -> dict[str, Any]:
    return _doc([{"object": "Contact", "operation": "update", "records": list(records)}])


def _person(n: int, stamp: str = STAMP, **fields: Any) -> dict[str, Any]:
    return _contact(stamp, Id=f"0035g00000000{n:02d}AAA", Email=f"p{n}@globex.example", **fields)


def test_a_bad_modstamp_is_refused_and_pins_nothing(world: World) -> None:
    token = _token(world)
    r = _post(world, token, _update(_contact("zzzz", Title="Forged")))
    assert r.status_code == 422
    assert r.json()["field"] == "changes[0].records[0].SystemModstamp"
    assert "SystemModstamp" in r.json()["detail"] and r.json()["applied"] == 0
    genuine = _post(world, token, _update(_contact("2026-11-28T10:00:05.000+0000", Title="CEO")))
    assert genuine.status_code == 200 and genuine.json()["applied"] == 1
    (match,) = _lookup(world, "jane@globex.example")
    assert match["fields"]["Title"] == "CEO"


def test_the_good_records_are_applied_the_bad_one_refused(world: World) -> None:
    token = _token(world)
    records = [_person(n) for n in range(5)]
    records[3]["SystemModstamp"] = "2026-13-45T99:00:00.000+0000"
    doc = _update(*records)
    r = _post(world, token, doc)
    assert r.status_code == 422
    body = r.json()
    assert body["field"] == "changes[0].records[3].SystemModstamp"
    assert body["detail"].startswith("changes[0].records[3].SystemModstamp: not a Salesforce")
    assert body["applied"] == 4 and body["ignored"] == 0
    assert [e["field"] for e in body["errors"]] == ["changes[0].records[3].SystemModstamp"]
    for n in range(5):
        assert len(_lookup(world, f"p{n}@globex.example")) == (0 if n == 3 else 1)
    # The package retries a refused document as it was: the good records change nothing.
    again = _post(world, token, doc)
    assert again.status_code == 422 and again.json()["applied"] == 0
    runs = world.client.get("/api/v1/salesforce/sync-runs", headers=world.as_admin()).json()
    realtime = [run for run in runs if run["kind"] == "realtime"]
    assert {run["outcome"] for run in realtime} == {"failed"}
    assert "changes[0].records[3].SystemModstamp" in realtime[0]["error"]


BAD_RECORDS: list[tuple[dict[str, Any], str]] = [
    ({"Id": "003x"}, "Id"),
    ({"Id": "0035g0000000001AAAB"}, "Id"),  # 19 characters
    ({"Id": "0035g00000-0001AAA"}, "Id"),
    ({"Id": None}, "Id"),
    ({"SystemModstamp": "zzzz"}, "SystemModstamp"),
    ({"SystemModstamp": "2026-11-28"}, "SystemModstamp"),
    ({"SystemModstamp": "2026-11-28T10:00:00"}, "SystemModstamp"),  # no offset
    ({"SystemModstamp": "2026-02-30T10:00:00.000+0000"}, "SystemModstamp"),
    ({"SystemModstamp": 1764324000}, "SystemModstamp"),
    ({"AccountId": "x" * 100}, "AccountId"),
    ({"OwnerId": 5}, "OwnerId"),
    ({"Email": "a" * 400}, "Email"),
    ({"Email": ["a@b.example"]}, "Email"),
    ({"bad name": 1}, "bad name"),
    ({"1st": 1}, "1st"),
    ({"F" * 101: 1}, "F" * 100),
    ({"Description": "x" * 131_073}, "Description"),
    ({"Title": ["a", "b"]}, "Title"),
    ({"MailingAddress": {"city": {"nested": True}}}, "MailingAddress"),
]


@pytest.mark.parametrize(("fields", "where"), BAD_RECORDS, ids=[w for _, w in BAD_RECORDS])
def test_malformed_values_are_refused_by_name(world: World, fields: dict[str, Any],
                                             where: str) -> None:
    token = _token(world)
    r = _post(world, token, _update(_person(7), _contact(STAMP, **fields)))
    assert r.status_code == 422, r.text[:300]
    assert r.json()["field"] == f"changes[0].records[1].{where}"
    assert r.json()["applied"] == 1
    assert _lookup(world, "jane@globex.example") == []


def test_salesforce_values_are_accepted(world: World) -> None:
    token = _token(world)
    record = _contact(STAMP, Description="x" * 131_072, NumberOfEmployees=12, Amount=1.5,
                      HasOptedOutOfEmail=True, AccountId=None, OwnerId="0055g0000000001",
                      MailingAddress={"city": "Paris", "latitude": 48.85, "street": None},
                      Custom_Field__c="v", ns__Other__c=None)
    r = _post(world, token, _update(record))
    assert r.status_code == 200 and r.json() == {"applied": 1, "ignored": 0}
    # Records of objects the mirror does not keep are not judged (nor stored).
    other = _doc([{"object": "Campaign", "operation": "insert", "records": [{"Id": "x"}]}])
    assert _post(world, token, other).json() == {"applied": 0, "ignored": 1}


@pytest.mark.parametrize("stamp", ["2026-11-28T10:00:00.000Z", "2026-11-28T10:00:00Z",
                                   "2026-11-28T10:00:00.000+00:00",
                                   "2026-11-28T11:00:00.000+0100"])
def test_modstamps_are_compared_as_moments(world: World, stamp: str) -> None:
    """Each of these is the same moment as the copy held, written differently: not newer.
    (As text, "…Z" and "11:00…+0100" sort after "…10:00:00.000+0000" and would win.)"""
    token = _token(world)
    assert _post(world, token, _update(_contact(STAMP, Title="CEO"))).json()["applied"] == 1
    same = _post(world, token, _update(_contact(stamp, Title="Intern")))
    assert same.status_code == 200 and same.json()["applied"] == 0
    later = stamp.replace("10:00:00", "10:00:01").replace("11:00:00", "11:00:01")
    assert _post(world, token, _update(_contact(later, Title="CFO"))).json()["applied"] == 1
    (match,) = _lookup(world, "jane@globex.example")
    assert match["fields"]["Title"] == "CFO"


@pytest.mark.parametrize(("change", "where"), [
    ({"delivery_id": "d" * 101}, "delivery_id"),
    ({"delivery_id": ""}, "delivery_id"),
    ({"org_id": "00D5g0000000001AA-"}, "org_id"),
    ({"org_id": "x" * 1000}, "org_id"),
    ({"committed_at": "yesterday"}, "committed_at"),
    ({"changes": [{"object": "C" * 81, "operation": "insert", "records": []}]},
     "changes[0].object"),
    ({"changes": [{"object": "Contact", "operation": "insert", "records": [[1]]}]},
     "changes[0].records[0]"),
])
def test_a_bad_envelope_refuses_the_document(world: World, change: dict[str, Any],
                                            where: str) -> None:
    token = _token(world)
    doc = {**_update(_contact(STAMP)), **change}
    r = _post(world, token, doc)
    assert r.status_code == 422 and r.json()["field"] == where, r.text[:300]
    assert _lookup(world, "jane@globex.example") == []


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59.000+0000",
                                   "0001-01-01T00:00:00.000+1400",
                                   "1999-12-31T23:59:59.000+0000"])
def test_a_modstamp_outside_the_window_is_refused_and_pins_nothing(world: World,
                                                                   stamp: str) -> None:
    """A datetime-shaped stamp far in the future pinned the record as "zzzz" did."""
    token = _token(world)
    r = _post(world, token, _update(_contact(stamp, Title="Forged")))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "changes[0].records[0].SystemModstamp"
    detail = r.json()["detail"]  # the year-1 one has no UTC time: not a datetime at all
    assert "must be from 2000-01-01" in detail or "not a Salesforce datetime" in detail
    genuine = _post(world, token, _update(_contact("2026-11-28T10:00:05.000+0000", Title="CEO")))
    assert genuine.status_code == 200 and genuine.json()["applied"] == 1
    (match,) = _lookup(world, "jane@globex.example")
    assert match["fields"]["Title"] == "CEO"

"""Quota, injected faults and usage reporting against sfemu."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Sfemu
from tests.tether.salesforce.conftest import Connect, paths, ssl_context
from tether.salesforce import ErrorKind, MemoryUsageLedger, SalesforceError

pytestmark = pytest.mark.anyio


def _faults(sfemu: Sfemu, org: dict[str, str], **spec: object) -> None:
    r = sfemu.admin("POST", f"/orgs/{org['name']}/faults", json=spec)
    assert r.status_code == 200, r.text


def _usage(sfemu: Sfemu, org: dict[str, str]) -> dict[str, int]:
    body = sfemu.admin("GET", f"/orgs/{org['name']}/api-usage").json()
    return {"total": body["total"], "today": body["today"]}


async def test_request_limit_exceeded_is_quota_and_not_retried(
        connect: Connect, sfemu: Sfemu, org: dict[str, str], sent: list[httpx.Request]) -> None:
    sf = await connect(max_retries=3)
    await sf.limits()
    r = sfemu.admin("PATCH", f"/orgs/{org['name']}", json={"daily_limit": 2})
    assert r.status_code == 200
    await sf.limits()
    sent.clear()
    with pytest.raises(SalesforceError) as caught:
        await sf.create("Contact", {"LastName": "Over"})
    assert caught.value.error_code == "REQUEST_LIMIT_EXCEEDED"
    assert caught.value.kind is ErrorKind.QUOTA and caught.value.status == 403
    assert len(sent) == 1


async def test_unavailable_is_retried_then_transient(connect: Connect, sfemu: Sfemu,
                                                     org: dict[str, str],
                                                     sent: list[httpx.Request]) -> None:
    sf = await connect(max_retries=3)
    _faults(sfemu, org, unavailable_rate=1.0)
    sent.clear()
    with pytest.raises(SalesforceError) as caught:
        await sf.create("Contact", {"LastName": "Never"})
    assert (caught.value.status, caught.value.error_code) == (503, "SERVER_UNAVAILABLE")
    assert caught.value.kind is ErrorKind.TRANSIENT and not caught.value.ambiguous
    assert paths(sent) == ["/services/data/v59.0/sobjects/Contact"] * 4  # 1 + 3 retries


async def test_flaky_org_succeeds_with_retries(connect: Connect, sfemu: Sfemu,
                                               org: dict[str, str],
                                               sent: list[httpx.Request]) -> None:
    sf = await connect(max_retries=6)
    _faults(sfemu, org, unavailable_rate=0.5, seed=3)
    sent.clear()
    ids = [await sf.create("Contact", {"LastName": f"Flaky {i}"}) for i in range(8)]
    records = [r async for r in sf.query("SELECT Id FROM Contact")]
    assert sorted(r["Id"] for r in records) == sorted(ids)  # each created exactly once
    assert len(sent) > len(ids) + 1  # some calls took more than one try


async def test_timeout_on_create_is_ambiguous_and_not_retried(
        connect: Connect, sfemu: Sfemu, org: dict[str, str], sent: list[httpx.Request]
) -> None:
    hooks = {"request": [lambda r: _append(sent, r)]}
    async with httpx.AsyncClient(verify=ssl_context(sfemu), timeout=0.5,
                                 event_hooks=hooks) as slow:
        sf = await connect(http=slow, max_retries=3)
        _faults(sfemu, org, timeout_rate=1.0, timeout_seconds=2)
        sent.clear()
        with pytest.raises(SalesforceError) as caught:
            await sf.create("Contact", {"LastName": "Maybe"})
        assert caught.value.ambiguous and caught.value.kind is ErrorKind.TRANSIENT
        assert caught.value.error_code == "TIMEOUT" and caught.value.status == 0
        assert len(sent) == 1
        # It was carried out: the caller reconciles instead of creating it twice.
        found = sfemu.admin("GET", f"/orgs/{org['name']}/query",
                            params={"q": "SELECT Id FROM Contact WHERE LastName = 'Maybe'"})
        assert found.json()["totalSize"] == 1
        # A read that times out is simply tried again.
        sent.clear()
        sf.max_retries = 1
        with pytest.raises(SalesforceError) as read:
            await sf.limits()
        assert read.value.error_code == "TIMEOUT" and len(sent) == 2


async def _append(sent: list[httpx.Request], request: httpx.Request) -> None:
    sent.append(request)


async def test_usage_is_reported_from_every_counted_call(connect: Connect, sfemu: Sfemu,
                                                         org: dict[str, str]) -> None:
    ledger = MemoryUsageLedger()
    sf = await connect(on_usage=ledger.record)
    await sf.versions()  # not counted, no header
    assert ledger.samples == []
    contact_id = await sf.create("Contact", {"LastName": "Counted"})
    await sf.get("Contact", contact_id)
    await sf.limits()
    [r async for r in sf.query("SELECT Id FROM Contact")]
    used = [s.used for s in ledger.samples]
    assert used == sorted(used) and len(set(used)) == len(used) == 4
    assert {s.org_id for s in ledger.samples} == {org["id"]}
    server = _usage(sfemu, org)
    assert used[-1] == server["today"] == server["total"]
    latest = ledger.usage(org["id"])
    assert latest is not None and latest.max == sfemu.admin(
        "GET", f"/orgs/{org['name']}").json()["daily_limit"]
    assert sf.last_usage == latest

    seen: list[tuple[str, int, int]] = []
    plain = await connect(on_usage=lambda org_id, n, m: seen.append((org_id, n, m)))
    await plain.limits()
    assert seen == [(org["id"], used[-1] + 1, latest.max)]

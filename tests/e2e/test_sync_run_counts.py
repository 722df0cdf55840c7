"""Sync runs count what changed, not what was read: against sfemu over real HTTP, on SQLite
and PostgreSQL.  A second audit of an org where nothing changed reads every record and
changes none, and so does an interval sync; after one edit, each changes one record."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Tether
from tests.e2e.test_salesforce_sync import _act


def _sync(tether: Tether, key: str, kind: str) -> dict[str, Any]:
    with tether.client(key) as c:
        r = c.post("/api/v1/salesforce/sync", json={"kind": kind})
    assert r.status_code == 200, r.text
    run = dict(r.json())
    assert run["outcome"] == "succeeded", run["error"]
    return run


def test_an_audit_of_an_unchanged_org_changes_nothing(tether: Tether) -> None:
    org = tether.sfemu.new_org()
    _act(tether, org["name"], "POST", "/seed", json={"accounts": 5, "contacts": 40, "seed": 3})
    _, key = tether.new_workspace("Acme", org["admin"])
    tether.connect(key, org["admin"])
    first = _sync(tether, key, "audit")
    assert first["records_read"] >= 45 and first["records_changed"] == first["records_read"], first
    again = _sync(tether, key, "audit")
    assert again["records_read"] == first["records_read"] and again["records_changed"] == 0, again
    quiet = _sync(tether, key, "interval")  # re-reads the watermark's overlap, if any
    assert quiet["records_changed"] == 0, quiet

    contact = _act(tether, org["name"], "GET", "/query", params={
        "q": "SELECT Id FROM Contact LIMIT 1"})["records"][0]
    _act(tether, org["name"], "PATCH", f"/records/Contact/{contact['Id']}",
         json={"Title": "Chief Tester"})
    edited = _sync(tether, key, "interval")
    assert edited["records_read"] >= 1 and edited["records_changed"] == 1, edited
    audited = _sync(tether, key, "audit")
    assert audited["records_read"] == first["records_read"], audited
    assert audited["records_changed"] == 0, audited  # the interval sync has it already

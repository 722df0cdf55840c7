"""End to end over real HTTP: connect through sfemu's login page, audit, interval sync,
real-time webhook, refusals — on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

from tests.e2e.conftest import Tether


def _usage(tether: Tether, org: str) -> int:
    return int(tether.sfemu.admin("GET", f"/orgs/{org}/api-usage").json()["total"])


def _sync(tether: Tether, key: str, kind: str) -> dict[str, Any]:
    with tether.client(key) as c:
        r = c.post("/api/v1/salesforce/sync", json={"kind": kind})
    assert r.status_code == 200, r.text
    body = dict(r.json())
    assert body["outcome"] == "succeeded", body
    return body


def _lookup(tether: Tether, key: str, email: str) -> list[dict[str, Any]]:
    with tether.client(key) as c:
        r = c.get("/api/v1/salesforce/lookup", params={"email": email})
    assert r.status_code == 200, r.text
    return list(r.json()["matches"])


def _act(tether: Tether, org: str, method: str, path: str, **kw: Any) -> Any:
    r = tether.sfemu.admin(method, f"/orgs/{org}{path}", **kw)
    assert r.status_code < 300, r.text
    return r.json() if r.content else None


def test_connect_audit_interval_and_realtime(tether: Tether) -> None:
    sf = tether.sfemu
    org = sf.new_org()
    seeded = _act(tether, org["name"], "POST", "/seed", json={
        "accounts": 1000, "contacts": 10_000, "leads": 6000, "opportunities": 1500, "seed": 5})
    ws_id, key = tether.new_workspace("Acme", org["admin"])

    page = tether.connect(key, org["admin"])
    assert page.status_code == 200 and "Salesforce connected" in page.text, page.text
    with tether.client(key) as c:
        conn = c.get("/api/v1/salesforce/connection").json()
        assert conn["connected"] and conn["salesforce_username"] == org["admin"]
        assert conn["org_id"] == org["id"] and conn["sandbox"] is False
        assert c.get("/api/v1/workspace").json()["salesforce"]["org_id"] == org["id"]

    before = _usage(tether, org["name"])
    audit = _sync(tether, key, "audit")
    spent = _usage(tether, org["name"]) - before
    mirrored = (seeded["accounts"] + seeded["contacts"] + seeded["leads"]
                + seeded["opportunities"] + seeded["opportunity_contact_roles"])
    assert mirrored >= 20_000
    assert audit["records_changed"] >= mirrored
    assert audit["api_calls"] == spent
    # The audit costs the field metadata (composite) and, per object, one Bulk job with its
    # polling and paging: far below one call per record.
    assert spent < 8 * 8 + 2

    contact = _act(tether, org["name"], "GET", "/query", params={
        "q": "SELECT Id, Email, AccountId FROM Contact WHERE AccountId != null LIMIT 1"}
        )["records"][0]
    (match,) = _lookup(tether, key, contact["Email"].upper())
    assert match["object"] == "Contact" and match["Id"] == contact["Id"]
    assert match["account"]["Id"] == contact["AccountId"]

    # An interval sync with no changes costs one composite call per five objects (Salesforce
    # takes at most five queries in one): the 8 mirrored objects, 2 calls.
    before = _usage(tether, org["name"])
    quiet = _sync(tether, key, "interval")
    assert _usage(tether, org["name"]) - before == 2 and quiet["api_calls"] == 2

    # Changes made in Salesforce show up after the next interval sync.
    new = _act(tether, org["name"], "POST", "/records/Contact",
               json={"LastName": "Newcomer", "Email": "newcomer@globex.example"})
    lead = _act(tether, org["name"], "POST", "/records/Lead", json={
        "LastName": "Convertee", "Company": "Initech", "Email": "convertee@initech.example"})
    converted = _act(tether, org["name"], "POST", f"/leads/{lead['id']}/convert",
                     json={"create_opportunity": False})
    keep = _act(tether, org["name"], "POST", "/records/Contact",
                json={"LastName": "Keep", "Email": "twin@x.example"})
    lose = _act(tether, org["name"], "POST", "/records/Contact",
                json={"LastName": "Lose", "Email": "twin@x.example"})
    _act(tether, org["name"], "POST", "/merge", json={
        "object": "Contact", "master_id": keep["id"], "merged_ids": [lose["id"]]})
    _act(tether, org["name"], "PATCH", f"/records/Contact/{contact['Id']}",
         json={"Title": "Chief Tester"})
    gone = _act(tether, org["name"], "POST", "/records/Contact",
                json={"LastName": "Gone", "Email": "gone@x.example"})
    _act(tether, org["name"], "DELETE", f"/records/Contact/{gone['id']}")
    changed = _sync(tether, key, "interval")
    assert changed["records_changed"] >= 6 and changed["api_calls"] == 2
    assert [m["Id"] for m in _lookup(tether, key, "newcomer@globex.example")] == [new["id"]]
    (resolved,) = _lookup(tether, key, "convertee@initech.example")
    assert resolved["object"] == "Contact" and resolved["Id"] == converted["contactId"]
    assert [m["Id"] for m in _lookup(tether, key, "twin@x.example")] == [keep["id"]]
    assert _lookup(tether, key, "gone@x.example") == []
    (edited,) = _lookup(tether, key, contact["Email"])
    assert edited["fields"]["Title"] == "Chief Tester"

    # Real-time: the package posts to the webhook; the mirror has it within 2 seconds.
    with tether.client(key) as c:
        token = c.post("/api/v1/salesforce/realtime-token").json()["token"]
    _act(tether, org["name"], "POST", "/package", json={
        "webhook_url": f"{tether.base_url}/webhooks/salesforce/{ws_id}", "token": token})
    made = _act(tether, org["name"], "POST", "/records/Lead", json={
        "LastName": "Instant", "Company": "Now", "Email": "instant@now.example"})
    deadline = time.monotonic() + 2.0
    while not _lookup(tether, key, "instant@now.example"):
        assert time.monotonic() < deadline, "not mirrored within 2 seconds"
        time.sleep(0.05)
    assert _lookup(tether, key, "instant@now.example")[0]["Id"] == made["id"]
    with tether.client(key) as c:
        runs = c.get("/api/v1/salesforce/sync-runs").json()
        assert {"audit", "interval", "realtime"} <= {r["kind"] for r in runs}
        assert all(r["outcome"] == "succeeded" for r in runs)
        assert c.get("/api/v1/salesforce/usage").json()["tether_calls"] > 0


def test_deletions_and_fields(tether: Tether) -> None:
    sf = tether.sfemu
    org = sf.new_org()
    ws_id, key = tether.new_workspace("Acme", org["admin"])
    tether.connect(key, org["admin"])
    victim = _act(tether, org["name"], "POST", "/records/Contact",
                  json={"LastName": "Victim", "Email": "victim@x.example"})
    _sync(tether, key, "audit")
    assert len(_lookup(tether, key, "victim@x.example")) == 1
    _act(tether, org["name"], "DELETE", f"/records/Contact/{victim['id']}")
    before = _usage(tether, org["name"])
    deleted = _sync(tether, key, "deletions")
    assert deleted["records_changed"] == 1 and _usage(tether, org["name"]) - before == 1
    assert _lookup(tether, key, "victim@x.example") == []
    tether.sfemu.admin("PUT", f"/orgs/{org['name']}/layouts/Lead",
                       json={"required": ["LastName", "Company", "Status", "Email"]})
    fields = _sync(tether, key, "fields")  # "Get latest fields"
    assert fields["records_changed"] == 8 and fields["api_calls"] == 1
    with tether.client(key) as c:
        lead = c.get("/api/v1/salesforce/fields/Lead").json()
        assert lead["layout_required"] == ["LastName", "Company", "Status", "Email"]
        assert {"Email", "Company"} <= {f["name"] for f in lead["fields"]}
        assert c.get("/api/v1/salesforce/fields/Nope__c").status_code == 404

    # A write that found a record gone flags its object: the next interval re-audits it.
    from tether.store.db import make_engine, session_factory
    from tether.sync.pull import flag_inconsistency
    engine = make_engine(tether.settings.effective_database_url)
    with session_factory(engine)() as db:
        flag_inconsistency(db, ws_id, "Contact")
        db.commit()
    engine.dispose()
    before = _usage(tether, org["name"])
    healed = _sync(tether, key, "interval")
    # One Bulk job (create, poll, results, delete) for Contact, and the composite call.
    assert healed["api_calls"] == _usage(tether, org["name"]) - before
    assert 3 <= healed["api_calls"] <= 8


def test_sandbox_choice_lands_in_the_sandbox(tether: Tether) -> None:
    prod = tether.sfemu.new_org()
    sandbox = tether.sfemu.new_org(sandbox_of=prod["name"])
    _, key = tether.new_workspace("Sandboxed", sandbox["admin"])
    page = tether.connect(key, sandbox["admin"], sandbox=True)
    assert "Salesforce connected" in page.text and "sandbox org" in page.text
    with tether.client(key) as c:
        conn = c.get("/api/v1/salesforce/connection").json()
    assert conn["org_id"] == sandbox["id"] and conn["sandbox"] is True
    # The same user on the production host cannot even log in.
    refused = tether.connect(key, sandbox["admin"], sandbox=False)
    assert "check your username and password" in refused.text


def test_refusals_name_the_problem(tether: Tether) -> None:
    sf = tether.sfemu
    pro = sf.new_org(edition="Professional")
    _, key = tether.new_workspace("Pro", pro["admin"])
    page = tether.connect(key, pro["admin"])
    assert page.status_code == 422
    assert "no API access" in page.text and "Enterprise, Unlimited, Developer" in page.text
    with tether.client(key) as c:
        assert c.get("/api/v1/salesforce/connection").json() == {"connected": False}

    org = sf.new_org()
    sf.admin("PUT", f"/orgs/{org['name']}/profiles/Standard User",
             json={"objects": {"Account": "R", "Contact": "CRE", "Lead": "R",
                               "Opportunity": "CRE", "Task": "CRE", "Event": "CRE",
                               "User": "R"}})
    ws_id, admin_key = tether.new_workspace("Perms", org["admin"])
    rep_key = tether.add_member(ws_id, org["rep"])
    page = tether.connect(rep_key, org["rep"])
    assert page.status_code == 422
    assert "create and edit on Accounts" in page.text and "create and edit on Leads" in page.text

    # A member of this workspace signing in to another org is refused.
    assert "Salesforce connected" in tether.connect(admin_key, org["admin"]).text
    other = sf.new_org()
    member_key = tether.add_member(ws_id, "someone@elsewhere.example")
    page = tether.connect(member_key, other["admin"])
    assert page.status_code == 422 and "connected to Salesforce org" in page.text

    # A forged or replayed state is refused.
    with tether.client() as c:
        forged = c.get("/oauth/salesforce/callback", params={"state": "x", "code": "y"})
    assert forged.status_code == 422 and "state mismatch" in forged.text

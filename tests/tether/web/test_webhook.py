"""The real-time webhook: token, validation, idempotent newer-wins application; the lookup."""

from __future__ import annotations

from typing import Any

from tests.tether.web.conftest import World

ORG = "00D5g0000000001AAA"


def _doc(changes: list[dict[str, Any]], org: str = ORG) -> dict[str, Any]:
    return {"schema": "tether.realtime.v1", "delivery_id": "d1", "org_id": org,
            "committed_at": "2026-11-28T10:00:00.000+0000", "changes": changes}


def _contact(stamp: str, **fields: Any) -> dict[str, Any]:
    return {"Id": "0035g0000000001AAA", "SystemModstamp": stamp, "LastName": "Doe",
            "Email": "Jane@Globex.example", "AccountId": "0015g0000000001AAA",
            "IsDeleted": False, **fields}


def _token(world: World) -> str:
    r = world.client.post("/api/v1/salesforce/realtime-token", headers=world.as_admin())
    assert r.status_code == 201
    return str(r.json()["token"])


def _post(world: World, token: str, body: Any) -> Any:
    return world.client.post(f"/webhooks/salesforce/{world.workspace_id}", json=body,
                             headers={"X-Tether-Token": token})


def _lookup(world: World, email: str) -> list[dict[str, Any]]:
    r = world.client.get("/api/v1/salesforce/lookup", params={"email": email},
                         headers=world.as_member())
    assert r.status_code == 200
    return list(r.json()["matches"])


def test_wrong_token_applies_nothing(world: World) -> None:
    body = _doc([{"object": "Contact", "operation": "insert",
                  "records": [_contact("2026-11-28T10:00:00.000+0000")]}])
    assert _post(world, "nope", body).status_code == 401  # no token created yet
    token = _token(world)
    assert _post(world, token + "x", body).status_code == 401
    assert world.client.post(f"/webhooks/salesforce/{world.workspace_id}",
                             json=body).status_code == 401
    assert _post(world, token, body).status_code == 200
    assert len(_lookup(world, "jane@globex.example")) == 1
    # A revoked token stops working.
    world.client.delete("/api/v1/salesforce/realtime-token", headers=world.as_admin())
    assert _post(world, token, body).status_code == 401


def test_malformed_payloads_are_refused(world: World) -> None:
    token = _token(world)
    for body in ({"schema": "other"}, _doc([{"object": "Contact", "operation": "merge",
                                               "records": []}]),
                 _doc([{"object": "Contact", "operation": "insert",
                        "records": [{"Id": "003x"}]}]), [1, 2]):
        r = _post(world, token, body)
        assert r.status_code == 422, body
    bad_json = world.client.post(f"/webhooks/salesforce/{world.workspace_id}",
                                 content=b"{not json", headers={"X-Tether-Token": token})
    assert bad_json.status_code == 422
    assert _lookup(world, "jane@globex.example") == []


def test_newer_wins_and_repeats_change_nothing(world: World) -> None:
    token = _token(world)
    newer = _doc([{"object": "Contact", "operation": "update",
                   "records": [_contact("2026-11-28T10:00:05.000+0000", Title="CEO")]}])
    older = _doc([{"object": "Contact", "operation": "update",
                   "records": [_contact("2026-11-28T10:00:01.000+0000", Title="Intern")]}])
    assert _post(world, token, newer).json()["applied"] == 1
    assert _post(world, token, older).json()["applied"] == 0  # late delivery
    assert _post(world, token, newer).json()["applied"] == 0  # repeated delivery
    (match,) = _lookup(world, "JANE@globex.example")
    assert match["fields"]["Title"] == "CEO"
    deleted = _doc([{"object": "Contact", "operation": "delete",
                     "records": [_contact("2026-11-28T10:00:09.000+0000")]}])
    _post(world, token, deleted)
    assert _lookup(world, "jane@globex.example") == []
    undeleted = _doc([{"object": "Contact", "operation": "undelete",
                       "records": [_contact("2026-11-28T10:00:10.000+0000")]}])
    _post(world, token, undeleted)
    assert len(_lookup(world, "jane@globex.example")) == 1


def test_lookup_resolves_converted_leads_and_related_records(world: World) -> None:
    token = _token(world)
    stamp = "2026-11-28T10:00:00.000+0000"
    _post(world, token, _doc([
        {"object": "Account", "operation": "insert", "records": [
            {"Id": "0015g0000000001AAA", "SystemModstamp": stamp, "Name": "Globex"}]},
        {"object": "Contact", "operation": "insert", "records": [_contact(stamp)]},
        {"object": "Opportunity", "operation": "insert", "records": [
            {"Id": "0065g0000000001AAA", "SystemModstamp": stamp, "Name": "Big deal",
             "AccountId": "0015g0000000001AAA", "IsClosed": False},
            {"Id": "0065g0000000002AAA", "SystemModstamp": stamp, "Name": "Elsewhere",
             "AccountId": "0015g0000000009AAA", "IsClosed": False}]},
        {"object": "OpportunityContactRole", "operation": "insert", "records": [
            {"Id": "00K5g0000000001AAA", "SystemModstamp": stamp,
             "OpportunityId": "0065g0000000002AAA", "ContactId": "0035g0000000001AAA"}]},
        {"object": "Lead", "operation": "insert", "records": [
            {"Id": "00Q5g0000000001AAA", "SystemModstamp": stamp, "LastName": "Doe",
             "Email": "jane@globex.example", "IsConverted": True,
             "ConvertedContactId": "0035g0000000001AAA"},
            {"Id": "00Q5g0000000002AAA", "SystemModstamp": stamp, "LastName": "Other",
             "Email": "lead@initech.example", "IsConverted": False}]},
    ]))
    (match,) = _lookup(world, "jane@globex.example")
    assert match["object"] == "Contact" and match["account"]["Name"] == "Globex"
    opps = {o["Name"]: o["ContactRole"] for o in match["opportunities"]}
    assert opps == {"Big deal": False, "Elsewhere": True}
    (lead,) = _lookup(world, "lead@initech.example")
    assert lead["object"] == "Lead" and lead["account"] is None


def test_other_org_is_refused(world: World) -> None:
    from tether.store.db import make_engine, session_factory
    from tether.store.models import Workspace
    engine = make_engine(world.url)
    with session_factory(engine)() as db:
        ws = db.get(Workspace, world.workspace_id)
        assert ws is not None
        ws.salesforce_org_id = ORG
        db.commit()
    engine.dispose()
    token = _token(world)
    body = _doc([{"object": "Contact", "operation": "insert",
                  "records": [_contact("2026-11-28T10:00:00.000+0000")]}],
                org="00D5g0000000002AAA")
    r = _post(world, token, body)
    assert r.status_code == 422 and "not this workspace's org" in r.json()["detail"]


def test_bulk_and_row_paths_store_the_same_columns(migrated_url: str) -> None:
    """The audit's inlined bulk path and the per-row path write identical key columns."""
    from tether.services import workspaces as ws
    from tether.store.db import make_engine, session_factory
    from tether.store.models import MirrorRecord
    from tether.sync import mirror
    engine = make_engine(migrated_url)
    records = [
        {"Id": "0035g0000000001AAA", "SystemModstamp": "2026-11-28T10:00:00.000+0000",
         "Email": " Jane@Globex.example ", "AccountId": "0015g0000000001AAA",
         "OwnerId": "0055g0000000001AAA", "IsDeleted": False},
        {"Id": "00T5g0000000001AAA", "SystemModstamp": "2026-11-28T10:00:00.000+0000",
         "WhoId": "0035g0000000001AAA", "IsDeleted": True, "MasterRecordId": None},
        {"Id": "00K5g0000000001AAA", "SystemModstamp": "2026-11-28T10:00:00.000+0000",
         "ContactId": "0035g0000000001AAA", "OpportunityId": "0065g0000000001AAA"},
        {"Id": "00Q5g0000000001AAA", "SystemModstamp": "2026-11-28T10:00:00.000+0000",
         "ConvertedContactId": "0035g0000000001AAA", "Email": ""}]
    columns = ("sobject", "system_modstamp", "is_deleted", "email_lower", "account_id",
               "contact_id", "opportunity_id", "owner_id", "converted_contact_id",
               "master_record_id", "data")
    stored = []
    with session_factory(engine)() as db:
        for count in (True, False):
            actor = ws.create_workspace(db, name=f"W{count}", admin_email=f"a{count}@x.example",
                                        admin_password=None)
            mirror.upsert(db, actor.workspace_id, "Thing", records, count=count)
            db.commit()
            rows = db.query(MirrorRecord).filter_by(workspace_id=actor.workspace_id).order_by(
                MirrorRecord.sf_id).all()
            stored.append([tuple(getattr(r, c) for c in columns) for r in rows])
    engine.dispose()
    assert stored[0] == stored[1] and len(stored[0]) == 4
    assert stored[0][0][3] == "jane@globex.example"

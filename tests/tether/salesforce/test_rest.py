"""REST against sfemu: metadata, CRUD, upsert, query paging, getUpdated/getDeleted, composite,
sObject Collections."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from tests.conftest import Sfemu
from tests.tether.salesforce.conftest import Connect, paths
from tether.salesforce import CompositeSubrequest, ErrorKind, SalesforceError

pytestmark = pytest.mark.anyio


def _ext_field(sfemu: Sfemu, org: dict[str, str]) -> None:
    r = sfemu.admin("POST", f"/orgs/{org['name']}/objects/Contact/fields", json={
        "name": "Ext__c", "type": "string", "length": 40, "externalId": True, "unique": True})
    assert r.status_code < 300, r.text


async def test_metadata(connect: Connect) -> None:
    sf = await connect()
    versions = await sf.versions()
    assert {"version": "59.0", "url": "/services/data/v59.0"}.items() <= versions[9].items()
    limits = await sf.limits()
    assert limits["DailyApiRequests"]["Max"] > 0
    names = {o["name"] for o in (await sf.describe_global())["sobjects"]}
    assert {"Contact", "Lead", "Account", "Task"} <= names
    fields = {f["name"]: f for f in (await sf.describe("Contact"))["fields"]}
    assert fields["Email"]["type"] == "email"
    layouts = await sf.describe_layouts("Contact")
    items = [i for s in layouts["layouts"][0]["editLayoutSections"] for r in s["layoutRows"]
             for i in r["layoutItems"]]
    assert any(i["required"] and i["layoutComponents"][0]["value"] == "LastName" for i in items)
    with pytest.raises(SalesforceError) as caught:
        await sf.describe("NoSuchThing__c")
    assert caught.value.error_code == "INVALID_TYPE" and caught.value.kind is ErrorKind.PERMANENT


async def test_crud(connect: Connect) -> None:
    sf = await connect()
    contact_id = await sf.create("Contact", {"LastName": "Lovelace", "Email": "ada@x.example"})
    record = await sf.get("Contact", contact_id, fields=["LastName", "Email"])
    assert (record["LastName"], record["Email"]) == ("Lovelace", "ada@x.example")
    await sf.update("Contact", contact_id, {"FirstName": "Ada"})
    assert (await sf.get("Contact", contact_id))["FirstName"] == "Ada"
    await sf.delete("Contact", contact_id)
    with pytest.raises(SalesforceError) as missing:
        await sf.get("Contact", contact_id)
    assert (missing.value.status, missing.value.error_code) == (404, "NOT_FOUND")
    with pytest.raises(SalesforceError) as gone:
        await sf.update("Contact", contact_id, {"FirstName": "Ada"})
    assert gone.value.error_code == "ENTITY_IS_DELETED" and gone.value.record_gone


@pytest.mark.parametrize(("fields", "code"), [
    ({"FirstName": "x"}, "REQUIRED_FIELD_MISSING"),
    ({"LastName": "x", "Nope__c": 1}, "INVALID_FIELD"),
    ({"LastName": "x", "Email": "not-an-email"}, "INVALID_EMAIL_ADDRESS"),
    ({"LastName": "x" * 81}, "STRING_TOO_LONG"),
])
async def test_create_errors_are_permanent(connect: Connect, sent: list[httpx.Request],
                                           fields: dict[str, object], code: str) -> None:
    sf = await connect()
    sent.clear()
    with pytest.raises(SalesforceError) as caught:
        await sf.create("Contact", fields)
    assert caught.value.error_code == code and caught.value.kind is ErrorKind.PERMANENT
    assert len(sent) == 1  # never retried


async def test_upsert_created_then_updated(connect: Connect, sfemu: Sfemu,
                                           org: dict[str, str]) -> None:
    _ext_field(sfemu, org)
    sf = await connect()
    first = await sf.upsert("Contact", "Ext__c", "a 1", {"LastName": "One"})
    assert first[1] is True
    second = await sf.upsert("Contact", "Ext__c", "a 1", {"LastName": "Uno"})
    assert second == (first[0], False)
    assert (await sf.get("Contact", first[0]))["LastName"] == "Uno"


async def test_query_follows_next_records_url(connect: Connect, sfemu: Sfemu,
                                              org: dict[str, str],
                                              sent: list[httpx.Request]) -> None:
    seeded = sfemu.admin("POST", f"/orgs/{org['name']}/seed", json={"contacts": 2500}).json()
    assert seeded["contacts"] == 2500
    sf = await connect()
    sent.clear()
    ids = [r["Id"] async for r in sf.query("SELECT Id, LastName FROM Contact", batch_size=500)]
    assert len(ids) == len(set(ids)) == 2500
    assert len(sent) == 5 and all(r.headers["Sforce-Query-Options"] == "batchSize=500"
                                  for r in sent)
    sent.clear()
    count = 0
    async for record in sf.query("SELECT Id FROM Contact"):
        assert record["attributes"]["type"] == "Contact"
        count += 1
    assert count == 2500 and len(sent) == 2  # 2,000 a page by default
    page = await sf.query_page("SELECT Id FROM Contact", batch_size=200)
    assert (page.total_size, len(page.records), page.done) == (2500, 200, False)
    assert page.next_records_url and page.next_records_url.startswith("/services/data/v59.0/")


async def test_query_all_sees_deleted_records(connect: Connect) -> None:
    sf = await connect()
    kept = await sf.create("Contact", {"LastName": "Kept"})
    gone = await sf.create("Contact", {"LastName": "Gone"})
    await sf.delete("Contact", gone)
    soql = "SELECT Id, IsDeleted FROM Contact"
    assert [r["Id"] async for r in sf.query(soql)] == [kept]
    rows = {r["Id"]: r["IsDeleted"] async for r in sf.query_all(soql)}
    assert rows == {kept: False, gone: True}
    with pytest.raises(SalesforceError) as caught:
        await sf.query_page("SELECT Id FROM")
    assert caught.value.error_code == "MALFORMED_QUERY"


async def test_get_updated_and_get_deleted(connect: Connect) -> None:
    sf = await connect()
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    changed = await sf.create("Contact", {"LastName": "Changed"})
    deleted = await sf.create("Contact", {"LastName": "Deleted"})
    await sf.delete("Contact", deleted)
    end = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    updated = await sf.get_updated("Contact", start, end)
    assert changed in updated.ids and updated.latest_date_covered.tzinfo is dt.UTC
    gone = await sf.get_deleted("Contact", start, end)
    assert [r.id for r in gone.records] == [deleted]
    assert gone.records[0].deleted_date >= start.replace(microsecond=0)
    assert gone.earliest_date_available is not None


async def test_composite_with_references(connect: Connect) -> None:
    sf = await connect()
    results = await sf.composite([
        CompositeSubrequest("POST", "sobjects/Account", "acct", {"Name": "Globex"}),
        CompositeSubrequest("POST", "sobjects/Contact", "ct",
                            {"LastName": "Simpson", "AccountId": "@{acct.id}"}),
        CompositeSubrequest("GET", "sobjects/Contact/@{ct.id}?fields=AccountId", "read"),
    ])
    assert [r.status for r in results] == [201, 201, 200]
    assert results[2].body["AccountId"] == results[0].body["id"]
    rolled = await sf.composite([
        CompositeSubrequest("POST", "sobjects/Contact", "ok", {"LastName": "Fine"}),
        CompositeSubrequest("POST", "sobjects/Contact", "bad", {"FirstName": "NoLast"}),
    ], all_or_none=True)
    errors = [r.error for r in rolled]
    assert errors[0] is not None and errors[0].kind is ErrorKind.TRANSIENT  # rolled back
    assert errors[1] is not None and errors[1].error_code == "REQUIRED_FIELD_MISSING"
    assert [r async for r in sf.query("SELECT Id FROM Contact WHERE LastName = 'Fine'")] == []
    with pytest.raises(ValueError):
        await sf.composite([CompositeSubrequest("GET", "limits", f"r{i}") for i in range(26)])


async def test_collections(connect: Connect, sfemu: Sfemu, org: dict[str, str]) -> None:
    _ext_field(sfemu, org)
    sf = await connect()
    created = await sf.collections_create([
        {"LastName": "A"}, {"FirstName": "missing last name"},
        {"attributes": {"type": "Lead"}, "LastName": "L", "Company": "Initech"}],
        sobject="Contact")
    assert [r.success for r in created] == [True, False, True]
    assert created[1].errors[0].status_code == "REQUIRED_FIELD_MISSING"
    assert created[1].error is not None and created[1].error.kind is ErrorKind.PERMANENT

    rolled = await sf.collections_create([{"LastName": "B"}, {"FirstName": "x"}],
                                         sobject="Contact", all_or_none=True)
    assert [r.success for r in rolled] == [False, False]
    assert rolled[0].errors[0].status_code == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert rolled[0].error is not None and rolled[0].error.retryable
    assert [r async for r in sf.query("SELECT Id FROM Contact WHERE LastName = 'B'")] == []

    contact_id = created[0].id
    assert contact_id is not None
    updated = await sf.collections_update([{"Id": contact_id, "FirstName": "Ann"},
                                           {"Id": contact_id[:-3] + "zzz", "FirstName": "x"}],
                                          sobject="Contact")
    assert [r.success for r in updated] == [True, False]
    assert (await sf.get("Contact", contact_id))["FirstName"] == "Ann"

    upserted = await sf.collections_upsert("Contact", "Ext__c", [
        {"Ext__c": "u1", "LastName": "U1"}, {"Ext__c": "u2", "LastName": "U2"}])
    assert [r.created for r in upserted] == [True, True]
    again = await sf.collections_upsert("Contact", "Ext__c", [{"Ext__c": "u1", "LastName": "V"}])
    assert again[0].created is False and again[0].id == upserted[0].id

    deleted = await sf.collections_delete([contact_id, contact_id])
    assert deleted[0].success and not deleted[1].success
    assert deleted[1].error is not None and deleted[1].error.record_gone
    with pytest.raises(ValueError):
        await sf.collections_create([{"LastName": str(i)} for i in range(201)], sobject="Contact")
    assert await sf.collections_delete([]) == []


async def test_a_standard_user_is_refused(connect: Connect, org: dict[str, str],
                                          sent: list[httpx.Request]) -> None:
    admin = await connect()
    account_id = await admin.create("Account", {"Name": "Keep"})
    rep = await connect(org["rep"])
    sent.clear()
    with pytest.raises(SalesforceError) as caught:
        await rep.delete("Account", account_id)
    assert caught.value.error_code == "INSUFFICIENT_ACCESS_OR_READONLY"
    assert caught.value.kind is ErrorKind.PERMANENT and paths(sent, "DELETE")

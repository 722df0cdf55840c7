"""simple-salesforce, unmodified, against a real sfemu server over HTTPS.

Every call goes through simple-salesforce's own code paths (SOAP login, REST, query cursors,
Bulk API 2.0, composite, its exception classes), so what passes here is what a third-party
Python integration would see.  Notes on what simple-salesforce 1.12 actually sends:

- ``Salesforce(...)`` has no ``scratch_url``: username/password login can only be pointed at
  sfemu through ``SalesforceLogin(..., scratch_url=BASE)``, then
  ``Salesforce(session_id=..., instance=host:port)``.
- TLS trust: simple-salesforce uses the ``requests.Session`` it is given for every call,
  Bulk 2.0 included.  ``session.verify`` alone is not enough where ``REQUESTS_CA_BUNDLE`` or
  ``CURL_CA_BUNDLE`` is set (requests lets the environment win over ``Session.verify``), so the
  session also has ``trust_env = False``.
- Bulk 2.0 helpers sleep ``wait`` seconds (default 5) before the first poll: tests pass a
  small ``wait``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import requests
from simple_salesforce import Salesforce, SalesforceLogin
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from tests.conftest import Sfemu

PASSWORD = "tether-demo"
WAIT = 0.05  # Bulk 2.0 poll delay
SEEDED_CONTACTS = 2500
# The guide's Task Subject rule (the formula as an admin types it in Setup).
SUBJECT_RULE = ('NOT(REGEX(Subject, "(Sent|Opened|Clicked|Downloaded|Replied|Meeting Confirmed|'
                'Reply) ?(\\\\(.*\\\\)?|\\\\[.*\\\\])?:.*"))')


# -- helpers ----------------------------------------------------------------------------------
def http_session(sfemu: Sfemu) -> requests.Session:
    s = requests.Session()
    s.verify = sfemu.ca_file
    s.trust_env = False  # else REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override s.verify
    return s


def soap_login(sfemu: Sfemu, username: str, *, sandbox: bool = False,
               password: str = PASSWORD) -> tuple[str, str]:
    base = sfemu.base_url + ("/test" if sandbox else "")
    return SalesforceLogin(username=username, password=password, security_token="",
                           scratch_url=base, session=http_session(sfemu))


def connect(sfemu: Sfemu, username: str, *, sandbox: bool = False) -> Salesforce:
    session_id, instance = soap_login(sfemu, username, sandbox=sandbox)
    return Salesforce(session_id=session_id, instance=instance, session=http_session(sfemu))


def error_of(exc: pytest.ExceptionInfo[Any]) -> dict[str, Any]:
    """The first error of a simple-salesforce exception's decoded body."""
    content = exc.value.content
    assert isinstance(content, list) and content, content
    first: dict[str, Any] = content[0]
    return first


def admin_ok(sfemu: Sfemu, method: str, path: str, **kw: Any) -> Any:
    r = sfemu.admin(method, path, **kw)
    assert r.status_code < 300, r.text
    return r.json() if r.content else None


def aware_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def parse_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def case_safe_suffix(id15: str) -> str:
    """The 3 characters Salesforce appends to a 15-character id (upper-case bitmask per 5)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    return "".join(alphabet[sum(1 << j for j, ch in enumerate(id15[i:i + 5]) if "A" <= ch <= "Z")]
                   for i in range(0, 15, 5))


@pytest.fixture
def org(sfemu: Sfemu) -> dict[str, str]:
    return sfemu.new_org()


@pytest.fixture
def sf(sfemu: Sfemu, org: dict[str, str]) -> Salesforce:
    return connect(sfemu, org["admin"])


@pytest.fixture(scope="module")
def seeded(sfemu: Sfemu) -> Iterator[tuple[dict[str, str], Salesforce]]:
    """One org with 2,500 seeded Contacts, shared by the read-only tests of this module."""
    org = sfemu.new_org()
    counts = admin_ok(sfemu, "POST", f"/orgs/{org['name']}/seed",
                      json={"contacts": SEEDED_CONTACTS, "seed": 7})
    assert counts["contacts"] == SEEDED_CONTACTS
    yield org, connect(sfemu, org["admin"])


# -- login ------------------------------------------------------------------------------------
def test_soap_login_gives_session_and_instance(sfemu: Sfemu, org: dict[str, str]) -> None:
    session_id, instance = soap_login(sfemu, org["admin"])
    assert instance == urlparse(sfemu.base_url).netloc  # host:port, as serverUrl says
    assert session_id.startswith(org["id"][:15] + "!")
    sf = Salesforce(session_id=session_id, instance=instance, session=http_session(sfemu))
    assert sf.base_url == f"{sfemu.base_url}/services/data/v59.0/"
    users = sf.query(f"SELECT Id, Username FROM User WHERE Username = '{org['admin']}'")
    assert users["totalSize"] == 1


def test_soap_login_wrong_password(sfemu: Sfemu, org: dict[str, str]) -> None:
    with pytest.raises(SalesforceAuthenticationFailed) as exc:
        soap_login(sfemu, org["admin"], password="not-the-password")
    assert exc.value.code == "INVALID_LOGIN"


def test_sandbox_user_logs_in_only_at_test_host(sfemu: Sfemu, org: dict[str, str]) -> None:
    sandbox = sfemu.new_org(sandbox_of=org["name"])
    with pytest.raises(SalesforceAuthenticationFailed) as exc:
        soap_login(sfemu, sandbox["admin"])
    assert exc.value.code == "INVALID_LOGIN"
    with pytest.raises(SalesforceAuthenticationFailed):
        soap_login(sfemu, org["admin"], sandbox=True)  # and the reverse

    session_id, instance = soap_login(sfemu, sandbox["admin"], sandbox=True)
    assert session_id.startswith(sandbox["id"][:15] + "!")
    sf = Salesforce(session_id=session_id, instance=instance, session=http_session(sfemu))
    me = sf.query(f"SELECT Username FROM User WHERE Username = '{sandbox['admin']}'")
    assert me["records"][0]["Username"].endswith(".sandbox")


def test_soap_login_refused_without_api(sfemu: Sfemu) -> None:
    org = sfemu.new_org(edition="Professional")
    with pytest.raises(SalesforceAuthenticationFailed) as exc:
        soap_login(sfemu, org["admin"])
    assert exc.value.code == "API_DISABLED_FOR_ORG"


def test_oauth_token_with_instance_url(sfemu: Sfemu, org: dict[str, str]) -> None:
    token = sfemu.token(org["admin"])
    sf = Salesforce(instance_url=sfemu.base_url, session_id=token,
                    session=http_session(sfemu))
    assert sf.sf_instance == urlparse(sfemu.base_url).netloc
    created = sf.Contact.create({"LastName": "Oauth"})
    assert sf.Contact.get(created["id"])["LastName"] == "Oauth"

    newest = Salesforce(instance_url=sfemu.base_url, session_id=token, version="62.0",
                        session=http_session(sfemu))
    assert newest.query("SELECT Id FROM Contact")["totalSize"] == 1
    too_old = Salesforce(instance_url=sfemu.base_url, session_id=token, version="49.0",
                         session=http_session(sfemu))
    with pytest.raises(SalesforceResourceNotFound):
        too_old.query("SELECT Id FROM Contact")


# -- CRUD -------------------------------------------------------------------------------------
def test_contact_crud(sf: Salesforce) -> None:
    created = sf.Contact.create({"LastName": "Crud", "Email": "crud@example.com"})
    assert created["success"] is True and created["errors"] == []
    cid = created["id"]
    assert len(cid) == 18 and cid.startswith("003")
    assert cid[15:] == case_safe_suffix(cid[:15])

    record = sf.Contact.get(cid)
    assert record["attributes"] == {"type": "Contact",
                                    "url": f"/services/data/v59.0/sobjects/Contact/{cid}"}
    assert record["Id"] == cid and record["Email"] == "crud@example.com"
    assert sf.Contact.get(cid[:15])["Id"] == cid  # 15-character ids are accepted

    assert sf.Contact.update(cid, {"FirstName": "Ann"}) == 204
    raw = sf.Contact.update(cid, {"Title": "CTO"}, raw_response=True)
    assert raw.status_code == 204 and raw.content == b""
    again = sf.Contact.get(cid)
    assert (again["FirstName"], again["Title"], again["Name"]) == ("Ann", "CTO", "Ann Crud")

    assert sf.Contact.delete(cid) == 204
    with pytest.raises(SalesforceResourceNotFound) as exc:
        sf.Contact.get(cid)
    assert error_of(exc)["errorCode"] == "NOT_FOUND"


def test_upsert_and_get_by_external_id(sfemu: Sfemu, org: dict[str, str],
                                       sf: Salesforce) -> None:
    admin_ok(sfemu, "POST", f"/orgs/{org['name']}/objects/Contact/fields",
             json={"name": "Ext__c", "type": "string", "externalId": True, "unique": True})
    assert sf.Contact.upsert("Ext__c/E-1", {"LastName": "First"}) == 201
    second = sf.Contact.upsert("Ext__c/E-1", {"LastName": "Second"}, raw_response=True)
    assert second.status_code == 200
    assert second.json()["created"] is False and second.json()["success"] is True

    found = sf.Contact.get_by_custom_id("Ext__c", "E-1")
    assert (found["LastName"], found["Ext__c"]) == ("Second", "E-1")
    assert found["Id"] == second.json()["id"]
    assert sf.query("SELECT Id FROM Contact WHERE Ext__c = 'E-1'")["totalSize"] == 1
    with pytest.raises(SalesforceResourceNotFound):
        sf.Contact.get_by_custom_id("Ext__c", "E-404")


def test_upsert_several_matches_is_300(sfemu: Sfemu, org: dict[str, str],
                                      sf: Salesforce) -> None:
    admin_ok(sfemu, "POST", f"/orgs/{org['name']}/objects/Contact/fields",
             json={"name": "Legacy__c", "type": "string", "externalId": True, "unique": False})
    ids = {sf.Contact.create({"LastName": f"Twin{i}", "Legacy__c": "L-7"})["id"]
           for i in range(2)}
    with pytest.raises(SalesforceMoreThanOneRecord) as exc:
        sf.Contact.upsert("Legacy__c/L-7", {"LastName": "Third"})
    assert exc.value.status == 300
    assert {url.rsplit("/", 1)[-1] for url in exc.value.content} == ids
    with pytest.raises(SalesforceMoreThanOneRecord):
        sf.Contact.get_by_custom_id("Legacy__c", "L-7")
    assert sf.query("SELECT Id FROM Contact WHERE Legacy__c = 'L-7'")["totalSize"] == 2


# -- describe ---------------------------------------------------------------------------------
def test_describe_global(sf: Salesforce) -> None:
    result = sf.describe()
    assert result["encoding"] == "UTF-8" and result["maxBatchSize"] == 200
    by_name = {o["name"]: o for o in result["sobjects"]}
    assert {"Account", "Contact", "Lead", "Opportunity", "Task", "Event"} <= set(by_name)
    contact = by_name["Contact"]
    assert contact["keyPrefix"] == "003"
    assert contact["urls"]["describe"] == "/services/data/v59.0/sobjects/Contact/describe"
    for key in ("label", "labelPlural", "custom", "queryable", "createable", "updateable",
                "deletable", "retrieveable", "searchable", "replicateable", "layoutable",
                "triggerable"):
        assert key in contact, key


def test_describe_contact_fields(sfemu: Sfemu, org: dict[str, str], sf: Salesforce) -> None:
    admin_ok(sfemu, "POST", f"/orgs/{org['name']}/objects/Contact/fields",
             json={"name": "Ext__c", "type": "string", "externalId": True, "unique": True})
    result = sf.Contact.describe()
    assert result["name"] == "Contact" and result["keyPrefix"] == "003"
    fields = {f["name"]: f for f in result["fields"]}
    keys = {"name", "label", "type", "length", "nillable", "createable", "updateable",
            "defaultedOnCreate", "custom", "externalId", "idLookup", "unique", "referenceTo",
            "relationshipName", "picklistValues", "calculated", "filterable", "sortable",
            "soapType"}
    for field in fields.values():
        assert keys <= set(field), (field["name"], keys - set(field))
    assert fields["Id"]["type"] == "id"
    assert fields["Email"]["type"] == "email"
    assert fields["LastName"]["nillable"] is False and fields["LastName"]["createable"]
    account = fields["AccountId"]
    assert (account["type"], account["referenceTo"], account["relationshipName"]) == (
        "reference", ["Account"], "Account")
    ext = fields["Ext__c"]
    assert (ext["custom"], ext["externalId"], ext["unique"]) == (True, True, True)

    basic = sf.Contact.metadata()
    assert basic["objectDescribe"]["name"] == "Contact"
    children = {r["relationshipName"] for r in sf.Account.describe()["childRelationships"]}
    assert "Contacts" in children


def test_describe_layouts_resource(sf: Salesforce) -> None:
    layouts = sf.restful("sobjects/Contact/describe/layouts/")
    section = layouts["layouts"][0]["editLayoutSections"][0]
    items = [item for row in section["layoutRows"] for item in row["layoutItems"]]
    last_name = next(i for i in items if i["layoutComponents"][0]["value"] == "LastName")
    assert last_name["required"] is True


def test_describe_layout_for_record_type(sf: Salesforce) -> None:
    # SFType.describe_layout GETs sobjects/Contact/describe/layouts/{recordTypeId}: one layout.
    layout = sf.Contact.describe_layout("012000000000000AAA")  # the master record type
    items = [item for section in layout["editLayoutSections"]
             for row in section["layoutRows"] for item in row["layoutItems"]]
    required = {i["layoutComponents"][0]["value"] for i in items if i["required"]}
    assert "LastName" in required


# -- getUpdated / getDeleted, limits and usage ------------------------------------------------
def test_updated_and_deleted(sf: Salesforce) -> None:
    kept = sf.Contact.create({"LastName": "Kept"})["id"]
    gone = sf.Contact.create({"LastName": "Gone"})["id"]
    sf.Contact.update(kept, {"Title": "Changed"})
    sf.Contact.delete(gone)
    # An offset other than +00:00, which simple-salesforce percent-encodes as %2B05%3A30.
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    start = aware_now().astimezone(ist) - dt.timedelta(minutes=10)
    end = aware_now().astimezone(ist) + dt.timedelta(minutes=1)

    updated = sf.Contact.updated(start, end)
    assert kept in updated["ids"]
    assert "latestDateCovered" in updated
    deleted = sf.Contact.deleted(start, end)
    assert [d["id"] for d in deleted["deletedRecords"]] == [gone]
    assert deleted["deletedRecords"][0]["deletedDate"].endswith("+0000")
    assert {"earliestDateAvailable", "latestDateCovered"} <= set(deleted)

    # Older simple-salesforce releases (and hand-built URLs) send a raw '+' in the offset.
    fmt = "%Y-%m-%dT%H:%M:%S+00:00"
    raw_start = (aware_now() - dt.timedelta(minutes=10)).strftime(fmt)
    raw_end = (aware_now() + dt.timedelta(minutes=1)).strftime(fmt)
    raw = sf.restful(f"sobjects/Contact/deleted/?start={raw_start}&end={raw_end}")
    assert [d["id"] for d in raw["deletedRecords"]] == [gone]


def test_updated_right_after_a_large_seed(sfemu: Sfemu, org: dict[str, str],
                                          sf: Salesforce) -> None:
    # Regression: stamps were once kept strictly increasing server-wide (+1 ms per write), so
    # seeding thousands of rows pushed every later SystemModstamp into the future and a change
    # made just now fell outside its own getUpdated window (whose end is clamped to now).
    admin_ok(sfemu, "POST", f"/orgs/{org['name']}/seed", json={"contacts": 3000})
    fresh = sf.Contact.create({"LastName": "Fresh"})["id"]
    stamp = sf.Contact.get(fresh)["SystemModstamp"]
    updated = sf.Contact.updated(aware_now() - dt.timedelta(minutes=10),
                                 aware_now() + dt.timedelta(minutes=1))
    assert fresh in updated["ids"]
    assert stamp <= updated["latestDateCovered"]


def test_limits_and_api_usage(sfemu: Sfemu, org: dict[str, str], sf: Salesforce) -> None:
    assert sf.api_usage == {}
    limits = sf.limits()
    daily = limits["DailyApiRequests"]
    usage = sf.api_usage["api-usage"]  # parsed from Sforce-Limit-Info
    assert usage.total == daily["Max"] == 100_000
    assert usage.used >= 1
    assert daily["Max"] - daily["Remaining"] in (usage.used - 1, usage.used)
    assert "DailyBulkApiBatches" in limits

    sf.query("SELECT Id FROM Contact")
    after = sf.api_usage["api-usage"]
    assert after.used == usage.used + 1
    counted = admin_ok(sfemu, "GET", f"/orgs/{org['name']}/api-usage")
    assert counted["today"] == after.used  # the admin API itself is not counted

    contact = sf.Contact  # SFType keeps its own api_usage
    contact.create({"LastName": "Usage"})
    assert contact.api_usage["api-usage"].used == after.used + 1


# -- SOQL through simple-salesforce -----------------------------------------------------------
def test_query_pages_over_2000_rows(seeded: tuple[dict[str, str], Salesforce]) -> None:
    _, sf = seeded
    first = sf.query("SELECT Id FROM Contact")
    assert first["totalSize"] == SEEDED_CONTACTS
    assert first["done"] is False and len(first["records"]) == 2000
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/")
    rest = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert rest["done"] is True and len(rest["records"]) == SEEDED_CONTACTS - 2000
    assert "nextRecordsUrl" not in rest or rest["nextRecordsUrl"] is None
    ids = [r["Id"] for r in first["records"] + rest["records"]]
    assert len(set(ids)) == SEEDED_CONTACTS

    small = sf.query("SELECT Id FROM Contact", headers={"Sforce-Query-Options": "batchSize=500"})
    assert len(small["records"]) == 500 and small["done"] is False


def test_query_all_collects_every_row(seeded: tuple[dict[str, str], Salesforce]) -> None:
    _, sf = seeded
    result = sf.query_all("SELECT Id, Email FROM Contact")
    assert result["totalSize"] == SEEDED_CONTACTS
    assert len({r["Id"] for r in result["records"]}) == SEEDED_CONTACTS
    # queryAll pages through queryAll/{cursor} the same way.
    with_deleted = sf.query_all("SELECT Id FROM Contact", include_deleted=True)
    assert len({r["Id"] for r in with_deleted["records"]}) == SEEDED_CONTACTS
    # A sorted query cannot resume after the last Id: its cursor must still page correctly.
    ordered = sf.query_all("SELECT Id, Email FROM Contact ORDER BY Email DESC")["records"]
    assert len({r["Id"] for r in ordered}) == SEEDED_CONTACTS
    emails = [(r["Email"] or "").lower() for r in ordered]
    assert emails == sorted(emails, reverse=True)


def test_query_all_include_deleted(sf: Salesforce) -> None:
    alive = sf.Contact.create({"LastName": "Recycle"})["id"]
    dead = sf.Contact.create({"LastName": "Recycle"})["id"]
    sf.Contact.delete(dead)
    soql = "SELECT Id, IsDeleted FROM Contact WHERE LastName = 'Recycle'"
    assert [r["Id"] for r in sf.query_all(soql)["records"]] == [alive]
    every = {r["Id"]: r["IsDeleted"] for r in sf.query_all(soql, include_deleted=True)["records"]}
    assert every == {alive: False, dead: True}


def test_parent_path_and_child_subquery(seeded: tuple[dict[str, str], Salesforce]) -> None:
    _, sf = seeded
    contact = sf.query("SELECT Id, AccountId, Account.Name FROM Contact "
                       "WHERE AccountId != null LIMIT 1")["records"][0]
    account_id = contact["AccountId"]
    assert contact["Account"]["attributes"]["type"] == "Account"
    account = sf.query("SELECT Id, Name, (SELECT Id, Email FROM Contacts) FROM Account "
                       f"WHERE Id = '{account_id}'")["records"][0]
    assert contact["Account"]["Name"] == account["Name"]
    children = account["Contacts"]
    direct = sf.query_all(f"SELECT Id FROM Contact WHERE AccountId = '{account_id}'")
    assert children["totalSize"] == direct["totalSize"] >= 1
    assert {r["Id"] for r in children["records"]} == {r["Id"] for r in direct["records"]}
    assert children["records"][0]["attributes"]["type"] == "Contact"


# -- Bulk API 2.0 -----------------------------------------------------------------------------
def test_bulk2_query_pages_csv(seeded: tuple[dict[str, str], Salesforce]) -> None:
    _, sf = seeded
    soql = "SELECT Id, Name, Account.Name, Email FROM Contact"
    pages = list(sf.bulk2.Contact.query(soql, max_records=1000, wait=WAIT))
    assert len(pages) == 3
    rows: list[dict[str, str]] = []
    for page in pages:
        assert page.splitlines()[0] == '"Id","Name","Account.Name","Email"'
        rows += parse_csv(page)
    assert len(rows) == SEEDED_CONTACTS == len({r["Id"] for r in rows})

    rest = {r["Id"]: r for r in sf.query_all(soql)["records"]}
    assert set(rest) == {r["Id"] for r in rows}
    for row in rows:
        expected = rest[row["Id"]]
        assert row["Name"] == expected["Name"]
        assert row["Email"] == (expected["Email"] or "")
        assert row["Account.Name"] == ((expected["Account"] or {}).get("Name") or "")
    # Seeded company names like "Smith, Jones and Brown" exercise the quoting.
    assert any("," in r["Account.Name"] for r in rows)


def test_bulk2_query_limit_and_order(seeded: tuple[dict[str, str], Salesforce]) -> None:
    _, sf = seeded
    # A LIMIT past the emulator's 2,000-row work chunk, with and without ORDER BY.
    plain = parse_csv("".join(sf.bulk2.Contact.query("SELECT Id FROM Contact LIMIT 2100",
                                                     wait=WAIT)))
    assert len(plain) == len({r["Id"] for r in plain}) == 2100
    soql = "SELECT Id, Email FROM Contact ORDER BY Email LIMIT 2100"
    ordered = parse_csv("".join(sf.bulk2.Contact.query(soql, wait=WAIT)))
    rest = [r["Id"] for r in sf.query_all(soql)["records"]]
    assert [r["Id"] for r in ordered] == rest and len(rest) == 2100


def test_bulk2_download_to_files(seeded: tuple[dict[str, str], Salesforce],
                                 tmp_path: Path) -> None:
    _, sf = seeded
    results = sf.bulk2.Contact.download("SELECT Id, Account.Name FROM Contact",
                                        path=str(tmp_path), max_records=1000, wait=WAIT)
    assert [r["number_of_records"] for r in results] == [1000, 1000, 500]
    assert results[-1]["locator"] == "" and all(r["locator"] for r in results[:-1])
    ids: set[str] = set()
    for result in results:
        rows = parse_csv(Path(result["file"]).read_text(encoding="utf-8"))
        assert len(rows) == result["number_of_records"]
        ids |= {r["Id"] for r in rows}
    assert len(ids) == SEEDED_CONTACTS


def test_bulk2_csv_quoting_round_trip(sf: Salesforce) -> None:
    tricky = 'O"Brien, Jr.'
    note = "line one\nline two, with comma"
    cid = sf.Contact.create({"LastName": tricky, "Description": note})["id"]
    (page,) = sf.bulk2.Contact.query("SELECT Id, LastName, Description FROM Contact",
                                     wait=WAIT)
    (row,) = parse_csv(page)
    assert row == {"Id": cid, "LastName": tricky, "Description": note}


def test_bulk2_query_all_sees_deleted(sf: Salesforce) -> None:
    cid = sf.Contact.create({"LastName": "BulkGone"})["id"]
    sf.Contact.delete(cid)
    assert parse_csv("".join(sf.bulk2.Contact.query("SELECT Id FROM Contact", wait=WAIT))) == []
    rows = parse_csv("".join(sf.bulk2.Contact.query_all("SELECT Id, IsDeleted FROM Contact",
                                                         wait=WAIT)))
    assert rows == [{"Id": cid, "IsDeleted": "true"}]


def test_bulk2_ingest_insert_update_upsert_delete(sfemu: Sfemu, org: dict[str, str],
                                                   sf: Salesforce, tmp_path: Path) -> None:
    admin_ok(sfemu, "POST", f"/orgs/{org['name']}/objects/Contact/fields",
             json={"name": "Ext__c", "type": "string", "externalId": True, "unique": True})
    bulk = sf.bulk2.Contact

    (inserted,) = bulk.insert(records=[
        {"LastName": "Bulk1", "Email": "bulk1@example.com", "Ext__c": "X1"},
        {"LastName": "Bulk, \"Two\"", "Email": "", "Ext__c": "X2"},
        {"LastName": "", "Email": "nolast@example.com", "Ext__c": "X3"},
    ], wait=WAIT)
    assert (inserted["numberRecordsProcessed"], inserted["numberRecordsFailed"],
            inserted["numberRecordsTotal"]) == (3, 1, 3)
    ok = parse_csv(bulk.get_successful_records(inserted["job_id"]))
    assert sorted(r["LastName"] for r in ok) == ["Bulk, \"Two\"", "Bulk1"]
    assert all(r["sf__Created"] == "true" and r["sf__Id"].startswith("003") for r in ok)
    (failed,) = parse_csv(bulk.get_failed_records(inserted["job_id"]))
    assert failed["sf__Error"].startswith("REQUIRED_FIELD_MISSING")
    assert failed["Email"] == "nolast@example.com"
    id_of = {r["Ext__c"]: r["sf__Id"] for r in ok}
    assert sf.Contact.get(id_of["X2"])["LastName"] == "Bulk, \"Two\""

    update_file = tmp_path / "update.csv"
    update_file.write_text(f"Id,Title\n{id_of['X1']},VP Sales\n{id_of['X2']},CFO\n",
                           encoding="utf-8")
    (updated,) = bulk.update(csv_file=str(update_file), wait=WAIT)
    assert (updated["numberRecordsProcessed"], updated["numberRecordsFailed"]) == (2, 0)
    assert sf.Contact.get(id_of["X1"])["Title"] == "VP Sales"

    (upserted,) = bulk.upsert(records=[{"Ext__c": "X1", "LastName": "Bulk1b"},
                                       {"Ext__c": "X9", "LastName": "Bulk9"}],
                              external_id_field="Ext__c", wait=WAIT)
    assert (upserted["numberRecordsProcessed"], upserted["numberRecordsFailed"]) == (2, 0)
    created = {r["Ext__c"]: r["sf__Created"]
               for r in parse_csv(bulk.get_successful_records(upserted["job_id"]))}
    assert created == {"X1": "false", "X9": "true"}
    assert sf.Contact.get_by_custom_id("Ext__c", "X1")["LastName"] == "Bulk1b"

    (deleted,) = bulk.delete(records=[{"Id": id_of["X1"]}, {"Id": id_of["X2"]}], wait=WAIT)
    assert (deleted["numberRecordsProcessed"], deleted["numberRecordsFailed"]) == (2, 0)
    with pytest.raises(SalesforceResourceNotFound):
        sf.Contact.get(id_of["X1"])
    remaining = sf.query_all("SELECT Ext__c FROM Contact")["records"]
    assert sorted(r["Ext__c"] for r in remaining) == ["X9"]


def test_bulk2_unprocessed_and_all_ingest_records(sf: Salesforce) -> None:
    # simple-salesforce asks for .../unprocessedRecords (camelCase); Salesforce documents
    # .../unprocessedrecords and answers either.
    (job,) = sf.bulk2.Contact.insert(records=[{"LastName": "Done"}, {"FirstName": "NoLast"}],
                                     wait=WAIT)
    assert parse_csv(sf.bulk2.Contact.get_unprocessed_records(job["job_id"])) == []
    every = sf.bulk2.Contact.get_all_ingest_records(job["job_id"])
    assert [r["LastName"] for r in every["successfulRecords"]] == ["Done"]
    assert [r["FirstName"] for r in every["failedRecords"]] == ["NoLast"]
    assert every["unprocessedRecords"] == []


def test_bulk2_job_id_is_a_well_formed_id(sf: Salesforce) -> None:
    for _ in range(3):  # a random hex id can happen to have no upper-case letters
        (job,) = sf.bulk2.Contact.insert(records=[{"LastName": "Job"}], wait=WAIT)
        job_id = job["job_id"]
        assert len(job_id) == 18 and job_id.startswith("750")
        assert job_id[15:] == case_safe_suffix(job_id[:15]), job_id


# -- composite --------------------------------------------------------------------------------
def test_collections_create_partial_and_all_or_none(sf: Salesforce) -> None:
    records = [{"attributes": {"type": "Contact"}, "LastName": "Coll"},
               {"attributes": {"type": "Contact"}, "FirstName": "NoLastName"}]
    rolled = sf.restful("composite/sobjects", method="POST",
                        json={"allOrNone": True, "records": records})
    assert [r["success"] for r in rolled] == [False, False]
    assert rolled[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert rolled[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert rolled[1]["errors"][0]["fields"] == ["LastName"]
    assert sf.query("SELECT Id FROM Contact WHERE LastName = 'Coll'")["totalSize"] == 0

    partial = sf.restful("composite/sobjects", method="POST",
                         json={"allOrNone": False, "records": records})
    assert [r["success"] for r in partial] == [True, False]
    kept = sf.query("SELECT Id FROM Contact WHERE LastName = 'Coll'")["records"]
    assert [r["Id"] for r in kept] == [partial[0]["id"]]

    changed = sf.restful("composite/sobjects", method="PATCH", json={"records": [
        {"attributes": {"type": "Contact"}, "id": partial[0]["id"], "Title": "Lead Dev"}]})
    assert changed[0]["success"] is True
    assert sf.Contact.get(partial[0]["id"])["Title"] == "Lead Dev"
    too_many = [{"attributes": {"type": "Contact"}, "LastName": "Many"}] * 201
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.restful("composite/sobjects", method="POST", json={"records": too_many})
    assert error_of(exc)["errorCode"] == "EXCEEDED_ID_LIMIT"
    removed = sf.restful("composite/sobjects", method="DELETE",
                         params={"ids": partial[0]["id"], "allOrNone": "false"})
    assert removed[0]["success"] is True
    assert sf.query("SELECT Id FROM Contact WHERE LastName = 'Coll'")["totalSize"] == 0


def test_composite_with_references(sf: Salesforce) -> None:
    base = "/services/data/v59.0"
    result = sf.restful("composite", method="POST", json={"allOrNone": True,
                                                          "compositeRequest": [
        {"method": "POST", "url": f"{base}/sobjects/Account", "referenceId": "acct",
         "body": {"Name": "Composite Co"}},
        {"method": "POST", "url": f"{base}/sobjects/Contact", "referenceId": "ct",
         "body": {"LastName": "Ref", "AccountId": "@{acct.id}"}},
        {"method": "GET", "url": f"{base}/sobjects/Contact/@{{ct.id}}?fields=AccountId",
         "referenceId": "check"},
    ]})
    by_ref = {r["referenceId"]: r for r in result["compositeResponse"]}
    assert [r["httpStatusCode"] for r in result["compositeResponse"]] == [201, 201, 200]
    assert by_ref["check"]["body"]["AccountId"] == by_ref["acct"]["body"]["id"]
    contact = sf.Contact.get(by_ref["ct"]["body"]["id"])
    assert contact["AccountId"] == by_ref["acct"]["body"]["id"]


def test_composite_all_or_none_rolls_back(sf: Salesforce) -> None:
    base = "/services/data/v59.0"
    result = sf.restful("composite", method="POST", json={"allOrNone": True,
                                                          "compositeRequest": [
        {"method": "POST", "url": f"{base}/sobjects/Account", "referenceId": "acct",
         "body": {"Name": "Rolled Back Co"}},
        {"method": "POST", "url": f"{base}/sobjects/Contact", "referenceId": "bad",
         "body": {"FirstName": "NoLast", "AccountId": "@{acct.id}"}},
    ]})
    by_ref = {r["referenceId"]: r for r in result["compositeResponse"]}
    assert by_ref["acct"]["httpStatusCode"] == 400
    assert by_ref["acct"]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert by_ref["bad"]["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert sf.query("SELECT Id FROM Account WHERE Name = 'Rolled Back Co'")["totalSize"] == 0


def test_composite_batch(sf: Salesforce) -> None:
    cid = sf.Contact.create({"LastName": "Batch"})["id"]
    missing = sf.Contact.create({"LastName": "Gone"})["id"]
    sf.Contact.delete(missing)
    result = sf.restful("composite/batch", method="POST", json={"batchRequests": [
        {"method": "GET", "url": f"v59.0/sobjects/Contact/{cid}"},
        {"method": "GET", "url": f"v59.0/sobjects/Contact/{missing}"},
    ]})
    assert result["hasErrors"] is True
    assert [r["statusCode"] for r in result["results"]] == [200, 404]
    assert result["results"][0]["result"]["LastName"] == "Batch"
    assert result["results"][1]["result"][0]["errorCode"] == "NOT_FOUND"

    halted = sf.restful("composite/batch", method="POST", json={"haltOnError": True,
                                                                "batchRequests": [
        {"method": "GET", "url": f"v59.0/sobjects/Contact/{missing}"},
        {"method": "GET", "url": f"v59.0/sobjects/Contact/{cid}"},
    ]})
    assert [r["statusCode"] for r in halted["results"]] == [404, 412]
    assert halted["results"][1]["result"][0]["errorCode"] == "BATCH_PROCESSING_HALTED"


# -- errors as simple-salesforce raises them --------------------------------------------------
def test_invalid_field_in_soql_and_create(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query("SELECT Id, Nope__c FROM Contact")
    assert error_of(exc)["errorCode"] == "INVALID_FIELD"
    assert "Nope__c" in error_of(exc)["message"]
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.create({"LastName": "X", "Nope__c": "y"})
    assert error_of(exc)["errorCode"] == "INVALID_FIELD"
    assert error_of(exc)["fields"] == ["Nope__c"]


def test_malformed_query(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query("SELEC Id FROM Contact")
    assert error_of(exc)["errorCode"] == "MALFORMED_QUERY"


def test_required_field_missing(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.create({"FirstName": "NoLast"})
    assert error_of(exc)["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert error_of(exc)["fields"] == ["LastName"]


def test_task_subject_validation_rule(sfemu: Sfemu, org: dict[str, str],
                                      sf: Salesforce) -> None:
    admin_ok(sfemu, "POST", f"/orgs/{org['name']}/validation-rules", json={
        "object": "Task", "name": "Tether_Subject", "errorConditionFormula": SUBJECT_RULE,
        "errorMessage": "Subject must start with what happened", "errorDisplayField": "Subject"})
    for subject in ("Sent: Hello", "Opened (2x): Pricing", "Replied [Q4]: Re: Hi",
                    "Meeting Confirmed: Demo"):
        assert sf.Task.create({"Subject": subject})["success"] is True, subject
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Task.create({"Subject": "Call"})
    error = error_of(exc)
    assert error["errorCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert error["message"] == "Subject must start with what happened"
    assert error["fields"] == ["Subject"]
    assert sf.query("SELECT Id FROM Task WHERE Subject = 'Call'")["totalSize"] == 0


def test_duplicate_rule_blocks(sfemu: Sfemu, org: dict[str, str], sf: Salesforce) -> None:
    admin_ok(sfemu, "POST", f"/orgs/{org['name']}/duplicate-rules",
             json={"object": "Contact", "field": "Email", "action": "block"})
    first = sf.Contact.create({"LastName": "Orig", "Email": "dup@example.com"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.create({"LastName": "Copy", "Email": "dup@example.com"})
    error = error_of(exc)
    assert error["errorCode"] == "DUPLICATES_DETECTED"
    matches = error["duplicateResult"]["matchResults"][0]["matchRecords"]
    assert [m["record"]["Id"] for m in matches] == [first]
    assert sf.query("SELECT Id FROM Contact WHERE Email = 'dup@example.com'")["totalSize"] == 1


def test_not_found(sf: Salesforce) -> None:
    cid = sf.Contact.create({"LastName": "Here"})["id"]
    sf.Contact.delete(cid)
    with pytest.raises(SalesforceResourceNotFound) as exc:
        sf.Contact.get(cid)
    assert exc.value.status == 404 and error_of(exc)["errorCode"] == "NOT_FOUND"
    with pytest.raises(SalesforceResourceNotFound):
        sf.restful("no-such-resource")


def test_revoked_token_is_expired_session(sfemu: Sfemu, org: dict[str, str]) -> None:
    token = sfemu.token(org["admin"])
    http = http_session(sfemu)
    sf = Salesforce(instance_url=sfemu.base_url, session_id=token, session=http)
    sf.query("SELECT Id FROM Contact")
    revoked = http.post(f"{sfemu.base_url}/services/oauth2/revoke", data={"token": token})
    assert revoked.status_code == 200
    with pytest.raises(SalesforceExpiredSession) as exc:
        sf.query("SELECT Id FROM Contact")
    assert exc.value.status == 401 and error_of(exc)["errorCode"] == "INVALID_SESSION_ID"
    with pytest.raises(SalesforceExpiredSession):
        sf.Contact.create({"LastName": "Late"})


def test_daily_limit_reached(sfemu: Sfemu, org: dict[str, str], sf: Salesforce) -> None:
    sf.query("SELECT Id FROM Contact")
    used = sf.api_usage["api-usage"].used
    admin_ok(sfemu, "PATCH", f"/orgs/{org['name']}", json={"daily_limit": used + 1})
    assert sf.limits()["DailyApiRequests"]["Max"] == used + 1  # the last call allowed
    with pytest.raises(SalesforceRefusedRequest) as exc:
        sf.query("SELECT Id FROM Contact")
    assert exc.value.status == 403 and error_of(exc)["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    with pytest.raises(SalesforceRefusedRequest):
        sf.Contact.create({"LastName": "Over"})
    admin_ok(sfemu, "PATCH", f"/orgs/{org['name']}", json={"daily_limit": 100_000})
    assert sf.query("SELECT Id FROM Contact WHERE LastName = 'Over'")["totalSize"] == 0


def test_api_disabled_for_professional_edition(sfemu: Sfemu, org: dict[str, str],
                                               sf: Salesforce) -> None:
    admin_ok(sfemu, "PATCH", f"/orgs/{org['name']}", json={"edition": "Professional"})
    with pytest.raises(SalesforceRefusedRequest) as exc:
        sf.query("SELECT Id FROM Contact")
    assert error_of(exc)["errorCode"] == "API_DISABLED_FOR_ORG"
    with pytest.raises(SalesforceRefusedRequest):
        list(sf.bulk2.Contact.query("SELECT Id FROM Contact", wait=WAIT))


def test_injected_faults(sfemu: Sfemu, org: dict[str, str], sf: Salesforce) -> None:
    faults = f"/orgs/{org['name']}/faults"
    admin_ok(sfemu, "POST", faults, json={"unavailable_rate": 1.0, "seed": 1})
    with pytest.raises(SalesforceGeneralError) as exc:
        sf.query("SELECT Id FROM Contact")
    assert exc.value.status == 503 and error_of(exc)["errorCode"] == "SERVER_UNAVAILABLE"

    admin_ok(sfemu, "POST", faults, json={"lock_rate": 1.0, "seed": 1})
    assert sf.query("SELECT Id FROM Contact")["totalSize"] == 0  # reads are never locked
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.create({"LastName": "Locked"})
    assert error_of(exc)["errorCode"] == "UNABLE_TO_LOCK_ROW"

    admin_ok(sfemu, "POST", faults, json={"exhaust_daily_limit": True})
    with pytest.raises(SalesforceRefusedRequest) as exc:
        sf.limits()
    assert error_of(exc)["errorCode"] == "REQUEST_LIMIT_EXCEEDED"

    admin_ok(sfemu, "POST", faults, json={})
    assert sf.query("SELECT Id FROM Contact WHERE LastName = 'Locked'")["totalSize"] == 0


def test_standard_user_cannot_delete_account(sfemu: Sfemu, org: dict[str, str],
                                             sf: Salesforce) -> None:
    account = sf.Account.create({"Name": "Keep Me"})["id"]
    rep = connect(sfemu, org["rep"])
    rep_account = rep.Account.create({"Name": "Rep Made"})["id"]  # create is allowed
    for target in (account, rep_account):
        with pytest.raises(SalesforceMalformedRequest) as exc:
            rep.Account.delete(target)
        assert error_of(exc)["errorCode"] == "INSUFFICIENT_ACCESS_OR_READONLY"
    assert sf.Account.get(account)["Name"] == "Keep Me"
    assert rep.Account.get(rep_account)["Name"] == "Rep Made"


# -- further simple-salesforce helpers --------------------------------------------------------
def test_is_sandbox(sfemu: Sfemu, org: dict[str, str], sf: Salesforce) -> None:
    # Salesforce.is_sandbox() runs "SELECT IsSandbox FROM Organization LIMIT 1".
    sandbox = sfemu.new_org(sandbox_of=org["name"])
    assert sf.is_sandbox() is False
    assert connect(sfemu, sandbox["admin"], sandbox=True).is_sandbox() is True
    (me,) = sf.query("SELECT Id FROM Organization")["records"]
    assert me["Id"] == org["id"]


def test_quick_search(sf: Salesforce) -> None:
    cid = sf.Contact.create({"LastName": "Searchable", "Email": "find.me@example.com"})["id"]
    found = sf.quick_search("Searchable")
    assert cid in [r["Id"] for r in found["searchRecords"]]


def test_oauth2_userinfo(org: dict[str, str], sf: Salesforce) -> None:
    info = sf.oauth2("userinfo")
    assert info["preferred_username"] == org["admin"]
    assert info["organization_id"] == org["id"]

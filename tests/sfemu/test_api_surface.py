"""Limits, faults, editions, query paging, composite, collections, getUpdated/getDeleted, bulk."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time

import httpx
import pytest

from tests.conftest import Sfemu
from tests.sfemu.rest_helpers import Rest, V


def test_limit_info_counts_every_call(sfemu: Sfemu, org: dict[str, str], admin: Rest) -> None:
    first = admin.call("GET", "limits")
    used, maximum = first.headers["Sforce-Limit-Info"].removeprefix("api-usage=").split("/")
    second = admin.call("GET", "sobjects")
    assert second.headers["Sforce-Limit-Info"] == f"api-usage={int(used) + 1}/{maximum}"
    limits = admin.call("GET", "limits").json()
    assert limits["DailyApiRequests"]["Max"] == int(maximum)
    assert limits["DailyApiRequests"]["Remaining"] == int(maximum) - int(used) - 2
    usage = sfemu.admin("GET", f"/orgs/{org['name']}/api-usage").json()
    assert usage["by_user"] == {org["admin"]: 3} and usage["total"] == 3


def test_daily_limit_answers_request_limit_exceeded(sfemu: Sfemu, org: dict[str, str],
                                                    admin: Rest) -> None:
    sfemu.admin("PATCH", f"/orgs/{org['name']}", json={"daily_limit": 2})
    assert admin.call("GET", "limits").status_code == 200
    assert admin.call("GET", "limits").status_code == 200
    r = admin.call("GET", "limits")
    assert r.status_code == 403 and admin.error(r)["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    sfemu.admin("PATCH", f"/orgs/{org['name']}", json={"daily_limit": 100})
    sfemu.admin("POST", f"/orgs/{org['name']}/faults", json={"exhaust_daily_limit": True})
    assert admin.error(admin.call("GET", "limits"))["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


def test_editions_without_api(sfemu: Sfemu) -> None:
    org = sfemu.new_org(edition="Professional")
    with Rest(sfemu, org["admin"]) as rest:
        r = rest.call("GET", "limits")
        assert r.status_code == 403
        error = rest.error(r)
        assert error["errorCode"] == "API_DISABLED_FOR_ORG" and "Enterprise" in error["message"]
    sfemu.admin("PATCH", f"/orgs/{org['name']}", json={"api_addon": True})
    with Rest(sfemu, org["admin"]) as rest:
        assert rest.call("GET", "limits").status_code == 200


def test_faults_are_injected(sfemu: Sfemu, org: dict[str, str], admin: Rest) -> None:
    sfemu.admin("POST", f"/orgs/{org['name']}/faults", json={"unavailable_rate": 1.0})
    r = admin.call("GET", "limits")
    assert r.status_code == 503 and admin.error(r)["errorCode"] == "SERVER_UNAVAILABLE"
    sfemu.admin("POST", f"/orgs/{org['name']}/faults", json={"lock_rate": 1.0})
    assert admin.call("GET", "limits").status_code == 200  # reads never lock
    r = admin.call("POST", "sobjects/Account", json={"Name": "x"})
    assert admin.error(r)["errorCode"] == "UNABLE_TO_LOCK_ROW"
    sfemu.admin("POST", f"/orgs/{org['name']}/faults", json={"unavailable_rate": 0.5, "seed": 7})
    statuses = [admin.call("GET", "limits").status_code for _ in range(40)]
    assert 5 < statuses.count(503) < 35 and statuses.count(200) == 40 - statuses.count(503)
    bad = sfemu.admin("POST", f"/orgs/{org['name']}/faults", json={"lock_rate": 2})
    assert bad.status_code == 400 and "lock_rate" in bad.text
    sfemu.admin("POST", f"/orgs/{org['name']}/faults", json={})
    assert admin.query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_timeout_fault_is_an_ambiguous_outcome(sfemu: Sfemu, org: dict[str, str],
                                               admin: Rest) -> None:
    sfemu.admin("POST", f"/orgs/{org['name']}/faults",
                json={"timeout_rate": 1.0, "timeout_seconds": 2})
    with pytest.raises(httpx.ReadTimeout):
        admin.call("POST", "sobjects/Account", json={"Name": "Maybe"}, timeout=0.5)
    sfemu.admin("POST", f"/orgs/{org['name']}/faults", json={})
    time.sleep(0.2)
    # The write happened even though the client never heard back.
    assert admin.query("SELECT Name FROM Account")["records"][0]["Name"] == "Maybe"


def test_query_paging(sfemu: Sfemu, org: dict[str, str], admin: Rest) -> None:
    sfemu.admin("POST", f"/orgs/{org['name']}/seed", json={"accounts": 5, "contacts": 450})
    r = admin.call("GET", "query", params={"q": "SELECT Id, Email FROM Contact"},
                   headers={"Sforce-Query-Options": "batchSize=200"})
    page = r.json()
    assert page["totalSize"] == 450 and page["done"] is False and len(page["records"]) == 200
    seen = [x["Id"] for x in page["records"]]
    while not page["done"]:
        assert page["nextRecordsUrl"].startswith(f"{V}/query/01g")
        page = admin.call("GET", page["nextRecordsUrl"]).json()
        seen += [x["Id"] for x in page["records"]]
    assert len(seen) == len(set(seen)) == 450
    ordered = admin.call("GET", "query",
                         params={"q": "SELECT Email FROM Contact ORDER BY Email DESC"},
                         headers={"Sforce-Query-Options": "batchSize=300"}).json()
    emails = [x["Email"] for x in ordered["records"]]
    rest = admin.call("GET", ordered["nextRecordsUrl"]).json()
    emails += [x["Email"] for x in rest["records"]]
    assert emails == sorted(emails, key=str.lower, reverse=True) and rest["done"]
    stale = admin.call("GET", ordered["nextRecordsUrl"])
    assert admin.error(stale)["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_sobject_collections(admin: Rest) -> None:
    records = [{"attributes": {"type": "Account"}, "Name": f"A{i}"} for i in range(3)]
    created = admin.call("POST", "composite/sobjects",
                         json={"allOrNone": False, "records": records}).json()
    assert [r["success"] for r in created] == [True] * 3
    ids = [r["id"] for r in created]
    mixed = admin.call("POST", "composite/sobjects", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Contact"}, "LastName": "Ok"},
        {"attributes": {"type": "Contact"}, "FirstName": "NoLast"}]}).json()
    assert mixed[0]["success"] is True and mixed[1]["success"] is False
    assert mixed[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    rolled = admin.call("POST", "composite/sobjects", json={"allOrNone": True, "records": [
        {"attributes": {"type": "Contact"}, "LastName": "Rolled"},
        {"attributes": {"type": "Contact"}, "FirstName": "NoLast"}]}).json()
    assert rolled[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert admin.query("SELECT COUNT() FROM Contact WHERE LastName = 'Rolled'")[
        "totalSize"] == 0
    updated = admin.call("PATCH", "composite/sobjects", json={"records": [
        {"attributes": {"type": "Account"}, "id": ids[0], "Phone": "1"}]}).json()
    assert updated == [{"success": True, "errors": [], "id": ids[0]}]
    got = admin.call("GET", "composite/sobjects/Account",
                     params={"ids": ",".join(ids), "fields": "Name,Phone"}).json()
    assert [g["Name"] for g in got] == ["A0", "A1", "A2"] and got[0]["Phone"] == "1"
    deleted = admin.call("DELETE", "composite/sobjects",
                         params={"ids": ",".join(ids[:2]), "allOrNone": "false"}).json()
    assert [d["success"] for d in deleted] == [True, True]
    too_many = admin.call("POST", "composite/sobjects", json={"records": [
        {"attributes": {"type": "Account"}, "Name": "x"}] * 201})
    assert admin.error(too_many)["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_collection_upsert(sfemu: Sfemu, org: dict[str, str], admin: Rest) -> None:
    sfemu.admin("POST", f"/orgs/{org['name']}/objects/Task/fields",
                json={"name": "Key__c", "type": "string", "externalId": True, "unique": True})
    body = {"allOrNone": False, "records": [
        {"attributes": {"type": "Task"}, "Key__c": "a", "Subject": "Sent: 1"},
        {"attributes": {"type": "Task"}, "Key__c": "b", "Subject": "Sent: 2"}]}
    first = admin.call("PATCH", "composite/sobjects/Task/Key__c", json=body).json()
    assert [r["created"] for r in first] == [True, True]
    second = admin.call("PATCH", "composite/sobjects/Task/Key__c", json=body).json()
    assert [r["created"] for r in second] == [False, False]
    assert [r["id"] for r in second] == [r["id"] for r in first]
    assert admin.query("SELECT COUNT() FROM Task")["totalSize"] == 2


def test_composite_with_references(admin: Rest) -> None:
    body = {"allOrNone": True, "compositeRequest": [
        {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "acct",
         "body": {"Name": "Ref Co"}},
        {"method": "POST", "url": f"{V}/sobjects/Contact", "referenceId": "ct",
         "body": {"LastName": "Ref", "AccountId": "@{acct.id}"}},
        {"method": "GET", "url": f"{V}/sobjects/Contact/@{{ct.id}}?fields=AccountId",
         "referenceId": "read"}]}
    out = admin.call("POST", "composite", json=body).json()["compositeResponse"]
    assert [o["httpStatusCode"] for o in out] == [201, 201, 200]
    assert out[2]["body"]["AccountId"] == out[0]["body"]["id"]
    failing = {"allOrNone": True, "compositeRequest": [
        {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "a",
         "body": {"Name": "Gone"}},
        {"method": "POST", "url": f"{V}/sobjects/Contact", "referenceId": "c",
         "body": {"FirstName": "NoLast"}}]}
    out = admin.call("POST", "composite", json=failing).json()["compositeResponse"]
    assert out[0]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert out[1]["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert admin.query("SELECT COUNT() FROM Account WHERE Name = 'Gone'")["totalSize"] == 0
    q = admin.call("POST", "composite", json={"compositeRequest": [
        {"method": "GET", "url": f"{V}/query?q=SELECT+Id+FROM+Account", "referenceId": "q"}]})
    assert q.json()["compositeResponse"][0]["body"]["totalSize"] == 1
    assert len(admin.call("POST", "composite", json={"compositeRequest": [
        {"method": "GET", "url": f"{V}/limits", "referenceId": f"r{i}"}
        for i in range(26)]}).json()) == 1


def test_composite_batch(admin: Rest) -> None:
    out = admin.call("POST", "composite/batch", json={"batchRequests": [
        {"method": "POST", "url": "v59.0/sobjects/Account", "richInput": {"Name": "B"}},
        {"method": "GET", "url": "v59.0/sobjects/Account/001000000000000AAA"},
        {"method": "GET", "url": "v59.0/limits"}]}).json()
    assert out["hasErrors"] is True
    assert [r["statusCode"] for r in out["results"]] == [201, 404, 200]
    halted = admin.call("POST", "composite/batch", json={"haltOnError": True, "batchRequests": [
        {"method": "GET", "url": "v59.0/sobjects/Nope"},
        {"method": "GET", "url": "v59.0/limits"}]}).json()
    assert halted["results"][1]["statusCode"] == 412


def test_get_updated_and_deleted(admin: Rest) -> None:
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    keep = admin.create("Lead", LastName="Keep", Company="C")
    drop = admin.create("Lead", LastName="Drop", Company="C")
    admin.call("DELETE", f"sobjects/Lead/{drop}")
    end = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    # A raw '+' (as simple-salesforce sends it) arrives as a space and is still understood.
    updated = admin.call("GET", f"{V}/sobjects/Lead/updated/?start={start}&end={end}").json()
    assert keep in updated["ids"] and drop not in updated["ids"]
    deleted = admin.call("GET", f"{V}/sobjects/Lead/deleted/?start={start}&end={end}").json()
    assert [d["id"] for d in deleted["deletedRecords"]] == [drop]
    assert set(deleted) == {"deletedRecords", "earliestDateAvailable", "latestDateCovered"}
    bad = admin.call("GET", "sobjects/Lead/updated", params={"start": end, "end": start})
    assert admin.error(bad)["errorCode"] == "INVALID_REPLICATION_DATE"


def _wait_job(admin: Rest, kind: str, job_id: str) -> dict[str, object]:
    for _ in range(200):
        job = admin.call("GET", f"jobs/{kind}/{job_id}").json()
        if job["state"] in ("JobComplete", "Failed", "Aborted"):
            return dict(job)
        time.sleep(0.05)
    raise AssertionError("job did not finish")


def test_bulk_query_pages_by_locator(sfemu: Sfemu, org: dict[str, str], admin: Rest) -> None:
    sfemu.admin("POST", f"/orgs/{org['name']}/seed", json={"accounts": 3, "contacts": 2500})
    job = admin.call("POST", "jobs/query", json={
        "operation": "query", "query": "SELECT Id, Email, Account.Name FROM Contact"}).json()
    assert job["state"] == "UploadComplete" and job["object"] == "Contact"
    assert _wait_job(admin, "query", job["id"])["numberRecordsProcessed"] == 2500
    locator, rows = "", []
    while True:
        params = {"maxRecords": "1000", **({"locator": locator} if locator else {})}
        r = admin.call("GET", f"jobs/query/{job['id']}/results", params=params)
        assert r.headers["content-type"].startswith("text/csv")
        page = list(csv.reader(io.StringIO(r.text)))
        assert page[0] == ["Id", "Email", "Account.Name"]
        assert int(r.headers["Sforce-NumberOfRecords"]) == len(page) - 1
        rows += page[1:]
        locator = r.headers["Sforce-Locator"]
        if locator == "null":
            break
    assert len(rows) == 2500 and len({r[0] for r in rows}) == 2500
    assert all(r[2] for r in rows)  # every seeded contact has an account
    assert r.text.splitlines()[1].startswith('"003')  # every value quoted
    bad = admin.call("POST", "jobs/query", json={"operation": "query",
                                                 "query": "SELECT Id FROM Contact LIMIT"})
    assert admin.error(bad)["errorCode"] == "MALFORMED_QUERY"
    sub = admin.call("POST", "jobs/query", json={
        "operation": "query", "query": "SELECT Id, (SELECT Id FROM Contacts) FROM Account"})
    assert sub.status_code == 400
    typeof = admin.call("POST", "jobs/query", json={
        "operation": "query",
        "query": "SELECT Id, TYPEOF What WHEN Account THEN Name END FROM Task"})
    assert typeof.status_code == 400 and "TYPEOF" in admin.error(typeof)["message"]
    assert admin.call("DELETE", f"jobs/query/{job['id']}").status_code == 204
    assert admin.call("GET", f"jobs/query/{job['id']}").status_code == 404


def test_bulk_ingest(admin: Rest) -> None:
    job = admin.call("POST", "jobs/ingest", json={"object": "Contact", "operation": "insert",
                                                  "contentType": "CSV", "lineEnding": "LF"})
    assert job.status_code == 200 and job.json()["state"] == "Open"
    jid = job.json()["id"]
    data = 'LastName,Email,Description\nOne,one@x.example,"multi\nline"\n,bad@x.example,\n' \
           "Three,three@x.example,#N/A\n"
    assert admin.call("PUT", f"jobs/ingest/{jid}/batches", content=data,
                      headers={"Content-Type": "text/csv"}).status_code == 201
    closed = admin.call("PATCH", f"jobs/ingest/{jid}", json={"state": "UploadComplete"})
    assert closed.json()["state"] == "UploadComplete"
    done = _wait_job(admin, "ingest", jid)
    assert done["state"] == "JobComplete"
    assert done["numberRecordsProcessed"] == 3 and done["numberRecordsFailed"] == 1
    ok = list(csv.DictReader(io.StringIO(admin.call(
        "GET", f"jobs/ingest/{jid}/successfulResults").text)))
    assert [r["LastName"] for r in ok] == ["One", "Three"]
    assert all(r["sf__Created"] == "true" and r["sf__Id"].startswith("003") for r in ok)
    assert admin.get("Contact", ok[0]["sf__Id"])["Description"] == "multi\nline"
    failed = list(csv.DictReader(io.StringIO(admin.call(
        "GET", f"jobs/ingest/{jid}/failedResults").text)))
    assert failed[0]["sf__Error"].startswith("REQUIRED_FIELD_MISSING:")
    assert failed[0]["Email"] == "bad@x.example"
    # update and delete jobs over the created ids
    upd = admin.call("POST", "jobs/ingest", json={"object": "Contact", "operation": "update"})
    uid = upd.json()["id"]
    admin.call("PUT", f"jobs/ingest/{uid}/batches",
               content=f"Id,Title\n{ok[0]['sf__Id']},CEO\n")
    admin.call("PATCH", f"jobs/ingest/{uid}", json={"state": "UploadComplete"})
    assert _wait_job(admin, "ingest", uid)["numberRecordsFailed"] == 0
    assert admin.get("Contact", ok[0]["sf__Id"])["Title"] == "CEO"
    dele = admin.call("POST", "jobs/ingest", json={"object": "Contact", "operation": "delete"})
    did = dele.json()["id"]
    admin.call("PUT", f"jobs/ingest/{did}/batches", content=f"Id\n{ok[1]['sf__Id']}\n")
    admin.call("PATCH", f"jobs/ingest/{did}", json={"state": "UploadComplete"})
    _wait_job(admin, "ingest", did)
    assert admin.call("GET", f"sobjects/Contact/{ok[1]['sf__Id']}").status_code == 404


def test_data_survives_a_restart(tmp_path_factory: pytest.TempPathFactory) -> None:
    from tests.conftest import start_sfemu
    db = tmp_path_factory.mktemp("db") / "sfemu.db"
    certs = tmp_path_factory.mktemp("certs")
    server = start_sfemu(certs, "--db", str(db))
    try:
        with Rest(server, "admin@acme.example") as rest:
            rid = rest.create("Account", Name="Durable")
    finally:
        server.stop()
    server = start_sfemu(certs, "--db", str(db))
    try:
        with Rest(server, "admin@acme.example") as rest:
            assert rest.get("Account", rid)["Name"] == "Durable"
            assert rest.create("Account", Name="Next") != rid
    finally:
        server.stop()


def test_sosl_search(admin: Rest) -> None:
    acct = admin.create("Account", Name="Globex Corporation")
    jane = admin.create("Contact", FirstName="Jane", LastName="Doe", AccountId=acct,
                        Email="jane.doe@globex.example", Phone="555-0100")
    lead = admin.create("Lead", LastName="Doe", Company="Initech", Email="doe@initech.example")
    admin.create("Contact", LastName="Other", Email="other@else.example")

    def search(q: str) -> list[str]:
        r = admin.call("GET", "search", params={"q": q})
        assert r.status_code == 200, r.text
        return [x["Id"] for x in r.json()["searchRecords"]]

    assert set(search("FIND {Doe}")) == {jane, lead}
    assert search("FIND {globex.example} IN EMAIL FIELDS RETURNING Contact(Id, Email)") == [jane]
    assert search("FIND {glob*} IN ALL FIELDS RETURNING Account(Id, Name)") == [acct]
    assert search("FIND {Doe} RETURNING Contact(Id WHERE AccountId != null), Lead") == [
        jane, lead]
    assert len(search("FIND {Doe} RETURNING Contact(Id), Lead(Id) LIMIT 1")) == 1
    assert search("FIND {Jane Doe} IN NAME FIELDS RETURNING Contact") == [jane]
    records = admin.call("GET", "search", params={
        "q": "FIND {Doe} RETURNING Contact(Name, Account.Name ORDER BY Name)"}).json()
    assert records["searchRecords"][0]["Account"]["Name"] == "Globex Corporation"
    bad = admin.call("GET", "search", params={"q": "FIND Doe"})
    assert admin.error(bad)["errorCode"] == "MALFORMED_SEARCH"
    field = admin.call("GET", "search", params={"q": "FIND {Doe} RETURNING Contact(Nope)"})
    assert admin.error(field)["errorCode"] == "INVALID_FIELD"


def test_bulk_ingest_of_a_large_upload(admin: Rest) -> None:
    """A 3 MB upload is stored in 1 MB pieces: quoted line breaks and multi-byte characters
    that straddle a piece boundary must still come out whole."""
    rows = [f'Zoë{i},z{i}@x.example,"line one é\nline two {i} ' + "ü" * (i % 50 + 100) + '"'
            for i in range(12_000)]
    data = "LastName,Email,Description\n" + "\n".join(rows) + "\n"
    assert len(data.encode()) > 3 * (1 << 20)
    jid = admin.call("POST", "jobs/ingest", json={"object": "Contact",
                                                  "operation": "insert"}).json()["id"]
    up = admin.call("PUT", f"jobs/ingest/{jid}/batches", content=data.encode(),
                    headers={"Content-Type": "text/csv"})
    assert up.status_code == 201
    admin.call("PATCH", f"jobs/ingest/{jid}", json={"state": "UploadComplete"})
    for _ in range(600):
        job = admin.call("GET", f"jobs/ingest/{jid}").json()
        if job["state"] == "JobComplete":
            break
        time.sleep(0.05)
    assert job["numberRecordsProcessed"] == 12_000 and job["numberRecordsFailed"] == 0
    sample = admin.query("SELECT LastName, Description FROM Contact WHERE "
                         "Email = 'z11999@x.example'")["records"][0]
    assert sample["LastName"] == "Zoë11999"
    assert sample["Description"] == "line one é\nline two 11999 " + "ü" * (11999 % 50 + 100)
    assert admin.query("SELECT COUNT() FROM Contact")["totalSize"] == 12_000
    bad = admin.call("POST", "jobs/ingest", json={"object": "Contact", "operation": "insert"})
    bid = bad.json()["id"]
    refused = admin.call("PUT", f"jobs/ingest/{bid}/batches", content=b"LastName\n\xff\xfe\n")
    assert admin.error(refused)["errorCode"] == "INVALIDJOB"


def test_sorted_query_pages_come_from_a_snapshot(sfemu: Sfemu, org: dict[str, str],
                                                 admin: Rest) -> None:
    """An edit between pages neither repeats nor loses a record of a sorted query."""
    sfemu.admin("POST", f"/orgs/{org['name']}/seed", json={"accounts": 2, "contacts": 450})
    first = admin.call("GET", "query",
                       params={"q": "SELECT Id, LastName FROM Contact ORDER BY SystemModstamp"},
                       headers={"Sforce-Query-Options": "batchSize=200"}).json()
    seen = [r["Id"] for r in first["records"]]
    admin.call("PATCH", f"sobjects/Contact/{seen[0]}", json={"Title": "moved to the end"})
    page = first
    while not page["done"]:
        page = admin.call("GET", page["nextRecordsUrl"]).json()
        seen += [r["Id"] for r in page["records"]]
    assert len(seen) == len(set(seen)) == 450 == first["totalSize"]


def test_composite_references_keep_quotes_and_types(admin: Rest) -> None:
    out = admin.call("POST", "composite", json={"compositeRequest": [
        {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "a",
         "body": {"Name": 'Acme "Intl"', "NumberOfEmployees": 5}},
        {"method": "GET", "url": f"{V}/sobjects/Account/@{{a.id}}?fields=Name,"
                                 "NumberOfEmployees", "referenceId": "read"},
        {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "b",
         "body": {"Name": "Copy of @{read.Name}", "NumberOfEmployees":
                  "@{read.NumberOfEmployees}"}}]}).json()["compositeResponse"]
    assert [o["httpStatusCode"] for o in out] == [201, 200, 201], out
    copy = admin.get("Account", out[2]["body"]["id"])
    assert copy["Name"] == 'Copy of Acme "Intl"' and copy["NumberOfEmployees"] == 5


def test_bulk_results_refuse_a_non_positive_page(sfemu: Sfemu, org: dict[str, str],
                                                 admin: Rest) -> None:
    job = admin.call("POST", "jobs/query", json={"operation": "query",
                                                 "query": "SELECT Id FROM Account"}).json()
    _wait_job(admin, "query", job["id"])
    r = admin.call("GET", f"jobs/query/{job['id']}/results", params={"maxRecords": "0"})
    assert admin.error(r)["errorCode"] == "INVALIDJOB"

"""Records through REST: ids, CRUD, upsert, errors in Salesforce's shape, org behaviours."""

from __future__ import annotations

import pytest

from sfemu.org.ids import checksum
from tests.conftest import Sfemu
from tests.sfemu.rest_helpers import Rest


def test_ids_have_prefixes_and_checksums(admin: Rest) -> None:
    prefixes = {"Account": "001", "Contact": "003", "Lead": "00Q", "Opportunity": "006",
                "Task": "00T", "Event": "00U"}
    acct = admin.create("Account", Name="Globex")
    ids = {"Account": acct,
           "Contact": admin.create("Contact", LastName="Doe", AccountId=acct),
           "Lead": admin.create("Lead", LastName="Roe", Company="Initech"),
           "Opportunity": admin.create("Opportunity", Name="Deal", StageName="Prospecting",
                                       CloseDate="2026-12-31", AccountId=acct),
           "Task": admin.create("Task", Subject="Call"),
           "Event": admin.create("Event", Subject="Meet", StartDateTime="2026-12-01T10:00:00Z",
                                 DurationInMinutes=30)}
    for sobject, rid in ids.items():
        assert len(rid) == 18 and rid.startswith(prefixes[sobject])
        assert rid[15:] == checksum(rid[:15])
        # A 15-character id is accepted on input and answered with the 18-character one.
        assert admin.get(sobject, rid[:15])["Id"] == rid
    user_id = admin.query("SELECT Id FROM User LIMIT 1")["records"][0]["Id"]
    assert user_id.startswith("005")
    ocr = admin.create("OpportunityContactRole", OpportunityId=ids["Opportunity"],
                       ContactId=ids["Contact"])
    assert ocr.lower().startswith("00k")


def test_crud_shapes(admin: Rest) -> None:
    r = admin.call("POST", "sobjects/Account", json={"Name": "Acme"})
    assert r.status_code == 201 and r.json()["success"] is True and r.json()["errors"] == []
    rid = r.json()["id"]
    record = admin.get("Account", rid)
    assert record["attributes"] == {"type": "Account",
                                    "url": f"/services/data/v59.0/sobjects/Account/{rid}"}
    assert record["Name"] == "Acme" and record["IsDeleted"] is False
    assert record["CreatedDate"].endswith(".000+0000") or record["CreatedDate"][-5:] == "+0000"
    upd = admin.call("PATCH", f"sobjects/Account/{rid}", json={"Phone": "555"})
    assert upd.status_code == 204 and upd.content == b""
    after = admin.get("Account", rid)
    assert after["Phone"] == "555" and after["SystemModstamp"] > record["SystemModstamp"]
    only = admin.call("GET", f"sobjects/Account/{rid}", params={"fields": "Name,Phone"}).json()
    assert set(only) == {"attributes", "Name", "Phone"}
    assert admin.call("DELETE", f"sobjects/Account/{rid}").status_code == 204
    gone = admin.call("GET", f"sobjects/Account/{rid}")
    assert gone.status_code == 404 and admin.error(gone)["errorCode"] == "NOT_FOUND"
    again = admin.call("PATCH", f"sobjects/Account/{rid}", json={"Phone": "1"})
    assert admin.error(again)["errorCode"] == "ENTITY_IS_DELETED"


@pytest.mark.parametrize("payload,code,fields", [
    ({"Email": "a@b.example"}, "REQUIRED_FIELD_MISSING", ["LastName"]),
    ({"LastName": "X", "Nope__c": 1}, "INVALID_FIELD", ["Nope__c"]),
    ({"LastName": "X", "Name": "Full"}, "INVALID_FIELD_FOR_INSERT_UPDATE", ["Name"]),
    ({"LastName": "X", "Email": "not-an-email"}, "INVALID_EMAIL_ADDRESS", ["Email"]),
    ({"LastName": "X" * 81}, "STRING_TOO_LONG", ["LastName"]),
    ({"LastName": "X", "AccountId": "001000000000000"}, "INVALID_CROSS_REFERENCE_KEY",
     ["AccountId"]),
    ({"LastName": "X", "AccountId": "garbage"}, "MALFORMED_ID", ["AccountId"]),
    ({"LastName": "X", "HasOptedOutOfEmail": "maybe"}, "JSON_PARSER_ERROR", []),
])
def test_write_errors_name_the_problem(admin: Rest, payload: dict[str, object], code: str,
                                       fields: list[str]) -> None:
    r = admin.call("POST", "sobjects/Contact", json=payload)
    assert r.status_code == 400
    error = admin.error(r)
    assert error["errorCode"] == code and error["fields"] == fields and error["message"]
    assert admin.query("SELECT COUNT() FROM Contact")["totalSize"] == 0


def test_unknown_object_and_version(admin: Rest) -> None:
    r = admin.call("POST", "sobjects/Nope__c", json={"Name": "x"})
    assert r.status_code == 400 and admin.error(r)["errorCode"] == "INVALID_TYPE"
    assert admin.call("GET", "/services/data/v49.0/limits").status_code == 404
    assert admin.call("GET", "/services/data/v62.0/limits").status_code == 200


def test_soql_errors_point_at_the_problem(admin: Rest) -> None:
    r = admin.call("GET", "query", params={"q": "SELECT Id FRM Contact"})
    error = admin.error(r)
    assert r.status_code == 400 and error["errorCode"] == "MALFORMED_QUERY"
    assert "Row:1:Column:" in error["message"]
    bad = admin.error(admin.call("GET", "query", params={"q": "SELECT Foo FROM Contact"}))
    assert bad["errorCode"] == "INVALID_FIELD" and "No such column 'Foo'" in bad["message"]


def test_upsert_by_external_id(sfemu: Sfemu, org: dict[str, str], admin: Rest) -> None:
    r = sfemu.admin("POST", f"/orgs/{org['name']}/objects/Contact/fields",
                    json={"name": "Ext__c", "type": "string", "externalId": True})
    assert r.status_code == 201, r.text
    first = admin.call("PATCH", "sobjects/Contact/Ext__c/K-1", json={"LastName": "One"})
    assert first.status_code == 201 and first.json()["created"] is True
    second = admin.call("PATCH", "sobjects/Contact/Ext__c/K-1", json={"LastName": "Uno"})
    assert second.status_code == 200 and second.json()["created"] is False
    assert second.json()["id"] == first.json()["id"]
    assert admin.get("Contact", first.json()["id"])["LastName"] == "Uno"
    admin.create("Contact", LastName="Dup", Ext__c="K-2")
    admin.create("Contact", LastName="Dup2", Ext__c="K-2")
    several = admin.call("PATCH", "sobjects/Contact/Ext__c/K-2", json={"LastName": "Z"})
    assert several.status_code == 300 and len(several.json()) == 2


def test_unique_external_id_refuses_duplicates(sfemu: Sfemu, org: dict[str, str],
                                               admin: Rest) -> None:
    sfemu.admin("POST", f"/orgs/{org['name']}/objects/Task/fields",
                json={"name": "Tether_Activity_Key__c", "type": "string", "externalId": True,
                      "unique": True})
    admin.create("Task", Subject="Sent: a", Tether_Activity_Key__c="k1")
    r = admin.call("POST", "sobjects/Task", json={"Subject": "Sent: b",
                                                 "Tether_Activity_Key__c": "K1"})
    assert admin.error(r)["errorCode"] == "DUPLICATE_VALUE"


def test_validation_rule_from_the_guide(sfemu: Sfemu, org: dict[str, str], admin: Rest) -> None:
    formula = ('NOT(REGEX(Subject, "(Sent|Opened|Clicked|Downloaded|Replied|Meeting Confirmed'
               '|Reply) ?(\\\\(.*\\\\)?|\\\\[.*\\\\])?:.*"))')
    r = sfemu.admin("POST", f"/orgs/{org['name']}/validation-rules", json={
        "object": "Task", "name": "Tether_Subjects", "errorConditionFormula": formula,
        "errorMessage": "Subject must be a Tether subject", "errorDisplayField": "Subject"})
    assert r.status_code == 201, r.text
    for ok in ("Sent: Hello", "Opened: Hello", "Replied (Q4 Outreach): Re: hi",
               "Clicked [Seq]: x", "Meeting Confirmed: Demo"):
        admin.create("Task", Subject=ok)
    refused = admin.call("POST", "sobjects/Task", json={"Subject": "Call"})
    error = admin.error(refused)
    assert error == {"message": "Subject must be a Tether subject",
                     "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "fields": ["Subject"]}
    bad = sfemu.admin("POST", f"/orgs/{org['name']}/validation-rules",
                      json={"object": "Task", "errorConditionFormula": "NOT(REGEX(Subject"})
    assert bad.status_code == 400


def test_assignment_rules_follow_the_header(sfemu: Sfemu, org: dict[str, str],
                                            admin: Rest) -> None:
    r = sfemu.admin("POST", f"/orgs/{org['name']}/assignment-rules", json={
        "object": "Lead", "name": "By country", "active": True,
        "entries": [{"field": "Country", "value": "France", "owner": org["rep"]}]})
    assert r.status_code == 201, r.text
    rep_id = admin.query(f"SELECT Id FROM User WHERE Username = '{org['rep']}'")[
        "records"][0]["Id"]
    assigned = admin.create("Lead", LastName="A", Company="C", Country="France")
    assert admin.get("Lead", assigned)["OwnerId"] == rep_id
    r = admin.call("POST", "sobjects/Lead", json={"LastName": "B", "Company": "C",
                                                 "Country": "France"},
                   headers={"Sforce-Auto-Assign": "FALSE"})
    assert admin.get("Lead", r.json()["id"])["OwnerId"] != rep_id
    other = admin.create("Lead", LastName="C", Company="C", Country="Spain")
    assert admin.get("Lead", other)["OwnerId"] != rep_id


def test_duplicate_rules_block_or_alert(sfemu: Sfemu, org: dict[str, str], admin: Rest) -> None:
    sfemu.admin("POST", f"/orgs/{org['name']}/duplicate-rules",
                json={"object": "Contact", "field": "Email", "action": "alert"})
    first = admin.create("Contact", LastName="A", Email="same@x.example")
    r = admin.call("POST", "sobjects/Contact", json={"LastName": "B", "Email": "SAME@x.example"})
    error = admin.error(r)
    assert error["errorCode"] == "DUPLICATES_DETECTED"
    match = error["duplicateResult"]["matchResults"][0]["matchRecords"][0]["record"]["Id"]
    assert match == first
    allowed = admin.call("POST", "sobjects/Contact", json={"LastName": "B",
                                                          "Email": "same@x.example"},
                         headers={"Sforce-Duplicate-Rule-Header": "allowSave=true"})
    assert allowed.status_code == 201
    sfemu.admin("POST", f"/orgs/{org['name']}/duplicate-rules",
                json={"object": "Lead", "field": "Email", "action": "block"})
    admin.create("Lead", LastName="L", Company="C", Email="lead@x.example")
    blocked = admin.call("POST", "sobjects/Lead",
                         json={"LastName": "L2", "Company": "C", "Email": "lead@x.example"},
                         headers={"Sforce-Duplicate-Rule-Header": "allowSave=true"})
    assert admin.error(blocked)["errorCode"] == "DUPLICATES_DETECTED"


def test_lead_conversion_and_converted_lead_is_read_only(sfemu: Sfemu, org: dict[str, str],
                                                       admin: Rest) -> None:
    lead = admin.create("Lead", FirstName="Jane", LastName="Doe", Company="Globex",
                        Email="jane@globex.example")
    task = admin.create("Task", Subject="Sent: intro", WhoId=lead)
    r = sfemu.admin("POST", f"/orgs/{org['name']}/leads/{lead}/convert",
                    json={"create_opportunity": True})
    assert r.status_code == 200, r.text
    out = r.json()
    converted = admin.get("Lead", lead)
    assert converted["IsConverted"] is True
    assert converted["ConvertedContactId"] == out["contactId"]
    assert converted["ConvertedAccountId"] == out["accountId"]
    assert converted["ConvertedOpportunityId"] == out["opportunityId"]
    contact = admin.get("Contact", out["contactId"])
    assert contact["Email"] == "jane@globex.example" and contact["AccountId"] == out["accountId"]
    assert admin.get("Task", task)["WhoId"] == out["contactId"]
    roles = admin.query(f"SELECT ContactId, IsPrimary FROM OpportunityContactRole "
                        f"WHERE OpportunityId = '{out['opportunityId']}'")["records"]
    assert roles[0]["ContactId"] == out["contactId"] and roles[0]["IsPrimary"] is True
    edit = admin.call("PATCH", f"sobjects/Lead/{lead}", json={"Title": "x"})
    assert admin.error(edit)["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    who = admin.call("POST", "sobjects/Task", json={"Subject": "Sent: x", "WhoId": lead})
    assert admin.error(who)["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"


def test_merge_deletes_losers_with_master_record_id(sfemu: Sfemu, org: dict[str, str],
                                                    admin: Rest) -> None:
    master = admin.create("Contact", LastName="Keep", Email="k@x.example")
    loser = admin.create("Contact", LastName="Lose", Email="k@x.example")
    task = admin.create("Task", Subject="Sent: a", WhoId=loser)
    r = sfemu.admin("POST", f"/orgs/{org['name']}/merge",
                    json={"object": "Contact", "master_id": master, "merged_ids": [loser]})
    assert r.status_code == 200, r.text
    assert admin.get("Task", task)["WhoId"] == master
    rows = admin.query(f"SELECT Id, IsDeleted, MasterRecordId FROM Contact WHERE Id = '{loser}'",
                       all_rows=True)["records"]
    assert rows == [{"attributes": rows[0]["attributes"], "Id": loser, "IsDeleted": True,
                     "MasterRecordId": master}]
    assert admin.query(f"SELECT Id FROM Contact WHERE Id = '{loser}'")["totalSize"] == 0


def test_delete_cascades_and_undelete_restores(sfemu: Sfemu, org: dict[str, str],
                                               admin: Rest) -> None:
    acct = admin.create("Account", Name="Parent")
    contact = admin.create("Contact", LastName="Child", AccountId=acct)
    admin.call("DELETE", f"sobjects/Account/{acct}")
    assert admin.query(f"SELECT Id FROM Contact WHERE Id = '{contact}'")["totalSize"] == 0
    deleted = admin.query("SELECT Id FROM Contact WHERE IsDeleted = true", all_rows=True)
    assert [r["Id"] for r in deleted["records"]] == [contact]
    r = sfemu.admin("POST", f"/orgs/{org['name']}/records/Account/{acct}/undelete")
    assert r.status_code == 200
    assert admin.get("Account", acct)["IsDeleted"] is False


def test_activities_only_on_activity_enabled_objects(sfemu: Sfemu, org: dict[str, str],
                                                     admin: Rest) -> None:
    for name, activities in (("Project__c", True), ("Invoice__c", False)):
        r = sfemu.admin("POST", f"/orgs/{org['name']}/objects", json={
            "name": name, "label": name[:-3], "allowActivities": activities,
            "fields": [{"name": "Account__c", "type": "reference", "referenceTo": ["Account"]}]})
        assert r.status_code == 201, r.text
    acct = admin.create("Account", Name="A")
    project = admin.create("Project__c", Name="P", Account__c=acct)
    invoice = admin.create("Invoice__c", Name="I", Account__c=acct)
    assert admin.create("Task", Subject="Sent: x", WhatId=project)
    refused = admin.call("POST", "sobjects/Task", json={"Subject": "Sent: x", "WhatId": invoice})
    assert admin.error(refused)["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    describe = admin.call("GET", "sobjects/Task/describe").json()
    what = next(f for f in describe["fields"] if f["name"] == "WhatId")
    assert "Project__c" in what["referenceTo"] and "Invoice__c" not in what["referenceTo"]
    rows = admin.query("SELECT Name, Account__r.Name, (SELECT Id FROM Tasks) FROM Project__c")
    assert rows["records"][0]["Account__r"]["Name"] == "A"
    assert rows["records"][0]["Tasks"]["totalSize"] == 1


def test_standard_user_cannot_do_everything(sfemu: Sfemu, org: dict[str, str], admin: Rest,
                                            rep: Rest) -> None:
    acct = rep.create("Account", Name="Mine")
    refused = rep.call("DELETE", f"sobjects/Account/{acct}")
    assert refused.status_code == 400
    assert rep.error(refused)["errorCode"] == "INSUFFICIENT_ACCESS_OR_READONLY"
    revenue = rep.call("PATCH", f"sobjects/Account/{acct}", json={"AnnualRevenue": 5})
    assert rep.error(revenue)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    fields = {f["name"]: f for f in rep.call("GET", "sobjects/Account/describe").json()["fields"]}
    assert fields["AnnualRevenue"]["updateable"] is False
    assert admin.call("PATCH", f"sobjects/Account/{acct}",
                      json={"AnnualRevenue": 5}).status_code == 204
    # An admin takes the Standard User's read access on Leads away.
    r = sfemu.admin("PUT", f"/orgs/{org['name']}/profiles/Standard User",
                    json={"objects": {"Account": "CRE", "Contact": "CRED"}})
    assert r.status_code == 200
    no_leads = rep.call("GET", "query", params={"q": "SELECT Id FROM Lead"})
    assert rep.error(no_leads)["errorCode"] == "INVALID_TYPE"
    described = rep.call("GET", "sobjects").json()["sobjects"]
    assert "Lead" not in [o["name"] for o in described]


def test_describe_and_layouts(sfemu: Sfemu, org: dict[str, str], admin: Rest) -> None:
    d = admin.call("GET", "sobjects/Contact/describe").json()
    assert d["name"] == "Contact" and d["keyPrefix"] == "003"
    email = next(f for f in d["fields"] if f["name"] == "Email")
    for key in ("name", "label", "type", "length", "nillable", "createable", "updateable",
                "defaultedOnCreate", "custom", "externalId", "idLookup", "unique",
                "referenceTo", "relationshipName", "picklistValues", "calculated",
                "filterable", "sortable", "soapType"):
        assert key in email
    assert email["type"] == "email" and email["soapType"] == "xsd:string"
    account_id = next(f for f in d["fields"] if f["name"] == "AccountId")
    assert account_id["referenceTo"] == ["Account"] and account_id["relationshipName"] == \
        "Account"
    acct = admin.call("GET", "sobjects/Account/describe").json()
    assert {"childSObject": "Contact", "field": "AccountId", "relationshipName": "Contacts"
            }.items() <= next(r for r in acct["childRelationships"]
                              if r["relationshipName"] == "Contacts").items()
    layouts = admin.call("GET", "sobjects/Lead/describe/layouts").json()
    items = [i for s in layouts["layouts"][0]["editLayoutSections"]
             for row in s["layoutRows"] for i in row["layoutItems"]]
    required = {i["layoutComponents"][0]["value"] for i in items if i["required"]}
    assert required == {"LastName", "Company", "Status"}
    sfemu.admin("PUT", f"/orgs/{org['name']}/layouts/Lead",
                json={"required": ["LastName", "Company", "Status", "Email"]})
    layouts = admin.call("GET", "sobjects/Lead/describe/layouts").json()
    items = [i for s in layouts["layouts"][0]["editLayoutSections"]
             for row in s["layoutRows"] for i in row["layoutItems"]]
    assert "Email" in {i["layoutComponents"][0]["value"] for i in items if i["required"]}
    glob = admin.call("GET", "sobjects").json()
    assert glob["maxBatchSize"] == 200 and {"Account", "Contact", "Lead", "Task"} <= {
        o["name"] for o in glob["sobjects"]}


def test_events_keep_duration_and_end_consistent(admin: Rest) -> None:
    ev = admin.create("Event", Subject="Meeting Confirmed: Demo",
                      StartDateTime="2026-12-01T10:00:00Z", EndDateTime="2026-12-01T10:45:00Z")
    record = admin.get("Event", ev)
    assert record["DurationInMinutes"] == 45
    assert record["StartDateTime"] == "2026-12-01T10:00:00.000+0000"
    admin.call("PATCH", f"sobjects/Event/{ev}", json={"StartDateTime": "2026-12-01T11:00:00Z"})
    moved = admin.get("Event", ev)
    assert moved["EndDateTime"] == "2026-12-01T11:45:00.000+0000"
    missing = admin.call("POST", "sobjects/Event", json={"Subject": "x",
                                                        "StartDateTime": "2026-12-01T10:00Z"})
    assert admin.error(missing)["errorCode"] == "REQUIRED_FIELD_MISSING"


def test_task_fields_derive(admin: Rest) -> None:
    acct = admin.create("Account", Name="A")
    contact = admin.create("Contact", LastName="C", AccountId=acct)
    task = admin.create("Task", Subject="Sent: x", WhoId=contact, Status="Completed",
                        ActivityDate="2026-11-28", TaskSubtype="Email")
    record = admin.get("Task", task)
    assert record["AccountId"] == acct and record["IsClosed"] is True
    assert record["TaskSubtype"] == "Email" and record["CompletedDateTime"]
    call = admin.create("Task", Subject="Call", CallDurationInSeconds=312,
                        CallDisposition="Connected", CallType="Outbound")
    assert admin.get("Task", call)["TaskSubtype"] == "Call"

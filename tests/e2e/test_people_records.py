"""The people view, edits and creates against sfemu over HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.e2e.activity_env import Env, email_event, make_env
from tests.e2e.conftest import Tether


@pytest.fixture
def env(tether: Tether) -> Env:
    e = make_env(tether)
    r = e.records
    r["task"] = e.create("Task", Subject="Call Jane", WhoId=r["contact"],
                         ActivityDate="2026-11-20", Status="Completed")
    r["event"] = e.create("Event", Subject="Demo", WhoId=r["contact"],
                          StartDateTime="2026-11-25T15:00:00.000+0000",
                          EndDateTime="2026-11-25T16:00:00.000+0000")
    e.sync("interval")
    return e


def calls(env: Env) -> int:
    return int(env.act("GET", "/api-usage")["total"])


def request(env: Env, method: str, path: str, **kw: Any) -> httpx.Response:
    with env.tether.client(env.key) as c:
        return c.request(method, path, **kw)


def person(env: Env, email: str) -> dict[str, Any]:
    return dict(env.api("GET", "/api/v1/people", params={"email": email}))


def test_people_view_of_a_contact_makes_no_api_call(env: Env) -> None:
    before = calls(env)
    body = person(env, "Jane@Globex.example")
    assert calls(env) == before
    [contact] = body["records"]
    r = env.records
    assert contact["object"] == "Contact" and contact["Id"] == r["contact"]
    assert contact["fields"]["Email"] == "jane@globex.example"
    assert contact["labels"]["Phone"] == "Business Phone"
    assert contact["account"]["Id"] == r["account"]
    assert contact["account"]["fields"]["Name"] == "Globex"
    opps = contact["opportunities"]
    assert [o["Id"] for o in opps] == [r["opportunity"], r["closed"]]  # open first
    assert [o["is_closed"] for o in opps] == [False, True]
    assert opps[0]["contact_role"] is True
    history = contact["activity_history"]
    assert [h["Id"] for h in history] == [r["event"], r["task"]]  # newest first
    assert history[0]["object"] == "Event" and history[0]["by_tether"] is False
    assert contact["url"].endswith(f"/lightning/r/Contact/{r['contact']}/view")
    assert "only Contact" in body["reason"]


def test_activity_history_marks_tethers_own(env: Env) -> None:
    [event_id] = env.post(email_event("own-1", user=env.org["admin"]))
    [item] = env.wait([event_id])["own-1"]
    assert item["status"] == "synced", item
    env.sync("interval")
    history = person(env, "jane@globex.example")["records"][0]["activity_history"]
    own = [h for h in history if h["by_tether"]]
    assert [h["Id"] for h in own] == item["salesforce_ids"][:1]


def test_several_matches_show_the_tie_breaks_reason(env: Env) -> None:
    env.create("Lead", LastName="Doe", Company="Globex", Email="jane@globex.example")
    env.sync("interval")
    body = person(env, "jane@globex.example")
    assert [r["object"] for r in body["records"]] == ["Contact", "Lead"]
    assert "Contacts before Leads" in body["reason"]


def test_search_finds_people_and_accounts(env: Env) -> None:
    found = env.api("GET", "/api/v1/people/search", params={"q": "glo"})["items"]
    assert {(i["object"], i["Id"]) for i in found} >= {("Account", env.records["account"]),
                                                       ("Contact", env.records["contact"])}
    by_last = env.api("GET", "/api/v1/people/search", params={"q": "DOE"})["items"]
    assert [i["Id"] for i in by_last] == [env.records["contact"]]
    assert by_last[0]["company"] == "Globex"
    by_company = env.api("GET", "/api/v1/people/search", params={"q": "initech"})["items"]
    assert [i["object"] for i in by_company] == ["Lead"]
    r = request(env, "GET", "/api/v1/people/search", params={"q": "x"})
    assert r.status_code == 422 and r.json()["field"] == "q"


def test_an_edit_is_in_salesforce_and_in_the_view_at_once(env: Env) -> None:
    contact = person(env, "jane@globex.example")["records"][0]
    body = env.api("PATCH", f"/api/v1/salesforce/records/Contact/{contact['Id']}", json={
        "fields": {"Title": "CTO", "Phone": "+1 555 0100"},
        "expected_modstamp": contact["SystemModstamp"]})
    assert body["fields"]["Title"] == "CTO"
    [row] = env.soql(f"SELECT Title, Phone FROM Contact WHERE Id = '{contact['Id']}'")
    assert (row["Title"], row["Phone"]) == ("CTO", "+1 555 0100")
    again = person(env, "jane@globex.example")["records"][0]
    assert again["fields"]["Title"] == "CTO"
    assert again["SystemModstamp"] == body["SystemModstamp"] != contact["SystemModstamp"]


def test_an_edit_of_a_record_changed_in_salesforce_is_a_conflict(env: Env) -> None:
    contact = person(env, "jane@globex.example")["records"][0]
    env.act("PATCH", f"/records/Contact/{contact['Id']}", json={"Title": "VP Sales"})
    r = request(env, "PATCH", f"/api/v1/salesforce/records/Contact/{contact['Id']}", json={
        "fields": {"Title": "CTO"}, "expected_modstamp": contact["SystemModstamp"]})
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["yours"] == {"Title": "CTO"} and body["current"] == {"Title": "VP Sales"}
    [row] = env.soql(f"SELECT Title FROM Contact WHERE Id = '{contact['Id']}'")
    assert row["Title"] == "VP Sales"
    # The view shows Salesforce's value now, and saving against it goes through.
    fresh = person(env, "jane@globex.example")["records"][0]
    assert fresh["fields"]["Title"] == "VP Sales"
    env.api("PATCH", f"/api/v1/salesforce/records/Contact/{contact['Id']}", json={
        "fields": {"Title": "CTO"}, "expected_modstamp": body["SystemModstamp"]})


def test_a_validation_rules_refusal_is_said_in_words(env: Env) -> None:
    env.act("POST", "/validation-rules", json={
        "object": "Contact", "name": "Title_Not_Boss", "errorConditionFormula": 'Title = "Boss"',
        "errorMessage": "Nobody is the Boss", "errorDisplayField": "Title"})
    contact = person(env, "jane@globex.example")["records"][0]
    r = request(env, "PATCH", f"/api/v1/salesforce/records/Contact/{contact['Id']}", json={
        "fields": {"Title": "Boss"}, "expected_modstamp": contact["SystemModstamp"]})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["salesforce"]["errorCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert "Nobody is the Boss" in body["detail"] and body["field"] == "fields.Title"


def test_types_are_checked_before_any_call(env: Env) -> None:
    opp = person(env, "jane@globex.example")["records"][0]["opportunities"][0]
    before = calls(env)
    for fields, field in (({"CloseDate": "31/12/2026"}, "fields.CloseDate"),
                          ({"Amount": "lots"}, "fields.Amount"),
                          ({"StageName": "Dreaming"}, "fields.StageName")):
        r = request(env, "PATCH", f"/api/v1/salesforce/records/Opportunity/{opp['Id']}",
                    json={"fields": fields, "expected_modstamp": opp["SystemModstamp"]})
        assert r.status_code == 422 and r.json()["field"] == field, r.text
    assert calls(env) == before


def test_a_lead_without_its_required_fields_is_refused_before_any_call(env: Env) -> None:
    before = calls(env)
    r = request(env, "POST", "/api/v1/salesforce/records/Lead",
                json={"fields": {"Email": "new@lead.example"}})
    assert r.status_code == 422, r.text
    assert set(r.json()["missing"]) >= {"Last Name", "Company"}
    assert calls(env) == before


def test_a_lead_created_with_the_assignment_rule_is_reassigned(env: Env) -> None:
    env.act("POST", "/assignment-rules", json={
        "object": "Lead", "name": "France", "active": True,
        "entries": [{"field": "Country", "value": "France", "owner": env.org["rep"]}]})
    rep = env.soql(f"SELECT Id FROM User WHERE Username = '{env.org['rep']}'")[0]["Id"]
    env.set_role(run_assignment_rules=True)
    made = env.api("POST", "/api/v1/salesforce/records/Lead", json={"fields": {
        "LastName": "Dupont", "Company": "Paris SA", "Country": "France",
        "Email": "dupont@paris.example"}})
    [row] = env.soql(f"SELECT OwnerId FROM Lead WHERE Id = '{made['Id']}'")
    assert row["OwnerId"] == rep
    env.set_role(run_assignment_rules=False)
    other = env.api("POST", "/api/v1/salesforce/records/Lead", json={"fields": {
        "LastName": "Martin", "Company": "Lyon SA", "Country": "France"}})
    [row] = env.soql(f"SELECT OwnerId FROM Lead WHERE Id = '{other['Id']}'")
    assert row["OwnerId"] == env.admin_sf_id


def test_a_created_lead_gets_the_email_sent_a_second_later(env: Env) -> None:
    made = env.api("POST", "/api/v1/salesforce/records/Lead", json={"fields": {
        "LastName": "Newman", "Company": "Hooli", "Email": "newman@hooli.example"}})
    assert person(env, "newman@hooli.example")["records"][0]["Id"] == made["Id"]
    time.sleep(1)
    [event_id] = env.post(email_event("to-new-lead", user=env.org["admin"],
                                      to=["newman@hooli.example"]))
    [item] = env.wait([event_id])[event_id]
    assert item["status"] == "synced", item
    [task] = env.soql(f"SELECT WhoId FROM Task WHERE Id = '{item['salesforce_ids'][0]}'")
    assert task["WhoId"] == made["Id"]


def test_a_second_create_for_the_address_is_refused_with_a_link(env: Env) -> None:
    fields = {"LastName": "Twice", "Company": "Echo", "Email": "twice@echo.example"}
    first = env.api("POST", "/api/v1/salesforce/records/Lead", json={"fields": fields})
    r = request(env, "POST", "/api/v1/salesforce/records/Contact",
                json={"fields": {"LastName": "Twice", "Email": "Twice@echo.example"}})
    assert r.status_code == 409, r.text
    body = r.json()
    assert "a Lead for this address was just created" in body["detail"]
    assert body["existing"]["Id"] == first["Id"] and body["existing"]["url"] == first["url"]
    assert len(env.soql("SELECT Id FROM Lead WHERE Email = 'twice@echo.example'")) == 1


def test_an_opportunity_created_from_a_person_gets_a_contact_role(env: Env) -> None:
    contact = env.records["contact"]
    made = env.api("POST", "/api/v1/salesforce/records/Opportunity", json={
        "fields": {"Name": "Expansion", "StageName": "Prospecting", "CloseDate": "2027-03-31"},
        "contact_id": contact})
    roles = env.soql("SELECT ContactId FROM OpportunityContactRole "
                     f"WHERE OpportunityId = '{made['Id']}'")
    assert [r["ContactId"] for r in roles] == [contact]
    opps = person(env, "jane@globex.example")["records"][0]["opportunities"]
    mine = next(o for o in opps if o["Id"] == made["Id"])
    assert mine["contact_role"] is True and mine["fields"]["Name"] == "Expansion"


def test_create_forms_ask_for_the_layout_required_fields(env: Env) -> None:
    form = env.api("GET", "/api/v1/salesforce/forms/Lead")
    required = [f["label"] for f in form["fields"] if f["required"]]
    assert "Last Name" in required and "Company" in required
    status = next(f for f in form["fields"] if f["name"] == "Status")
    assert status["picklist"]


def test_the_roles_visible_fields_and_get_latest_fields_shape_the_view(env: Env) -> None:
    env.set_role(visible_fields={"Contact": ["Title", "Department"]})
    contact = person(env, "jane@globex.example")["records"][0]
    assert list(contact["fields"]) == ["Title", "Department", "LastName"]  # required: always
    r = request(env, "PATCH", f"/api/v1/salesforce/records/Contact/{contact['Id']}", json={
        "fields": {"Phone": "1"}, "expected_modstamp": contact["SystemModstamp"]})
    assert r.status_code == 422 and r.json()["field"] == "fields.Phone"  # not shown: not edited
    env.act("POST", "/objects/Lead/fields", json={"name": "Region__c", "type": "string",
                                                  "label": "Region"})
    labels = [f["label"] for f in env.api("GET", "/api/v1/salesforce/forms/Lead")["fields"]]
    assert "Region" not in labels
    env.sync("fields")
    env.set_role(visible_fields={"Lead": ["Region__c"]})
    labels = [f["label"] for f in env.api("GET", "/api/v1/salesforce/forms/Lead")["fields"]]
    assert "Region" in labels

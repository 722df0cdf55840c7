"""The package's activity key field, Tether_Activity_Key__c on Task and Event, and the activity
relation rule (an activity about a lead relates to nothing else)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Sfemu
from tests.sfemu.rest_helpers import Rest

KEY = "Tether_Activity_Key__c"
HOOK = "http://127.0.0.1:9/webhooks/salesforce/w1"  # nothing listens; deliveries just wait
EVENT_TIMES = {"StartDateTime": "2026-12-01T10:00:00Z", "DurationInMinutes": 30}


def install(sfemu: Sfemu, org: dict[str, str], **extra: Any) -> dict[str, Any]:
    r = sfemu.admin("POST", f"/orgs/{org['name']}/package",
                    json={"webhook_url": HOOK, "token": "t", **extra})
    assert r.status_code == 200, r.text
    return dict(r.json())


def status(sfemu: Sfemu, org: dict[str, str]) -> dict[str, Any]:
    r = sfemu.admin("GET", f"/orgs/{org['name']}/package")
    assert r.status_code == 200, r.text
    return dict(r.json())


def key_fields(admin: Rest, sobject: str) -> list[dict[str, Any]]:
    describe = admin.call("GET", f"sobjects/{sobject}/describe").json()
    return [f for f in describe["fields"] if f["name"].lower() == KEY.lower()]


@pytest.mark.parametrize("sobject", ["Task", "Event"])
def test_install_adds_an_external_id_on_task_and_event(sfemu: Sfemu, org: dict[str, str],
                                                        admin: Rest, sobject: str) -> None:
    assert key_fields(admin, sobject) == []
    assert install(sfemu, org)["activity_key_field"] is True
    assert status(sfemu, org)["activity_key_field"] is True
    (field,) = key_fields(admin, sobject)
    assert {k: field[k] for k in (
        "type", "length", "label", "custom", "externalId", "unique", "caseSensitive",
        "idLookup", "filterable", "createable", "updateable", "nillable")} == {
        "type": "string", "length": 80, "label": "Tether Activity Key", "custom": True,
        "externalId": True, "unique": True, "caseSensitive": True, "idLookup": True,
        "filterable": True, "createable": True, "updateable": True, "nillable": True}
    # Other objects are untouched.
    assert key_fields(admin, "Account") == []


def test_installing_twice_changes_nothing(sfemu: Sfemu, org: dict[str, str],
                                          admin: Rest) -> None:
    install(sfemu, org)
    task = admin.create("Task", Subject="Call", **{KEY: "k1"})
    install(sfemu, org)
    install(sfemu, org, activity_key_field=True)
    assert len(key_fields(admin, "Task")) == 1 and len(key_fields(admin, "Event")) == 1
    assert admin.get("Task", task)[KEY] == "k1"  # reinstalling keeps the values


def test_install_without_the_field(sfemu: Sfemu, org: dict[str, str], admin: Rest) -> None:
    assert install(sfemu, org, activity_key_field=False)["activity_key_field"] is False
    assert status(sfemu, org) | {"pending": 0} == {
        "installed": True, "webhook_url": HOOK, "activity_key_field": False, "pending": 0,
        "delivered": 0, "attempts": 0}
    assert key_fields(admin, "Task") == [] and key_fields(admin, "Event") == []
    r = admin.call("PATCH", f"sobjects/Task/{KEY}/k1", json={"Subject": "x"})
    assert r.status_code == 404 and admin.error(r)["errorCode"] == "NOT_FOUND"
    # Switching it on later adds it; switching it off again takes it away.
    install(sfemu, org)
    assert len(key_fields(admin, "Task")) == 1
    install(sfemu, org, activity_key_field=False)
    assert key_fields(admin, "Task") == [] and key_fields(admin, "Event") == []


@pytest.mark.parametrize("value", ["true", 1, 0, None, [True]])
def test_activity_key_field_must_be_a_boolean(sfemu: Sfemu, org: dict[str, str],
                                              admin: Rest, value: object) -> None:
    r = sfemu.admin("POST", f"/orgs/{org['name']}/package",
                    json={"webhook_url": HOOK, "token": "t", "activity_key_field": value})
    assert r.status_code == 400
    (error,) = r.json()
    assert error["errorCode"] == "INVALID_FIELD" and error["fields"] == ["activity_key_field"]
    assert status(sfemu, org)["installed"] is False
    assert key_fields(admin, "Task") == []


@pytest.mark.parametrize("sobject,extra", [("Task", {}), ("Event", EVENT_TIMES)])
def test_rest_upsert_creates_then_updates_the_same_record(sfemu: Sfemu, org: dict[str, str],
                                                          admin: Rest, sobject: str,
                                                          extra: dict[str, Any]) -> None:
    install(sfemu, org)
    first = admin.call("PATCH", f"sobjects/{sobject}/{KEY}/k1",
                       json={"Subject": "Sent: 1", **extra})
    assert first.status_code == 201, first.text
    assert first.json() | {"id": "x"} == {"id": "x", "success": True, "errors": [],
                                          "created": True}
    rid = first.json()["id"]
    second = admin.call("PATCH", f"sobjects/{sobject}/{KEY}/k1", json={"Subject": "Sent: 2"})
    assert second.status_code == 200, second.text
    assert second.json() == {"id": rid, "success": True, "errors": [], "created": False}
    record = admin.get(sobject, rid)
    assert record[KEY] == "k1" and record["Subject"] == "Sent: 2"
    assert admin.query(f"SELECT COUNT() FROM {sobject}")["totalSize"] == 1
    found = admin.call("GET", f"sobjects/{sobject}/{KEY}/k1")
    assert found.status_code == 200 and found.json()["Id"] == rid


def test_collection_upsert_answers_per_record(sfemu: Sfemu, org: dict[str, str],
                                              admin: Rest) -> None:
    install(sfemu, org)
    body = {"allOrNone": False, "records": [
        {"attributes": {"type": "Task"}, KEY: "k1", "Subject": "x", "Status": "Completed"},
        {"attributes": {"type": "Task"}, KEY: "k2", "Subject": "y"},
        {"attributes": {"type": "Task"}, KEY: "k" * 81, "Subject": "z"}]}
    r = admin.call("PATCH", f"composite/sobjects/Task/{KEY}", json=body)
    assert r.status_code == 200, r.text
    first = r.json()
    assert [sorted(x) for x in first[:2]] == [["created", "errors", "id", "success"]] * 2
    assert [(x["success"], x["created"], x["errors"]) for x in first[:2]] == [
        (True, True, []), (True, True, [])]
    # A bad record fails alone (allOrNone false) and says why.
    assert first[2]["success"] is False
    assert [(e["statusCode"], e["fields"]) for e in first[2]["errors"]] == [
        ("STRING_TOO_LONG", [KEY])]
    body["records"][0]["Subject"] = "x again"
    second = admin.call("PATCH", f"composite/sobjects/Task/{KEY}", json=body).json()
    assert [(x["id"], x["created"]) for x in second[:2]] == [
        (first[0]["id"], False), (first[1]["id"], False)]
    rows = admin.query(f"SELECT Id, Subject FROM Task WHERE {KEY} = 'k1'")["records"]
    assert [(row["Id"], row["Subject"]) for row in rows] == [(first[0]["id"], "x again")]
    assert admin.query("SELECT COUNT() FROM Task")["totalSize"] == 2


def test_a_duplicate_key_is_refused(sfemu: Sfemu, org: dict[str, str], admin: Rest) -> None:
    install(sfemu, org)
    task = admin.create("Task", Subject="a", **{KEY: "k1"})
    r = admin.call("POST", "sobjects/Task", json={"Subject": "b", KEY: "k1"})
    error = admin.error(r)
    assert r.status_code == 400 and error["errorCode"] == "DUPLICATE_VALUE"
    assert task in error["message"] and error["fields"] == [KEY]
    other = admin.create("Task", Subject="c", **{KEY: "k2"})
    moved = admin.call("PATCH", f"sobjects/Task/{other}", json={KEY: "k1"})
    assert admin.error(moved)["errorCode"] == "DUPLICATE_VALUE"
    event = admin.create("Event", Subject="m", **EVENT_TIMES, **{KEY: "e1"})
    again = admin.call("POST", "sobjects/Event", json={"Subject": "n", **EVENT_TIMES, KEY: "e1"})
    assert admin.error(again)["errorCode"] == "DUPLICATE_VALUE" and event in admin.error(
        again)["message"]
    assert admin.query(f"SELECT COUNT() FROM Task WHERE {KEY} = 'k1'")["totalSize"] == 1


def test_the_key_is_case_sensitive(sfemu: Sfemu, org: dict[str, str], admin: Rest) -> None:
    install(sfemu, org)
    lower = admin.call("PATCH", f"sobjects/Task/{KEY}/ab-1", json={"Subject": "lower"}).json()
    upper = admin.call("PATCH", f"sobjects/Task/{KEY}/AB-1", json={"Subject": "upper"}).json()
    assert lower["created"] is True and upper["created"] is True
    assert lower["id"] != upper["id"]
    # SOQL = is case-sensitive on a unique case-sensitive field, case-insensitive elsewhere.
    rows = admin.query(f"SELECT Subject FROM Task WHERE {KEY} = 'AB-1'")["records"]
    assert [r["Subject"] for r in rows] == ["upper"]
    rows = admin.query(f"SELECT Subject FROM Task WHERE {KEY} IN ('ab-1', 'x')")["records"]
    assert [r["Subject"] for r in rows] == ["lower"]
    assert admin.query("SELECT COUNT() FROM Task WHERE Subject = 'UPPER'")["totalSize"] == 1


def test_uninstall_removes_the_field_and_its_values(sfemu: Sfemu, org: dict[str, str],
                                                    admin: Rest) -> None:
    install(sfemu, org)
    task = admin.create("Task", Subject="a", **{KEY: "k1"})
    event = admin.create("Event", Subject="m", **EVENT_TIMES, **{KEY: "e1"})
    r = sfemu.admin("DELETE", f"/orgs/{org['name']}/package")
    assert r.status_code == 200 and r.json() == {"installed": False}
    assert status(sfemu, org)["activity_key_field"] is False
    assert key_fields(admin, "Task") == [] and key_fields(admin, "Event") == []
    assert KEY not in admin.get("Task", task) and KEY not in admin.get("Event", event)
    gone = admin.call("GET", "query", params={"q": f"SELECT Id FROM Task WHERE {KEY} = 'k1'"})
    assert gone.status_code == 400 and admin.error(gone)["errorCode"] == "INVALID_FIELD"
    # Uninstalling again is harmless; installing again starts with empty keys.
    assert sfemu.admin("DELETE", f"/orgs/{org['name']}/package").status_code == 200
    install(sfemu, org)
    assert admin.get("Task", task)[KEY] is None
    assert admin.query(f"SELECT COUNT() FROM Task WHERE {KEY} = 'k1'")["totalSize"] == 0


def test_a_field_the_org_made_itself_is_kept(sfemu: Sfemu, org: dict[str, str],
                                             admin: Rest) -> None:
    mine = {"name": KEY, "type": "string", "length": 40, "externalId": True}
    r = sfemu.admin("POST", f"/orgs/{org['name']}/objects/Task/fields", json=mine)
    assert r.status_code == 201, r.text
    install(sfemu, org)  # no error, no second field
    (task_field,) = key_fields(admin, "Task")
    assert task_field["length"] == 40 and task_field["unique"] is False
    assert len(key_fields(admin, "Event")) == 1
    sfemu.admin("DELETE", f"/orgs/{org['name']}/package")
    assert len(key_fields(admin, "Task")) == 1 and key_fields(admin, "Event") == []
    # The admin field API refuses a second field of that name, in any spelling.
    again = sfemu.admin("POST", f"/orgs/{org['name']}/objects/Task/fields",
                        json={**mine, "name": KEY.lower()})
    assert again.status_code == 400 and again.json()[0]["errorCode"] == "DUPLICATE_DEVELOPER_NAME"


# -- an activity about a lead relates to nothing else ----------------------------------------
@pytest.mark.parametrize("sobject,extra", [("Task", {}), ("Event", EVENT_TIMES)])
def test_a_lead_activity_cannot_have_a_what(admin: Rest, sobject: str,
                                            extra: dict[str, Any]) -> None:
    lead = admin.create("Lead", LastName="Roe", Company="Initech")
    acct = admin.create("Account", Name="Initech")
    contact = admin.create("Contact", LastName="Doe", AccountId=acct)
    r = admin.call("POST", f"sobjects/{sobject}",
                   json={"Subject": "x", "WhoId": lead, "WhatId": acct, **extra})
    error = admin.error(r)
    assert r.status_code == 400 and error["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert error["fields"] == ["WhoId", "WhatId"] and "lead" in error["message"]
    assert admin.query(f"SELECT COUNT() FROM {sobject}")["totalSize"] == 0
    # Either one alone is fine, and so is a contact with a what.
    about_lead = admin.create(sobject, Subject="lead", WhoId=lead, **extra)
    about_acct = admin.create(sobject, Subject="acct", WhatId=acct, **extra)
    admin.create(sobject, Subject="both", WhoId=contact, WhatId=acct, **extra)
    # An update cannot make the combination either, from either side.
    add_what = admin.call("PATCH", f"sobjects/{sobject}/{about_lead}", json={"WhatId": acct})
    assert admin.error(add_what)["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    add_lead = admin.call("PATCH", f"sobjects/{sobject}/{about_acct}", json={"WhoId": lead})
    assert admin.error(add_lead)["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert admin.get(sobject, about_acct)["WhoId"] is None
    swap = admin.call("PATCH", f"sobjects/{sobject}/{about_lead}",
                      json={"WhoId": contact, "WhatId": acct})
    assert swap.status_code == 204, swap.text


def test_a_lead_activity_with_a_what_fails_alone_in_a_collection(sfemu: Sfemu,
                                                                 org: dict[str, str],
                                                                 admin: Rest) -> None:
    install(sfemu, org)
    lead = admin.create("Lead", LastName="Roe", Company="Initech")
    acct = admin.create("Account", Name="Initech")
    body = {"allOrNone": False, "records": [
        {"attributes": {"type": "Task"}, KEY: "k1", "Subject": "ok", "WhoId": lead},
        {"attributes": {"type": "Task"}, KEY: "k2", "Subject": "bad", "WhoId": lead,
         "WhatId": acct}]}
    out = admin.call("PATCH", f"composite/sobjects/Task/{KEY}", json=body).json()
    assert out[0]["success"] is True and out[0]["created"] is True
    assert out[1]["success"] is False
    assert out[1]["errors"][0]["statusCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert admin.query(f"SELECT {KEY} FROM Task")["records"][0][KEY] == "k1"

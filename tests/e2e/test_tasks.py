"""Tasks end to end (SQLite and PostgreSQL): to-do and call tasks logged to Salesforce when
created, edited and completed (one Task each, updated in place); an email task not logged
until its email is sent, then as Sent; what is refused, and why."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.e2e.activity_env import make_env
from tests.e2e.conftest import Tether
from tests.e2e.mail_env import Mail, connect_mailbox
from tests.e2e.seq_env import api, until
from tether.mail.local_server import LocalMailServer

DUE = (dt.date.today() + dt.timedelta(days=3)).isoformat()


@pytest.fixture
def mail(watch_tether: Tether, local_mail: LocalMailServer) -> Mail:
    return connect_mailbox(make_env(watch_tether), local_mail)


def sf_tasks(mail: Mail, where: str) -> list[dict[str, Any]]:
    return mail.env.soql("SELECT Id, Subject, Status, WhoId, ActivityDate, TaskSubtype, "
                         f"CallDurationInSeconds, CallDisposition FROM Task WHERE {where}")


def test_a_todo_is_logged_when_created_edited_and_completed(mail: Mail) -> None:
    t = api(mail, "POST", "/api/v1/tasks", 201, json={
        "kind": "todo", "subject": "Send the proposal", "due": DUE,
        "who": "jane@globex.example", "notes": "Pricing for 50 seats"})
    assert t["status"] == "open" and t["who"] == "jane@globex.example"
    [made] = until(lambda: sf_tasks(mail, "Subject = 'Send the proposal'"),
                   what="the Task created")
    assert made["Status"] == "Not Started" and made["ActivityDate"] == DUE
    assert made["WhoId"] == mail.env.records["contact"]
    api(mail, "PATCH", f"/api/v1/tasks/{t['id']}", json={"subject": "Send the proposal v2"})
    until(lambda: sf_tasks(mail, "Subject = 'Send the proposal v2'"), what="the edit")
    done = api(mail, "PATCH", f"/api/v1/tasks/{t['id']}", json={"status": "completed"})
    assert done["status"] == "completed" and done["completed_at"]
    [after] = until(lambda: [f for f in sf_tasks(mail, f"Id = '{made['Id']}'")
                             if f["Status"] == "Completed"], what="the Task completed")
    assert after["Subject"] == "Send the proposal v2"  # the same Task, updated in place
    assert len(sf_tasks(mail, "Subject LIKE 'Send the proposal%'")) == 1
    r = mail.request("PATCH", f"/api/v1/tasks/{t['id']}", json={"status": "open"})
    assert r.status_code == 409 and "cannot be reopened" in r.json()["detail"]


def test_a_call_task_logs_duration_disposition_and_notes(mail: Mail) -> None:
    t = api(mail, "POST", "/api/v1/tasks", 201, json={
        "kind": "call", "subject": "Call Jane", "due": DUE, "who": "jane@globex.example"})
    api(mail, "PATCH", f"/api/v1/tasks/{t['id']}", json={
        "status": "completed", "call": {"duration_s": 312, "disposition": "Left voicemail",
                                        "notes": "Call back Friday"}})
    [call] = until(lambda: [f for f in sf_tasks(mail, "Subject = 'Call Jane'")
                            if f["Status"] == "Completed"], what="the call logged")
    assert call["TaskSubtype"] == "Call" and call["CallDurationInSeconds"] == 312
    assert call["CallDisposition"] == "Left voicemail"
    r = mail.request("PATCH", f"/api/v1/tasks/{t['id']}", json={"call": {"duration_s": -1}})
    assert r.status_code == 422 and r.json()["field"] == "call.duration_s", r.text


def test_an_email_task_is_logged_only_as_sent_when_sent(mail: Mail) -> None:
    t = api(mail, "POST", "/api/v1/tasks", 201, json={
        "kind": "email", "subject": "Follow up with Jane", "due": DUE,
        "who": "jane@globex.example",
        "draft": {"subject": "Our call", "body": "<p>Thanks, {{First Name}}.</p>"}})
    r = mail.request("PATCH", f"/api/v1/tasks/{t['id']}", json={"status": "completed"})
    assert r.status_code == 409 and "sending its email" in r.json()["detail"]
    ignored = until(lambda: [i for i in mail.env.log(status="ignored")["items"]
                             if i["type"] == "task.created"], what="the task not logged")
    assert "logged as Sent when sent" in ignored[0]["reason"]
    out = api(mail, "POST", f"/api/v1/tasks/{t['id']}/send", 202)
    assert out["task"]["status"] == "completed" and out["message"]["id"]
    mail.wait(out["message"]["id"])
    [got] = until(lambda: mail.inbox("jane@globex.example"), what="the email")
    assert got["Subject"] == "Our call" and "Thanks, Jane." in str(got)
    until(lambda: sf_tasks(mail, "Subject = 'Sent (New): Our call'"), what="the Sent Task")
    assert not sf_tasks(mail, "Subject = 'Follow up with Jane'")
    r = mail.request("POST", f"/api/v1/tasks/{t['id']}/send")
    assert r.status_code == 422 and "not sent again" in r.json()["detail"]


def test_tasks_listed_and_bad_input_named(mail: Mail) -> None:
    soon = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    ids = [api(mail, "POST", "/api/v1/tasks", 201, json={
        "kind": kind, "subject": f"{kind} task", "due": due})["id"]
        for kind, due in (("todo", soon), ("linkedin", DUE))]
    api(mail, "PATCH", f"/api/v1/tasks/{ids[0]}", json={"status": "deferred"})
    listed = api(mail, "GET", "/api/v1/tasks")["items"]
    assert [t["id"] for t in listed] == ids  # by due date
    assert [t["id"] for t in api(mail, "GET", "/api/v1/tasks?status=deferred")["items"]] \
        == ids[:1]
    assert [t["id"] for t in api(mail, "GET", f"/api/v1/tasks?due_before={DUE}")["items"]] \
        == ids[:1]
    assert listed[1]["linkedin"] == "inmail"
    for body, field in (({"kind": "fax", "subject": "x", "due": DUE}, "kind"),
                        ({"kind": "todo", "subject": "x", "due": DUE, "who": "jane"}, "who"),
                        ({"kind": "todo", "subject": "x", "due": "2026-13-01"}, "due"),
                        ({"kind": "todo", "subject": "x", "due": DUE,
                          "draft": {"subject": "a", "body": "b"}}, "draft")):
        r = mail.request("POST", "/api/v1/tasks", json=body)
        assert r.status_code == 422 and field in str(r.json()["field"]), (body, r.text)
    r = mail.request("GET", "/api/v1/tasks?status=lost")
    assert r.status_code == 422 and r.json()["field"] == "status"
    assert mail.request("PATCH", "/api/v1/tasks/nope", json={}).status_code == 404


def test_the_roles_task_fields_are_filled_and_others_refused(mail: Mail) -> None:
    r = mail.request("POST", "/api/v1/tasks", json={
        "kind": "call", "subject": "Call with fields", "due": DUE,
        "who": "jane@globex.example", "fields": {"CallObject": "x"}})
    assert r.status_code == 422 and r.json()["field"] == "fields.CallObject", r.text
    assert "Priority" in r.json()["detail"]  # what the role shows by default
    mail.env.set_role(task_fields={"call": ["Priority", "CallObject"]})
    t = api(mail, "POST", "/api/v1/tasks", 201, json={
        "kind": "call", "subject": "Call with fields", "due": DUE,
        "who": "jane@globex.example", "fields": {"Priority": "High", "CallObject": "desk-7"}})
    assert t["fields"] == {"Priority": "High", "CallObject": "desk-7"}
    [made] = until(lambda: mail.env.soql(
        "SELECT Priority, CallObject, Subject FROM Task WHERE Subject = 'Call with fields'"),
        what="the Task with the role's fields")
    assert (made["Priority"], made["CallObject"]) == ("High", "desk-7")
    r = mail.request("POST", "/api/v1/tasks", json={
        "kind": "todo", "subject": "x", "due": DUE, "fields": {"Priority": "Urgentest"}})
    assert r.status_code == 422 and r.json()["field"] == "fields.Priority", r.text
    role_id = mail.env.api("GET", "/api/v1/workspace")["default_role_id"]
    r = mail.request("PATCH", f"/api/v1/roles/{role_id}",
                     json={"settings": {"task_fields": {"call": ["Subject"]}}})
    assert r.status_code == 422 and "Tether sets Subject itself" in r.json()["detail"], r.text
    r = mail.request("PATCH", f"/api/v1/roles/{role_id}",
                     json={"settings": {"task_fields": {"call": ["NoSuchField__c"]}}})
    assert r.status_code == 422 and "not a Task field" in r.json()["detail"], r.text

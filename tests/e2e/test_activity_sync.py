"""Activity sync end to end through sfemu: one test per event type, the reasons for writing
nothing, pending recipients, and the FAQ's validation rule — on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import time
from typing import Any

from tests.e2e.activity_env import Env, email_event, make_env
from tests.e2e.conftest import Tether
from tether.domain.naming import FAQ_SUBJECT_REGEX

SEQUENCE = {"name": "Q4 Outreach", "stage": 2}


def _tasks(env: Env, who: str | None = None, what: str | None = None) -> list[dict[str, Any]]:
    where = " AND ".join(([f"WhoId = '{who}'"] if who else [])
                         + ([f"WhatId = '{what}'"] if what else [])) or "Id != null"
    return env.soql("SELECT Id, Subject, WhoId, WhatId, Status, TaskSubtype, OwnerId, "
                    "ActivityDate, CallDurationInSeconds, CallDisposition, CallType, "
                    f"Description FROM Task WHERE {where} ORDER BY WhatId")


def _one(env: Env, event: dict[str, Any]) -> dict[str, Any]:
    (eid,) = env.post(event)
    (item,) = env.wait([eid])[eid]
    return item


def test_email_sent_lands_on_contact_account_and_opportunity(tether: Tether) -> None:
    env = make_env(tether)
    env.set_role(log_to_opportunities=True)
    item = _one(env, email_event("e1", user=env.org["admin"]))
    assert item["status"] == "synced", item
    tasks = _tasks(env, env.records["contact"])
    # One activity per related record: the Account and the open Opportunity where Jane has a
    # contact role; never the closed one (not allowed by the role).
    assert {t["WhatId"] for t in tasks} == {env.records["account"], env.records["opportunity"]}
    assert all(t["Subject"] == "Sent (New): Intro" for t in tasks)
    assert all(t["Status"] == "Completed" and t["TaskSubtype"] == "Email" for t in tasks)
    assert all(t["OwnerId"] == env.admin_sf_id for t in tasks)
    assert all(t["ActivityDate"] == "2026-11-28" for t in tasks)
    assert all("jane@globex.example" in t["Description"] for t in tasks)
    assert sorted(item["salesforce_ids"]) == sorted(t["Id"] for t in tasks)


def test_sent_reply_in_a_sequence_and_to_a_lead(tether: Tether) -> None:
    env = make_env(tether)
    env.post(email_event("r1", user=env.org["admin"], to=["LEE@initech.example"],
                         subject="Re: pricing", sequence=SEQUENCE,
                         message={"is_reply": True}),
             email_event("r2", user=env.org["admin"], subject="Re: hello",
                         message={"is_reply": True}))
    items = env.wait(["r1", "r2"])
    assert items["r1"][0]["status"] == items["r2"][0]["status"] == "synced"
    (lead_task,) = _tasks(env, env.records["lead"])
    assert lead_task["Subject"] == "Reply [Q4 Outreach (#2)]: Re: pricing"
    assert lead_task["WhatId"] is None  # a Lead's activity has no WhatId
    assert {t["Subject"] for t in _tasks(env, env.records["contact"])} == {
        "Sent (Reply): Re: hello"}


def _tracking(env: Env, event_type: str, verb: str, **extra: Any) -> None:
    item = _one(env, email_event(f"{verb}-1", event_type, user=env.org["admin"],
                                 recipient="jane@globex.example", **extra))
    assert item["status"] == "synced", item
    seq = _one(env, email_event(f"{verb}-2", event_type, user=env.org["admin"],
                                recipient="jane@globex.example", sequence=SEQUENCE,
                                subject="Follow up", **extra))
    assert seq["status"] == "synced", seq
    subjects = sorted(t["Subject"] for t in _tasks(env, env.records["contact"]))
    assert subjects == sorted([f"{verb}: Intro", f"{verb} [Q4 Outreach (#2)]: Follow up"])


def test_email_opened(tether: Tether) -> None:
    env = make_env(tether)
    env.set_role(log_to_accounts=False)
    _tracking(env, "email.opened", "Opened")


def test_email_clicked(tether: Tether) -> None:
    env = make_env(tether)
    env.set_role(log_to_accounts=False)
    _tracking(env, "email.clicked", "Clicked", url="https://globex.example/pricing")
    assert all("https://globex.example/pricing" in t["Description"]
               for t in _tasks(env, env.records["contact"]))


def test_email_downloaded(tether: Tether) -> None:
    env = make_env(tether)
    env.set_role(log_to_accounts=False)
    _tracking(env, "email.downloaded", "Downloaded", file_name="deck.pdf")


def test_email_replied(tether: Tether) -> None:
    env = make_env(tether)
    env.set_role(log_to_accounts=False)
    _tracking(env, "email.replied", "Replied")


def test_email_received(tether: Tether) -> None:
    env = make_env(tether)
    env.set_role(log_to_accounts=False)
    item = _one(env, email_event("in1", "email.received", user=env.org["admin"],
                                 to=[env.org["admin"]], recipient="jane@globex.example",
                                 subject="Question"))
    assert item["status"] == "synced", item
    (task,) = _tasks(env, env.records["contact"])
    assert task["Subject"] == "Replied (Inbound): Question"


def _meeting(env: Env, event_id: str, event_type: str, **changes: Any) -> dict[str, Any]:
    meeting = {"id": "m1", "title": "Demo with Globex", "start": "2026-12-01T15:00:00Z",
               "end": "2026-12-01T15:30:00Z", "organizer": env.org["admin"],
               "attendees": [env.org["admin"], "jane@globex.example", "lee@initech.example"],
               "calendar": "primary", **changes}
    return {"id": event_id, "type": event_type, "occurred_at": "2026-11-28T10:00:00Z",
            "user": env.org["admin"], "meeting": meeting}


def _events(env: Env) -> list[dict[str, Any]]:
    return env.soql("SELECT Id, Subject, WhoId, WhatId, StartDateTime, EndDateTime, OwnerId "
                    "FROM Event ORDER BY WhoId")


def test_meeting_confirmed(tether: Tether) -> None:
    env = make_env(tether)
    env.set_role(log_to_accounts=False)
    env.post(_meeting(env, "mc1", "meeting.confirmed"))
    items = env.wait(["mc1"])["mc1"]
    assert sorted(i["recipient"] for i in items) == ["jane@globex.example",
                                                     "lee@initech.example"]
    assert all(i["status"] == "synced" for i in items), items
    events = _events(env)
    assert {e["WhoId"] for e in events} == {env.records["contact"], env.records["lead"]}
    assert all(e["Subject"] == "Meeting Confirmed: Demo with Globex" for e in events)
    assert all(e["StartDateTime"].startswith("2026-12-01T15:00:00") for e in events)
    assert all(e["EndDateTime"].startswith("2026-12-01T15:30:00") for e in events)
    assert all(e["OwnerId"] == env.admin_sf_id for e in events)


def test_calendar_event_update_and_cancel(tether: Tether) -> None:
    env = make_env(tether)
    env.set_role(log_to_accounts=False)
    env.post(_meeting(env, "c1", "calendar.event"))
    env.wait(["c1"])
    first = {e["WhoId"]: e["Id"] for e in _events(env)}
    assert set(first) == {env.records["contact"], env.records["lead"]}
    # Moved, and Lee no longer attends: Jane's Event changes in place, Lee's is deleted.
    env.post(_meeting(env, "c2", "calendar.event", start="2026-12-02T09:00:00Z",
                      end="2026-12-02T10:00:00Z",
                      attendees=[env.org["admin"], "jane@globex.example"]))
    env.wait(["c2"])
    moved = _events(env)
    assert [(e["Id"], e["StartDateTime"][:19]) for e in moved] == [
        (first[env.records["contact"]], "2026-12-02T09:00:00")]
    env.post(_meeting(env, "c3", "calendar.event", status="cancelled",
                      attendees=[env.org["admin"], "jane@globex.example"]))
    env.wait(["c3"])
    assert _events(env) == []
    # Not the organizer's primary calendar: nothing is written.
    env.post(_meeting(env, "c4", "calendar.event", id="m2", calendar="team"))
    assert {i["reason"] for i in env.wait(["c4"])["c4"]} == {
        "the meeting is not on the organizer's primary calendar"}
    assert _events(env) == []


def _task_event(env: Env, event_id: str, event_type: str, **task: Any) -> dict[str, Any]:
    return {"id": event_id, "type": event_type, "occurred_at": "2026-11-28T10:00:00Z",
            "user": env.org["admin"],
            "task": {"id": "task-1", "kind": "todo", "subject": "Send the contract",
                     "due": "2026-12-03", "status": "open", "who": "jane@globex.example",
                     **task}}


def test_task_created_updated_completed(tether: Tether) -> None:
    env = make_env(tether)
    env.set_role(log_to_accounts=False)
    assert _one(env, _task_event(env, "t1", "task.created"))["status"] == "synced"
    (task,) = _tasks(env, env.records["contact"])
    assert (task["Subject"], task["Status"], task["TaskSubtype"], task["ActivityDate"]) == (
        "Send the contract", "Not Started", "Task", "2026-12-03")
    assert _one(env, _task_event(env, "t2", "task.updated", subject="Send the signed contract",
                                 due="2026-12-05"))["status"] == "synced"
    assert _one(env, _task_event(env, "t3", "task.completed", subject="Send the signed "
                                 "contract", due="2026-12-05"))["status"] == "synced"
    (done,) = _tasks(env, env.records["contact"])
    assert done["Id"] == task["Id"]
    assert (done["Subject"], done["Status"], done["ActivityDate"]) == (
        "Send the signed contract", "Completed", "2026-12-05")
    # Email tasks wait for the email: logged as Sent when sent, not when created.
    email_task = _one(env, _task_event(env, "t4", "task.created", id="task-2", kind="email"))
    assert email_task["status"] == "ignored"
    assert "logged as Sent when sent" in email_task["reason"]


def test_call_logged(tether: Tether) -> None:
    env = make_env(tether)
    env.set_role(log_to_accounts=False)
    item = _one(env, {"id": "call1", "type": "call.logged", "occurred_at": "2026-11-28T10:00:00Z",
                      "user": env.org["admin"],
                      "call": {"id": "c-1", "to": "jane@globex.example", "duration_s": 312,
                               "disposition": "Connected", "direction": "outbound",
                               "notes": "Wants a quote"}})
    assert item["status"] == "synced", item
    (task,) = _tasks(env, env.records["contact"])
    assert task["TaskSubtype"] == "Call" and task["CallDurationInSeconds"] == 312
    assert task["CallDisposition"] == "Connected" and task["CallType"] == "Outbound"
    assert "Wants a quote" in task["Description"]
    # The subject and Description name the person (from the mirror), not only the address.
    assert task["Subject"].startswith("Call with Jane Doe"), task["Subject"]
    assert "Jane Doe <jane@globex.example>" in task["Description"], task["Description"]


def test_reasons_to_write_nothing(tether: Tether) -> None:
    env = make_env(tether)
    env.set_role(log_to_accounts=False, first_only=True,
                 activities=["sent", "replied", "clicked", "downloaded", "meeting_confirmed",
                             "tasks"])
    env.api("POST", "/api/v1/exclusions", json={"kind": "domain", "value": "initech.example"})
    admin = env.org["admin"]
    env.post(
        email_event("o1", "email.opened", user=admin, recipient="jane@globex.example"),
        email_event("x1", user=admin, to=["lee@initech.example"]),
        email_event("b1", user=admin, to=["jane@globex.example"],
                    message={"bcc": ["boss@globex.example"]}),
        email_event("n1", user=admin, to=["noreply@globex.example"]),
        email_event("k1", "email.clicked", user=admin, recipient="jane@globex.example",
                    url="https://a.example"),
        email_event("k2", "email.clicked", user=admin, recipient="jane@globex.example",
                    url="https://b.example", message={"id": "<k1@acme.example>"}),
    )
    items = env.wait(["o1", "x1", "b1", "n1", "k1", "k2"])
    reason = {eid: {i["recipient"]: (i["status"], i["reason"]) for i in its}
              for eid, its in items.items()}
    assert reason["o1"]["jane@globex.example"] == (
        "ignored", "'opened' activities are switched off for the role Default")
    assert reason["x1"]["lee@initech.example"][0] == "ignored"
    assert "initech.example is an excluded domain" in reason["x1"]["lee@initech.example"][1]
    assert reason["b1"]["boss@globex.example"] == ("ignored", "BCC recipients are never logged")
    assert reason["b1"]["jane@globex.example"][0] == "synced"
    assert "role address" in reason["n1"]["noreply@globex.example"][1]
    assert reason["k1"]["jane@globex.example"][0] == "synced"
    # The second click on the same message by the same recipient: first only.
    assert reason["k2"]["jane@globex.example"][0] == "ignored"
    assert "only sync the first" in reason["k2"]["jane@globex.example"][1]
    subjects = sorted(t["Subject"] for t in _tasks(env))
    assert subjects == ["Clicked: Intro", "Sent (New): Intro"]


def test_converted_lead_logs_on_its_contact(tether: Tether) -> None:
    env = make_env(tether)
    env.set_role(log_to_accounts=False)
    converted = env.act("POST", f"/leads/{env.records['lead']}/convert",
                        json={"create_opportunity": False})
    env.sync("interval")
    item = _one(env, email_event("cv1", user=env.org["admin"], to=["lee@initech.example"]))
    assert item["status"] == "synced", item
    detail = env.api("GET", f"/api/v1/activity-log/{item['id']}")
    assert detail["match"]["Id"] == converted["contactId"]
    assert "was converted" in detail["match"]["reason"]
    (task,) = _tasks(env, converted["contactId"])
    assert task["Subject"] == "Sent (New): Intro"
    assert _tasks(env, env.records["lead"]) == []


def test_pending_recipient_is_logged_after_the_next_sync(tether: Tether) -> None:
    env = make_env(tether)
    env.set_role(log_to_accounts=False)
    item = _one(env, email_event("p1", user=env.org["admin"], to=["newbie@hooli.example"]))
    assert (item["status"], item["reason"]) == ("pending",
                                                "no Lead or Contact with this email yet")
    contact = env.create("Contact", LastName="Newbie", Email="Newbie@Hooli.example")
    env.sync("interval")
    done = env.wait(["p1"], statuses=("synced",))["p1"][0]
    assert done["status"] == "synced", done
    (task,) = _tasks(env, contact)
    assert task["Subject"] == "Sent (New): Intro"


def test_faq_subject_rule_accepts_every_subject(tether: Tether) -> None:
    """The FAQ's validation rule on Task Subject, installed in the org: every subject Tether
    writes for email activity passes it."""
    env = make_env(tether)
    env.set_role(log_to_accounts=False)
    env.act("POST", "/validation-rules", json={
        "object": "Task", "name": "Mixmax_subjects",
        "formula": f'NOT(REGEX(Subject, "{FAQ_SUBJECT_REGEX.replace(chr(92), chr(92) * 2)}"))',
        "message": "Subject must be a Tether activity subject"})
    admin, jane = env.org["admin"], "jane@globex.example"
    long_subject = "Line one\nline two: [weird] (chars) " + "x" * 400
    events = [
        email_event("v1", user=admin, subject=long_subject),
        email_event("v2", user=admin, subject="Re: x", message={"is_reply": True}),
        email_event("v3", user=admin, sequence={"name": "Seq ] (x)" * 30, "stage": 3}),
        email_event("v4", user=admin, sequence=SEQUENCE, message={"is_reply": True}),
        *(email_event(f"v5{i}", t, user=admin, recipient=jane, url="https://u.example",
                      file_name="f.pdf", sequence=seq)
          for i, (t, seq) in enumerate(
              [(t, s) for t in ("email.opened", "email.clicked", "email.downloaded",
                                "email.replied", "email.received")
               for s in (None, SEQUENCE)])),
    ]
    env.post(*[{k: v for k, v in e.items() if v is not None} for e in events])
    items = env.wait([e["id"] for e in events])
    statuses = {eid: its[0]["status"] for eid, its in items.items()}
    assert set(statuses.values()) == {"synced"}, items
    subjects = [t["Subject"] for t in _tasks(env)]
    assert len(subjects) == len(events)
    assert all(re.fullmatch(FAQ_SUBJECT_REGEX, s) and len(s) <= 255 for s in subjects)


def test_a_contact_deleted_unseen_is_checked_reaudited_and_planned_again(tether: Tether
                                                                         ) -> None:
    """The mirror still has a Contact that Salesforce deleted (no real-time, no sync since):
    the write is refused, a query confirms the Contact is gone, it leaves the mirror, Contact
    is flagged for re-audit, and the event is planned again — pending, not errored."""
    env = make_env(tether)
    env.set_role(log_to_accounts=False)
    gone = env.records["contact"]
    env.act("DELETE", f"/records/Contact/{gone}")
    (eid,) = env.post(email_event("g1", user=env.org["admin"]))
    (item,) = env.wait([eid], statuses=("pending",), timeout=30)[eid]
    deadline = time.monotonic() + 20
    while item["reason"] != "no Lead or Contact with this email yet":
        assert time.monotonic() < deadline, item
        time.sleep(0.1)
        (item,) = [i for i in env.log()["items"] if i["event_id"] == eid]
    assert env.log(status="errored")["items"] == []
    assert _tasks(env) == []
    # The flag makes the next interval sync audit Contact; the recipient, back in Salesforce
    # under a new record, then gets the activity.
    fresh = env.create("Contact", LastName="Doe", Email="jane@globex.example")
    env.sync("interval")
    done = env.wait([eid], statuses=("synced",))[eid][0]
    assert done["status"] == "synced", done
    (task,) = _tasks(env)
    assert task["WhoId"] == fresh and task["Subject"] == "Sent (New): Intro"


def test_attempts_count_every_send_across_a_retry(tether: Tether) -> None:
    """Refused by a validation rule, retried from the log once the rule is gone: the activity
    and its write count two attempts, as the write's log lists two."""
    env = make_env(tether)
    env.set_role(log_to_accounts=False)
    env.act("POST", "/validation-rules", json={
        "object": "Task", "name": "No_tasks", "formula": "true", "message": "No tasks today"})
    (item,) = _one_item(env, email_event("att1", user=env.org["admin"]))
    assert item["status"] == "errored" and item["attempts"] == 1, item
    env.act("DELETE", "/validation-rules/No_tasks")
    assert env.api("POST", f"/api/v1/activity-log/{item['id']}/retry")
    (item,) = env.wait(["att1"], statuses=("synced",))["att1"]
    detail = env.api("GET", f"/api/v1/activity-log/{item['id']}")
    (write,) = detail["writes"]
    assert [e["result"] for e in write["log"]] == ["error", "ok"], write["log"]
    assert write["attempts"] == 2 and item["attempts"] == 2, (write, item)


def _one_item(env: Env, event: dict[str, Any]) -> list[dict[str, Any]]:
    (eid,) = env.post(event)
    return env.wait([eid])[eid]

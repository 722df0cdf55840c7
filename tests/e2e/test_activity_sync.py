"""Activity sync end to end through sfemu: one test per event type, the reasons for writing
nothing, pending recipients, and the FAQ's validation rule — on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.e2e.activity_env import Env, email_event, make_env
from tests.e2e.conftest import Tether


def _tasks(env: Env, who: str) -> list[dict[str, str]]:
    return env.soql("SELECT Id, Subject, WhoId, WhatId, Status, TaskSubtype, OwnerId, "
                    f"Description FROM Task WHERE WhoId = '{who}' ORDER BY WhatId")


def test_email_sent_lands_on_contact_account_and_opportunity(tether: Tether) -> None:
    env = make_env(tether)
    env.set_role(log_to_opportunities=True)
    (eid,) = env.post(email_event("e1", user=env.org["admin"]))
    items = env.wait([eid])[eid]
    assert [i["status"] for i in items] == ["synced"], items
    tasks = _tasks(env, env.records["contact"])
    assert {t["WhatId"] for t in tasks} == {env.records["account"], env.records["opportunity"]}
    assert all(t["Subject"] == "Sent (New): Intro" for t in tasks)
    assert all(t["Status"] == "Completed" and t["TaskSubtype"] == "Email" for t in tasks)
    assert all(t["OwnerId"] == env.admin_sf_id for t in tasks)
    assert sorted(items[0]["salesforce_ids"]) == sorted(t["Id"] for t in tasks)

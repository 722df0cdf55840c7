"""No event stops the pipeline, and no rep's activity is dropped (issue: hardening, items 1
and 2), end to end through sfemu on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from sqlalchemy import update

from tests.e2e.activity_env import Env, email_event, make_env
from tests.e2e.conftest import Tether
from tether.domain import planner
from tether.services.activity_log import REPLAN_REASON
from tether.store.db import make_engine, session_factory
from tether.store.models import ActivityRow, ActivityWrite
from tether.sync import push


def _db_execute(tether: Tether, statement: Any) -> None:
    engine = make_engine(tether.settings.effective_database_url)
    with session_factory(engine)() as db:
        db.execute(statement)
        db.commit()
    engine.dispose()


def _items(env: Env, event_ids: list[str], statuses: tuple[str, ...], timeout: float = 120,
           key: str | None = None) -> dict[str, dict[str, Any]]:
    """Each event's one log item, once all are in one of ``statuses``."""
    found = env.wait(event_ids, timeout=timeout, statuses=statuses, key=key)
    return {eid: items[0] for eid, items in found.items()}


def test_one_event_that_fails_planning_holds_back_no_other(tether: Tether,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """The planner raises for one chosen event among 1,000 of two workspaces: it is
    errored with the exception as its reason, the 999 others land, and a retry from the log
    plans it again once the fault is gone."""
    acme, globex = make_env(tether), make_env(tether)
    real_plan = planner.plan
    broken = {"acme-0137"}

    def plan(inp: planner.PlanInput) -> list[planner.ActivityPlan]:
        if inp.event.id in broken:
            raise OverflowError("date value out of range")
        return real_plan(inp)

    monkeypatch.setattr(planner, "plan", plan)
    ids: dict[str, list[str]] = {}
    for env, name in ((acme, "acme"), (globex, "globex")):
        events = [email_event(f"{name}-{i:04}", user=env.org["admin"]) for i in range(500)]
        ids[name] = env.post(*events)
    items = {**_items(acme, ids["acme"], ("synced", "errored")),
             **_items(globex, ids["globex"], ("synced", "errored"))}
    errored = {eid: i for eid, i in items.items() if i["status"] == "errored"}
    assert set(errored) == broken
    item = errored["acme-0137"]
    assert item["reason"] == ("Tether could not plan this event: OverflowError: date value "
                              "out of range")
    assert item["error_code"] == "TETHER_PLANNING_FAILED"
    assert sum(i["status"] == "synced" for i in items.values()) == 999
    for env in (acme, globex):
        (count,) = env.soql("SELECT COUNT(Id) n FROM Task")
        assert count["n"] == (499 if env is acme else 500)  # on Jane and her Account

    broken.clear()  # the fault is fixed: a retry from the log lands it
    assert acme.api("POST", "/api/v1/activity-log/retry")["retried"] == 1
    (item,) = acme.wait(["acme-0137"], statuses=("synced",))["acme-0137"]
    assert item["status"] == "synced" and len(item["salesforce_ids"]) == 1
    assert acme.log(status="errored")["counts"]["errored"] == 0


def test_a_reps_activity_waits_until_they_connect(tether: Tether) -> None:
    env = make_env(tether)
    rep_key = tether.add_member(env.ws_id, env.org["rep"])
    (eid,) = env.post(email_event("late-1", user=env.org["rep"]), key=rep_key)
    item = _items(env, [eid], ("pending",))[eid]
    assert item["reason"] == (f"{env.org['rep']} has no Salesforce connection yet: logged "
                              "once they connect")
    assert env.soql("SELECT Id FROM Task") == []
    page = tether.connect(rep_key, env.org["rep"])  # a day late
    assert "Salesforce connected" in page.text, page.text
    item = _items(env, [eid], ("synced",))[eid]
    rep_id = env.soql(f"SELECT Id FROM User WHERE Username = '{env.org['rep']}'")[0]["Id"]
    tasks = env.soql("SELECT Id, OwnerId FROM Task")
    assert sorted(t["Id"] for t in tasks) == sorted(item["salesforce_ids"])
    assert {t["OwnerId"] for t in tasks} == {rep_id}


def test_the_sync_user_writes_for_a_rep_not_connected(tether: Tether) -> None:
    env = make_env(tether)
    rep_key = tether.add_member(env.ws_id, env.org["rep"])
    me = env.api("GET", "/api/v1/me")
    env.api("PUT", "/api/v1/salesforce/sync-user", json={"membership_id": me["membership_id"]})
    (eid,) = env.post(email_event("early-1", user=env.org["rep"]), key=rep_key)
    item = _items(env, [eid], ("pending",))[eid]
    assert "no Salesforce connection" in item["reason"]
    env.api("PATCH", "/api/v1/workspace", json={"unconnected_activity": "sync_user"})
    item = _items(env, [eid], ("synced",))[eid]  # the waiting activity, written now
    (eid2,) = env.post(email_event("early-2", user=env.org["rep"]), key=rep_key)
    item2 = _items(env, [eid2], ("synced",))[eid2]
    rep_id = env.soql(f"SELECT Id FROM User WHERE Username = '{env.org['rep']}'")[0]["Id"]
    tasks = env.soql("SELECT Id, OwnerId FROM Task")
    assert sorted(t["Id"] for t in tasks) == sorted(item["salesforce_ids"]
                                                    + item2["salesforce_ids"])
    assert {t["OwnerId"] for t in tasks} == {rep_id}  # the rep's, though the admin wrote them


def test_the_sync_user_mode_needs_a_sync_user(tether: Tether) -> None:
    _, key = tether.new_workspace("Initech", "admin@initech.example")  # not connected yet
    with tether.client(key) as c:
        r = c.patch("/api/v1/workspace", json={"unconnected_activity": "sync_user"})
        assert r.status_code == 422 and r.json()["field"] == "unconnected_activity"
        assert "Sync User" in r.json()["detail"]
        r = c.patch("/api/v1/workspace", json={"unconnected_pending_days": 0})
        assert r.status_code == 422 and r.json()["field"] == "unconnected_pending_days"


def test_waiting_for_a_connection_expires_into_errored_and_retries(tether: Tether) -> None:
    env = make_env(tether)
    env.api("PATCH", "/api/v1/workspace", json={"unconnected_pending_days": 7})
    rep_key = tether.add_member(env.ws_id, env.org["rep"])
    (eid,) = env.post(email_event("never-1", user=env.org["rep"]), key=rep_key)
    _items(env, [eid], ("pending",))
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)  # seven days later
    _db_execute(tether, update(ActivityRow).where(ActivityRow.event_id == eid)
                .values(pending_until=past))
    item = _items(env, [eid], ("errored",))[eid]
    assert item["error_code"] == "TETHER_NOT_CONNECTED"
    assert item["reason"] == (f"{env.org['rep']} did not connect Salesforce within 7 days; "
                              "retry once they have")
    assert env.api("POST", "/api/v1/activity-log/retry")["retried"] == 1
    # Pending at once ("to be planned again"), then planned: waiting again, a new window.
    deadline = time.monotonic() + 30
    while "no Salesforce connection" not in (item := _items(env, [eid], ("pending",))[eid])[
            "reason"]:
        assert item["reason"] == REPLAN_REASON and time.monotonic() < deadline, item
        time.sleep(0.1)
    tether.connect(rep_key, env.org["rep"])
    assert _items(env, [eid], ("synced",))[eid]["salesforce_ids"]


def test_one_write_that_cannot_be_sent_holds_back_no_other(tether: Tether,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """A write whose record cannot be made (here, by a fault put in the writer) is errored
    alone, with the exception as its reason; the other writes of its call land."""
    env = make_env(tether)
    real_record = push._record

    def record(w: ActivityWrite, action: str, has_key: bool) -> dict[str, Any]:
        if "Poison" in str(w.fields.get("Subject")):
            raise ValueError("cannot encode this record")
        return real_record(w, action, has_key)

    monkeypatch.setattr(push, "_record", record)
    events = [email_event(f"w-{i:03}", user=env.org["admin"],
                          subject="Poison" if i == 7 else f"Hello {i}") for i in range(60)]
    ids = env.post(*events)
    items = _items(env, ids, ("synced", "errored"))
    errored = {eid for eid, i in items.items() if i["status"] == "errored"}
    assert errored == {"w-007"}
    assert items["w-007"]["error_code"] == "TETHER_WRITE_FAILED"
    assert items["w-007"]["reason"] == ("Tether could not send this write: ValueError: "
                                        "cannot encode this record")
    (count,) = env.soql("SELECT COUNT(Id) n FROM Task")
    assert count["n"] == 59

"""Sync runs and API usage pages, on SQLite and PostgreSQL: real-time runs that only echoed
Tether's own Task and Event writes are folded (counted, with a link that shows them), a rep's
edit of such a Task is not an echo; the usage page says how much of the org's count is not
Tether's."""

from __future__ import annotations

import re
from typing import Any

from tests.tether.web.conftest import World, db_of
from tests.tether.web.test_dashboard_auth import ADMIN, REP, sign_in
from tests.tether.web.test_webhook import _contact, _doc, _post, _token
from tether.store.models import ActivityWrite, ApiUsage, utcnow

TASK_ID = "00T5g0000000001AAA"
SENT = {"Subject": "Sent (New): Renewal", "WhoId": "0035g0000000001AAA", "Status": "Completed",
        "ActivityDate": "2026-11-28", "TaskSubtype": "Email"}


def tether_wrote_a_task(world: World) -> None:
    now = utcnow()
    with db_of(world) as db:
        db.add(ActivityWrite(workspace_id=world.workspace_id, key="k-renewal",
                             membership_id=world.member_id, sobject="Task", op="upsert",
                             fields=SENT, status="done", version=1, sent_version=1,
                             sf_id=TASK_ID, attempts=1, next_attempt_at=now, log=[],
                             created_at=now, updated_at=now))
        db.commit()


def task(stamp: str, operation: str = "insert", **fields: Any) -> dict[str, Any]:
    record = {"Id": TASK_ID, "SystemModstamp": stamp, "IsDeleted": False,
              "OwnerId": "0055g0000000001AAA", "CreatedDate": "2026-11-28T10:00:00.000+0000",
              "Tether_Activity_Key__c": "k-renewal", **SENT, **fields}
    return _doc([{"object": "Task", "operation": operation, "records": [record]}])


def realtime_rows(page: str) -> int:
    return len(re.findall(r'<td data-label="Kind"[^>]*>realtime</td>', page))


def test_echoes_of_tethers_own_writes_are_folded(world: World) -> None:
    tether_wrote_a_task(world)
    token = _token(world)
    assert _post(world, token, task("2026-11-28T10:00:01.000+0000")).status_code == 200
    contact = _doc([{"object": "Contact", "operation": "update",
                     "records": [_contact("2026-11-28T10:00:02.000+0000", Title="CFO")]}])
    assert _post(world, token, contact).status_code == 200
    # The rep completes the Task in Salesforce differently: their change, not an echo.
    edited = task("2026-11-28T10:00:03.000+0000", "update", Status="Deferred")
    assert _post(world, token, edited).status_code == 200

    runs = world.client.get("/api/v1/salesforce/sync-runs", headers=world.as_admin()).json()
    realtime = sorted((r for r in runs if r["kind"] == "realtime"), key=lambda r: r["started_at"])
    assert [(r["records_read"], r["records_changed"], r["own_writes"], r["echo"])
            for r in realtime] == [(1, 1, 1, True), (1, 1, 0, False), (1, 1, 0, False)]

    sign_in(world.client, REP)  # everyone sees sync runs
    page = world.client.get("/app/syncs").text
    assert realtime_rows(page) == 2
    assert re.search(r"1 real-time run among these only echoed Tether's own Task and Event "
                     r"writes", page)
    assert 'href="/app/syncs?echoes=1">Show them' in page
    shown = world.client.get("/app/syncs?echoes=1").text
    assert realtime_rows(shown) == 3 and "(1 Tether's own)" in shown
    assert 'href="/app/syncs">Fold them' in shown


def test_the_org_count_is_explained(world: World) -> None:
    with db_of(world) as db:
        db.add(ApiUsage(workspace_id=world.workspace_id, day=utcnow().date().isoformat(),
                        tether_calls=106, org_used=117, org_max=15_000, hours={"9": 106},
                        updated_at=utcnow()))
        db.commit()
    sign_in(world.client, ADMIN)
    page = world.client.get("/app/usage").text
    card = re.search(r'id="whose-calls">(.*?)</div>', page, re.S)
    assert card is not None
    said = " ".join(re.sub(r"<[^>]+>", "", card.group(1)).split())
    assert "The org has used 117 of its 15,000 daily API requests" in said
    assert "every client's calls, not only Tether's" in said
    assert ("Tether made 106 calls today; the other 11 are other clients' (other "
            "integrations, data loaders, people's own tools) and Salesforce's own.") in said
    assert "over the last 24 hours" in said

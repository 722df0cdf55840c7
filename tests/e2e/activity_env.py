"""A connected, audited workspace with a few known records, for activity-sync tests."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tests.e2e.conftest import Tether
from tether.services.activity_log import REPLAN_REASON
from tether.services.planning import QUEUED_REASON

SALESFORCE_DONE = ("synced", "ignored", "errored")
# Pending reasons of activity still on its way (not waiting on a person or a sync).
UNSETTLED = (QUEUED_REASON, REPLAN_REASON)


@dataclass
class Env:
    tether: Tether
    org: dict[str, str]
    ws_id: str
    key: str
    records: dict[str, str] = field(default_factory=dict)
    admin_sf_id: str = ""

    def act(self, method: str, path: str, **kw: Any) -> Any:
        r = self.tether.sfemu.admin(method, f"/orgs/{self.org['name']}{path}", **kw)
        assert r.status_code < 300, r.text
        return r.json() if r.content else None

    def create(self, sobject: str, **fields: Any) -> str:
        return str(self.act("POST", f"/records/{sobject}", json=fields)["id"])

    def soql(self, q: str) -> list[dict[str, Any]]:
        return list(self.act("GET", "/query", params={"q": q})["records"])

    def api(self, method: str, path: str, key: str | None = None, **kw: Any) -> Any:
        with self.tether.client(key or self.key) as c:
            r = c.request(method, path, **kw)
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def set_role(self, **settings: Any) -> None:
        """Change the default role's Salesforce settings (the others kept)."""
        role_id = self.api("GET", "/api/v1/workspace")["default_role_id"]
        current = self.api("GET", f"/api/v1/roles/{role_id}")["settings"]
        self.api("PATCH", f"/api/v1/roles/{role_id}", json={"settings": {**current, **settings}})

    def sync(self, kind: str) -> None:
        body = self.api("POST", "/api/v1/salesforce/sync", json={"kind": kind})
        assert body["outcome"] == "succeeded", body

    def post(self, *events: dict[str, Any], key: str | None = None) -> list[str]:
        body: Any = events[0] if len(events) == 1 else {"events": list(events)}
        with self.tether.client(key or self.key) as c:
            r = c.post("/api/v1/events", json=body)
        assert r.status_code == 202, r.text
        return list(r.json()["accepted"])

    def log(self, key: str | None = None, **params: Any) -> dict[str, Any]:
        return dict(self.api("GET", "/api/v1/activity-log", key=key,
                             params={"limit": 1000, **params}))

    def wait(self, event_ids: list[str], timeout: float = 20.0, key: str | None = None,
             statuses: tuple[str, ...] = SALESFORCE_DONE) -> dict[str, list[dict[str, Any]]]:
        """The log items of these events once none is still queued for Salesforce (or, with
        ``statuses``, once all are in one of them)."""
        deadline = time.monotonic() + timeout
        while True:
            items = self.log(key)["items"]
            mine: dict[str, list[dict[str, Any]]] = {}
            for item in items:
                if item["event_id"] in event_ids:
                    mine.setdefault(item["event_id"], []).append(item)
            settled = set(mine) == set(event_ids) and all(
                i["status"] in statuses or (statuses == SALESFORCE_DONE
                                            and i["status"] == "pending"
                                            and i["reason"] not in UNSETTLED)
                for its in mine.values() for i in its)
            if settled:
                return mine
            assert time.monotonic() < deadline, f"not settled: {mine}"
            time.sleep(0.1)


def connected_env(tether: Tether, *, key_field: bool = False, **org_settings: Any) -> Env:
    """A new org and workspace, its admin connected (and with ``key_field``, the real-time
    package installed with the activity key field)."""
    org = tether.sfemu.new_org(**org_settings)
    ws_id, key = tether.new_workspace("Acme", org["admin"])
    env = Env(tether, org, ws_id, key)
    page = tether.connect(key, org["admin"])
    assert "Salesforce connected" in page.text, page.text
    if key_field:
        token = env.api("POST", "/api/v1/salesforce/realtime-token")["token"]
        env.act("POST", "/package", json={
            "webhook_url": f"{tether.base_url}/webhooks/salesforce/{ws_id}", "token": token,
            "activity_key_field": True})
    return env


def make_env(tether: Tether, *, key_field: bool = False, **org_settings: Any) -> Env:
    env = connected_env(tether, key_field=key_field, **org_settings)
    org = env.org
    env.admin_sf_id = env.soql(
        f"SELECT Id FROM User WHERE Username = '{org['admin']}'")[0]["Id"]
    r = env.records
    r["account"] = env.create("Account", Name="Globex")
    r["contact"] = env.create("Contact", LastName="Doe", FirstName="Jane",
                              Email="jane@globex.example", AccountId=r["account"])
    r["lead"] = env.create("Lead", LastName="Lee", Company="Initech", Email="lee@initech.example")
    r["opportunity"] = env.create("Opportunity", Name="Globex deal", StageName="Prospecting",
                                  CloseDate="2026-12-31", AccountId=r["account"])
    r["closed"] = env.create("Opportunity", Name="Globex old deal", StageName="Closed Won",
                             CloseDate="2026-01-31", AccountId=r["account"])
    env.create("OpportunityContactRole", OpportunityId=r["opportunity"],
               ContactId=r["contact"], Role="Decision Maker")
    env.sync("audit")
    return env


def email_event(event_id: str, event_type: str = "email.sent", *, user: str,
                to: list[str] | None = None, subject: str = "Intro", **extra: Any
                ) -> dict[str, Any]:
    message = {"id": f"<{event_id}@acme.example>", "thread_id": "t1", "subject": subject,
               "to": to or ["jane@globex.example"], "cc": [], "bcc": [], "is_reply": False,
               "sent_via": "tether", **extra.pop("message", {})}
    return {"id": event_id, "type": event_type, "occurred_at": "2026-11-28T10:00:00Z",
            "user": user, "message": message, **extra}

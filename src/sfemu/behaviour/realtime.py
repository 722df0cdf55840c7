"""The real-time package: what the Apex triggers and the Queueable callout would post.

Each committed transaction that changed Account, Contact, Event, Lead, Opportunity, Task, User
or a custom object becomes ONE outbox row, written inside that same transaction (so a change is
never committed without its delivery, nor delivered without its commit).  A background worker
posts the rows to the webhook with ``X-Tether-Token`` and retries with backoff until a 2xx:
delivery is at least once.  The document is described in docs/realtime-webhook.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Iterable
from typing import Any

import httpx

from sfemu.core import Emulator
from sfemu.dml import Change

SCHEMA = "tether.realtime.v1"
TRIGGERED = frozenset({"Account", "Contact", "Event", "Lead", "Opportunity", "Task", "User"})
MAX_BACKOFF = 60.0
log = logging.getLogger("sfemu.realtime")


def triggered(sobject: str) -> bool:
    return sobject in TRIGGERED or sobject.endswith("__c")


def build_payload(org_id: str, changes: Iterable[Change], now: str) -> dict[str, Any]:
    """Group a transaction's changes by object and operation, in order of first appearance."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for change in changes:
        groups.setdefault((change.sobject, change.operation), []).append(change.record)
    return {"schema": SCHEMA, "delivery_id": str(uuid.uuid4()), "org_id": org_id,
            "committed_at": now,
            "changes": [{"object": obj, "operation": op, "records": records}
                        for (obj, op), records in groups.items()]}


class RealtimePackage:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.wakeup = asyncio.Event()
        emu.store.before_commit = self._write_outbox

    def _write_outbox(self, changes: list[Any]) -> None:
        by_org: dict[str, list[Change]] = {}
        for change in changes:
            if isinstance(change, Change) and triggered(change.sobject):
                by_org.setdefault(change.org_id, []).append(change)
        wrote = False
        for org_id, org_changes in by_org.items():
            if not self.emu.org(org_id).package:
                continue
            payload = build_payload(org_id, org_changes, self.emu.stamp())
            self.emu.store.execute("INSERT INTO outbox(org_id, payload) VALUES (?, ?)",
                                   [org_id, json.dumps(payload)])
            wrote = True
        if wrote:
            self.emu.store.after_commit(self.wakeup.set)

    def pending(self, org_id: str | None = None) -> int:
        sql = "SELECT count(*) FROM outbox WHERE delivered_at IS NULL"
        params: list[Any] = []
        if org_id:
            sql += " AND org_id = ?"
            params.append(org_id)
        (n,) = self.emu.store.execute(sql, params).fetchone()
        return int(n)

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=10.0) as client:
            while True:
                delay = await self.deliver_due(client)
                self.wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), timeout=delay)

    async def deliver_due(self, client: httpx.AsyncClient) -> float:
        """Post every due row; answer how long to sleep before the next one falls due."""
        now = self.emu.clock()
        rows = self.emu.store.execute(
            "SELECT id, org_id, payload, attempts FROM outbox WHERE delivered_at IS NULL AND "
            "next_attempt_at <= ? ORDER BY id LIMIT 100", [now]).fetchall()
        for row_id, org_id, payload, attempts in rows:
            package = self.emu.org(org_id).package
            if not package:
                continue  # uninstalled: rows wait until the package is back
            error = await self._post(client, package, payload)
            if error is None:
                self.emu.store.execute("UPDATE outbox SET delivered_at = ?, attempts = ? "
                                       "WHERE id = ?", [self.emu.clock(), attempts + 1, row_id])
            else:
                backoff = min(MAX_BACKOFF, 0.25 * 2 ** attempts)
                self.emu.store.execute(
                    "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? "
                    "WHERE id = ?", [attempts + 1, self.emu.clock() + backoff, error, row_id])
        (next_due,) = self.emu.store.execute(
            "SELECT min(next_attempt_at) FROM outbox WHERE delivered_at IS NULL").fetchone()
        if len(rows) == 100:
            return 0.0
        return 5.0 if next_due is None else max(0.0, min(5.0, next_due - self.emu.clock()))

    @staticmethod
    async def _post(client: httpx.AsyncClient, package: dict[str, Any],
                    payload: str) -> str | None:
        try:
            response = await client.post(
                package["webhook_url"], content=payload,
                headers={"Content-Type": "application/json",
                         "X-Tether-Token": package["token"]})
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"

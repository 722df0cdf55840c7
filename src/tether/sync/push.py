"""The Salesforce writer: planned writes go out in sObject Collections of up to 200, five of
them packed in one composite call (Salesforce counts it as one API call), per (workspace,
acting user), flushed when 1,000 are waiting or the oldest waited the flush window.

Exactly-once effect:
- every write has its activity key in the database before it is sent;
- with the package's ``Tether_Activity_Key__c`` on Task and Event, writes are upserts on it,
  so sending again is harmless;
- without it, a create whose outcome is unknown (answer lost, worker killed) stays *sending*
  until its lease ends, then is reconciled: the acting user's Tasks or Events created since
  it was sent are read back, and the key in each Description's last line tells which exist.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from tether.config import Settings
from tether.domain.planner import KEY_FOOTER
from tether.salesforce.client import SalesforceClient
from tether.salesforce.composite import (
    CompositeSubrequest,
    SaveResult,
    chunks,
    collection_request,
)
from tether.salesforce.datetimes import format_datetime, soql_datetime
from tether.salesforce.errors import ErrorKind, RecordError, SalesforceError
from tether.salesforce.retry import Backoff
from tether.salesforce.soql import in_list, quote
from tether.security import Vault
from tether.services import connection
from tether.services.errors import described
from tether.services.planning import refresh_activities, requeue_event
from tether.store.models import (
    ActivityRow,
    ActivityWrite,
    ActivityWriteRef,
    FieldMetadata,
    as_utc,
    iso,
    new_id,
    utcnow,
)
from tether.sync import mirror, quota
from tether.sync.pull import flag_inconsistency

log = logging.getLogger("tether.push")
KEY_FIELD = "Tether_Activity_Key__c"
BATCH = 200
# Transient failures are retried for hours (backoff up to 5 minutes): Salesforce being down
# for a while must not turn activity into errors.
MAX_ATTEMPTS = 60
# How long planned writes wait to fill a composite call while planning is behind.
BURST_WINDOW = dt.timedelta(seconds=2)
# Fields Salesforce lets a create set but not an update.
CREATE_ONLY = frozenset({"TaskSubtype", "EventSubtype"})
# Errors on a write that mean a record it points at (WhoId, WhatId) is gone.
GONE_CODES = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY"})
# States in which a worker holds a write under a lease: sending it, or checking whether a
# record it points at is gone.  A lease that ends finds the worker dead: see _recover.
HELD = ("sending", "checking")
WRITE_FAILED = "TETHER_WRITE_FAILED"  # a write's error code when Tether could not send it


@dataclass(frozen=True)
class _Call:
    """One sObject Collections call: its writes, in the order of its records."""

    action: str
    writes: list[ActivityWrite]
    request: CompositeSubrequest


@dataclass
class Outcome:
    done: int = 0
    retried: int = 0
    errored: int = 0
    keys: set[str] = field(default_factory=set)


class Writer:
    def __init__(self, sessions: sessionmaker[Session], vault: Vault, settings: Settings
                 ) -> None:
        self.sessions = sessions
        self.vault = vault
        self.settings = settings
        self.window = dt.timedelta(seconds=settings.activity_flush_seconds)
        self.reconcile_after = dt.timedelta(seconds=settings.activity_reconcile_seconds)
        self.backoff = Backoff(base=0.5, cap=settings.activity_retry_max_seconds)
        self._clients: dict[str, SalesforceClient] = {}
        self._key_field: dict[str, tuple[bool, dt.datetime]] = {}
        self._parallel = asyncio.Semaphore(4)
        self.pack = settings.activity_collections_per_call
        self.lease = dt.timedelta(seconds=settings.activity_lease_seconds)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    def _client(self, membership_id: str, *, reads: bool = False) -> SalesforceClient:
        """The member's client for writes: no retries inside it, the writer retries itself
        with backoff and logs every attempt.  With ``reads``, one that retries its (safe)
        reads itself: a reconciling query of several pages must not start over each time."""
        name = f"{membership_id}:{'r' if reads else 'w'}"
        client = self._clients.get(name)
        if client is None:
            client = connection.client_for(
                self.sessions, self.vault, self.settings, membership_id,
                max_retries=4 if reads else 0,
                http=connection.http_client(self.settings, self.settings.salesforce_timeout))
            self._clients[name] = client
        return client

    async def _drop_client(self, membership_id: str) -> None:
        for name in (f"{membership_id}:r", f"{membership_id}:w"):
            client = self._clients.pop(name, None)
            if client is not None:
                await client.aclose()

    # -- the loop's one step ----------------------------------------------------------------
    async def step(self, *, planning_behind: bool = False) -> Outcome:
        """Reconcile lost sends, then flush every group that is due.  While planning is
        behind (a burst of events), writes wait longer for the rest of a full composite
        call.  Answers what happened."""
        total = Outcome()
        for group in await asyncio.to_thread(self._expired_groups):
            await self._guarded(self._recover, group, total)
        window = max(self.window, BURST_WINDOW) if planning_behind else self.window
        groups = await asyncio.to_thread(self._due_groups, window)
        await asyncio.gather(*(self._guarded(self._flush, g, total) for g in groups))
        return total

    async def _guarded(self, fn: Any, group: tuple[str, str], total: Outcome) -> None:
        async with self._parallel:
            try:
                out: Outcome = await fn(*group)
            except Exception:  # one group's trouble never stops the others
                log.exception("activity writer: group %s failed", group)
                return
        total.done += out.done
        total.retried += out.retried
        total.errored += out.errored

    def _due_groups(self, window: dt.timedelta) -> list[tuple[str, str]]:
        now = utcnow()
        with self.sessions() as db:
            rows = db.execute(select(
                ActivityWrite.workspace_id, ActivityWrite.membership_id, func.count(),
                func.min(ActivityWrite.updated_at)).where(
                ActivityWrite.status == "queued", ActivityWrite.next_attempt_at <= now)
                .group_by(ActivityWrite.workspace_id, ActivityWrite.membership_id)).all()
            paused = quota.paused_workspaces(db, now)
        return [(ws, m) for ws, m, n, oldest in rows if ws not in paused and (
            n >= BATCH * self.pack or as_utc(oldest) <= now - window)]

    def _expired_groups(self) -> list[tuple[str, str]]:
        now = utcnow()
        with self.sessions() as db:
            rows = db.execute(select(ActivityWrite.workspace_id, ActivityWrite.membership_id)
                              .where(ActivityWrite.status.in_(HELD),
                                     ActivityWrite.lease_until < now).distinct()).all()
        return [(ws, m) for ws, m in rows]

    # -- flushing ---------------------------------------------------------------------------
    async def _flush(self, workspace_id: str, membership_id: str) -> Outcome:
        out = Outcome()
        if not await self._budget_allows(workspace_id, membership_id):
            return out
        writes = await asyncio.to_thread(self._claim, workspace_id, membership_id)
        if not writes:
            return out
        try:
            client = self._client(membership_id)
            reader = self._client(membership_id, reads=True)
            writes = await self._with_owners(reader, workspace_id, writes, out)
            has_key = await self._has_key_field(reader, workspace_id)
            await self._send(client, reader, workspace_id, membership_id, writes, has_key,
                             out)
        except SalesforceError as exc:
            await self._call_failed(workspace_id, membership_id, writes, exc, out)
        except Exception as exc:  # e.g. the connection is gone: record, never lose
            await asyncio.to_thread(self._release, workspace_id, writes, described(exc), out)
        return out

    async def _with_owners(self, reader: SalesforceClient, workspace_id: str,
                           writes: list[ActivityWrite], out: Outcome) -> list[ActivityWrite]:
        """The Sync User writes the activity of a member not connected, owned by the active
        Salesforce user with the member's email: found with one query, and kept in the
        write before it is first sent (a reconcile looks for its records by OwnerId).  A
        write whose owner Salesforce does not have is errored, naming the address."""
        wanted = sorted({str(w.owner_email).lower() for w in writes
                         if w.owner_email and not w.fields.get("OwnerId")})
        if not wanted:
            return writes
        found: dict[str, str] = {}
        for rows in await reader.query_each([
                f"SELECT Id, Email FROM User WHERE IsActive = true AND Email IN {in_list(part)}"
                for part in chunks(wanted, 100)]):
            for row in rows:
                found.setdefault(str(row["Email"]).lower(), str(row["Id"]))
        return await asyncio.to_thread(self._set_owners, workspace_id, writes, found, out)

    def _set_owners(self, workspace_id: str, writes: list[ActivityWrite],
                    found: dict[str, str], out: Outcome) -> list[ActivityWrite]:
        now = utcnow()
        ready: list[ActivityWrite] = []
        with self.sessions() as db:
            for w, row in _claimed(db, workspace_id, writes):
                if not row.owner_email or row.fields.get("OwnerId"):
                    ready.append(w)
                    continue
                owner = found.get(row.owner_email.lower())
                if owner is None:
                    out.keys.add(row.key)
                    _error(row, "TETHER_NO_SALESFORCE_USER", f"Salesforce has no active user with "
                           f"the email {row.owner_email}, so the Sync User cannot write this "
                           "activity for them", [], now)
                    out.errored += 1
                    continue
                row.fields = w.fields = {**row.fields, "OwnerId": owner}
                ready.append(w)
            _commit(db, workspace_id, writes)
        return ready

    def _claim(self, workspace_id: str, membership_id: str) -> list[ActivityWrite]:
        now, token = utcnow(), new_id()
        with self.sessions() as db:
            keys = (select(ActivityWrite.key).where(
                ActivityWrite.workspace_id == workspace_id,
                ActivityWrite.membership_id == membership_id,
                ActivityWrite.status == "queued", ActivityWrite.next_attempt_at <= now)
                .order_by(ActivityWrite.priority, ActivityWrite.created_at)
                .limit(BATCH * self.pack))
            if db.get_bind().dialect.name == "postgresql":
                keys = keys.with_for_update(skip_locked=True)
            # Picked first, then updated by value: as a subquery of the UPDATE, PostgreSQL may
            # run the LIMIT ... SKIP LOCKED select more than once and claim over 200.
            picked = list(db.scalars(keys))
            if not picked:
                return []
            db.execute(update(ActivityWrite).where(
                ActivityWrite.workspace_id == workspace_id, ActivityWrite.key.in_(picked),
                ActivityWrite.status == "queued").values(
                status="sending", claim=token, lease_until=now + self.lease,
                sent_version=ActivityWrite.version, attempts=ActivityWrite.attempts + 1,
                sent_at=func.coalesce(ActivityWrite.sent_at, now)))
            db.commit()
            rows = list(db.scalars(select(ActivityWrite).where(
                ActivityWrite.workspace_id == workspace_id, ActivityWrite.claim == token)))
            db.expunge_all()
            return rows

    async def _send(self, client: SalesforceClient, reader: SalesforceClient,
                    workspace_id: str, membership_id: str, writes: Sequence[ActivityWrite],
                    has_key: bool, out: Outcome) -> None:
        """One collections call per object, action and 200 records, packed up to five in a
        composite call (one API call for up to 1,000 activities)."""
        calls = await self._calls(reader, workspace_id, writes, has_key, out)
        for start in range(0, len(calls), self.pack):
            await self._send_pack(client, reader, workspace_id, membership_id,
                                  calls[start:start + self.pack], out)

    async def _calls(self, reader: SalesforceClient, workspace_id: str,
                     writes: Sequence[ActivityWrite], has_key: bool, out: Outcome
                     ) -> list[_Call]:
        buckets: dict[tuple[str, str], list[ActivityWrite]] = defaultdict(list)
        for w in writes:
            action = ("delete" if w.op == "delete" else "upsert" if has_key
                      else "update" if w.sf_id else "create")
            buckets[(w.sobject, action)].append(w)
        calls: list[_Call] = []
        for (sobject, action), group in sorted(buckets.items()):
            if action == "delete":
                targets = await self._delete_targets(reader, workspace_id, sobject, group,
                                                     has_key, out)
                calls += [_Call(action, part, collection_request(
                    action, sobject, ids=[str(w.sf_id) for w in part]))
                    for part in chunks(targets)]
                continue
            ready, records = await self._records(workspace_id, group, action, has_key, out)
            ext_field = KEY_FIELD if action == "upsert" else None
            calls += [_Call(action, ready[i:i + BATCH], collection_request(
                action, sobject, records[i:i + BATCH], ext_field=ext_field))
                for i in range(0, len(ready), BATCH)]
        return calls

    async def _send_pack(self, client: SalesforceClient, reader: SalesforceClient,
                         workspace_id: str, membership_id: str, pack: Sequence[_Call],
                         out: Outcome) -> None:
        """A call's outcome reaches only its own writes.  An answer lost on the way leaves
        creates in doubt (reconciled once the lease ends, never resent blind); upserts,
        updates and deletes are safe to send again."""
        try:
            outcomes = await client.collections([c.request for c in pack])
        except SalesforceError as exc:
            if not exc.ambiguous:
                raise
            outcomes = [exc] * len(pack)
        for call, outcome in zip(pack, outcomes, strict=True):
            if isinstance(outcome, SalesforceError):
                if outcome.ambiguous and call.action == "create":
                    await asyncio.to_thread(self._hold_for_reconcile, workspace_id,
                                            call.writes, outcome)
                else:
                    await self._call_failed(workspace_id, membership_id, call.writes,
                                            outcome, out)
                continue
            gone = await asyncio.to_thread(self._apply, workspace_id, call.writes, outcome,
                                           call.action, out)
            if gone:
                await self._check_gone(reader, workspace_id, gone, out)

    async def _records(self, workspace_id: str, group: list[ActivityWrite], action: str,
                       has_key: bool, out: Outcome
                       ) -> tuple[list[ActivityWrite], list[dict[str, Any]]]:
        """Each write's record for the call.  One that cannot be made is errored alone,
        with the exception as its reason: it never holds back the others of its call."""
        ready: list[ActivityWrite] = []
        records: list[dict[str, Any]] = []
        broken: list[tuple[ActivityWrite, Exception]] = []
        for w in group:
            try:
                record = _record(w, action, has_key)
                json.dumps(record, allow_nan=False)  # as the call will send it
            except Exception as exc:
                broken.append((w, exc))
                continue
            ready.append(w)
            records.append(record)
        if broken:
            log.warning("activity writer: %d writes could not be sent", len(broken))
            await asyncio.to_thread(self._quarantine, workspace_id, broken, out)
        return ready, records

    def _quarantine(self, workspace_id: str, broken: Sequence[tuple[ActivityWrite, Exception]],
                    out: Outcome) -> None:
        now = utcnow()
        writes = [w for w, _ in broken]
        why_of = {w.key: described(exc) for w, exc in broken}
        with self.sessions() as db:
            for w, row in _claimed(db, workspace_id, writes):
                out.keys.add(row.key)
                why = why_of[w.key]
                _log(row, {"at": iso(now), "result": "error", "code": WRITE_FAILED,
                           "message": why})
                _error(row, WRITE_FAILED, f"Tether could not send this write: {why}", [], now)
                out.errored += 1
            _commit(db, workspace_id, writes)

    async def _delete_targets(self, reader: SalesforceClient, workspace_id: str,
                              sobject: str, group: list[ActivityWrite], has_key: bool,
                              out: Outcome) -> list[ActivityWrite]:
        """The deletes with a record to delete.  One whose record was never found in
        Salesforce is done at once: gone is the goal."""
        unknown = [w for w in group if not w.sf_id]
        if unknown:
            found = await self._find(reader, sobject, unknown, has_key)
            for w in unknown:
                w.sf_id = found.get(w.key)
        absent = [w for w in group if not w.sf_id]
        if absent:
            await asyncio.to_thread(self._apply, workspace_id, absent,
                                    [SaveResult(None, True)] * len(absent), "delete", out)
        return [w for w in group if w.sf_id]

    async def _find(self, client: SalesforceClient, sobject: str,
                    writes: Sequence[ActivityWrite], has_key: bool) -> dict[str, str]:
        """Which of these writes' records exist in Salesforce: key -> Id."""
        found: dict[str, str] = {}
        if has_key:
            for rows in await client.query_each([
                    f"SELECT Id, {KEY_FIELD} FROM {sobject} WHERE {KEY_FIELD} IN {in_list(part)}"
                    for part in chunks([w.key for w in writes], 100)]):
                found.update((str(row[KEY_FIELD]), str(row["Id"])) for row in rows)
            return found
        by_owner: dict[str, list[ActivityWrite]] = defaultdict(list)
        for w in writes:
            by_owner[str(w.fields.get("OwnerId") or "")].append(w)
        wanted = {w.key for w in writes}
        soqls = []
        for owner, items in by_owner.items():
            sent = [as_utc(w.sent_at or w.created_at) for w in items]
            since, until = min(sent) - RECONCILE_MARGIN, max(sent) + RECONCILE_MARGIN
            soql = (f"SELECT Id, Description FROM {sobject} WHERE OwnerId = {quote(owner)} "
                    f"AND CreatedDate >= {soql_datetime(since.replace(microsecond=0))} "
                    f"AND CreatedDate <= {soql_datetime(until.replace(microsecond=0))}")
            whos = {str(w.fields.get("WhoId")) for w in items}
            if all(w.fields.get("WhoId") for w in items) and len(whos) <= 100:
                soql += f" AND WhoId IN {in_list(sorted(whos))}"
            soqls.append(soql)
        for rows in await client.query_each(soqls):
            for row in rows:
                key = _footer_key(str(row.get("Description") or ""))
                if key in wanted:
                    found[key] = str(row["Id"])
        return found

    # -- outcomes ---------------------------------------------------------------------------
    def _apply(self, workspace_id: str, group: Sequence[ActivityWrite],
               results: Sequence[SaveResult], action: str, out: Outcome
               ) -> list[ActivityWrite]:
        """Record each write's result; answers the writes whose Who or What was gone."""
        now = utcnow()
        gone: list[ActivityWrite] = []
        with self.sessions() as db:
            current = _still_claimed(db, workspace_id, group)
            for w, result in zip(group, results, strict=True):
                row = current.get(w.key)
                if row is None:
                    continue
                out.keys.add(row.key)
                entry: dict[str, Any] = {"at": iso(now), "action": action}
                if result.success:
                    entry.update(result="ok", id=result.id)
                    if action != "delete":
                        row.sf_id = result.id or row.sf_id
                    _settle(row, done=True, now=now)
                    out.done += 1
                else:
                    err = result.errors[0] if result.errors else RecordError(None, "not saved")
                    entry.update(result="error", code=err.status_code, message=err.message,
                                 fields=list(err.fields))
                    if action == "delete" and err.status_code in (*GONE_CODES, "NOT_FOUND"):
                        _settle(row, done=True, now=now)  # already gone: that is the goal
                        out.done += 1
                    elif (action == "upsert" and err.fields and set(err.fields) <= CREATE_ONLY
                          and err.status_code == "INVALID_FIELD_FOR_INSERT_UPDATE"):
                        # The record exists already (an earlier send whose answer was lost
                        # created it): the update leaves out what only a create may set.
                        row.fields = {k: v for k, v in row.fields.items()
                                      if k not in CREATE_ONLY}
                        _retry_later(row, now, self.backoff)
                        row.next_attempt_at = now
                        out.retried += 1
                    elif err.kind is ErrorKind.TRANSIENT and not _out_of_attempts(row):
                        _retry_later(row, now, self.backoff)
                        out.retried += 1
                    elif err.status_code in GONE_CODES and action != "delete":
                        # Held (claim and lease kept) while a query checks: a check that
                        # fails or a worker killed meanwhile ends in _recover, sent again.
                        gone.append(row)
                        row.status, row.lease_until = "checking", now + self.lease
                    else:
                        _error(row, err.status_code, err.message, list(err.fields), now)
                        out.errored += 1
                _log(row, entry)
            _commit(db, workspace_id, group)
            db.expunge_all()
        return gone

    async def _check_gone(self, client: SalesforceClient, workspace_id: str,
                          gone: Sequence[ActivityWrite], out: Outcome) -> None:
        """Salesforce says a Who or What does not exist.  Those it confirms missing leave the
        mirror, their objects are re-audited, and the activities are planned again; if all
        exist after all, the writes are errored with Salesforce's answer."""
        ids = {str(x) for w in gone for x in (w.fields.get("WhoId"), w.fields.get("WhatId"))
               if x}
        with self.sessions() as db:
            kinds = {i: r.sobject for i in ids if (r := mirror.get(db, workspace_id, i))}
        existing = {str(row["Id"]) for rows in await client.query_each([
            f"SELECT Id FROM {sobject} WHERE Id IN "
            f"{in_list([i for i, k in kinds.items() if k == sobject])}"
            for sobject in sorted(set(kinds.values()))]) for row in rows}
        missing = ids - existing
        await asyncio.to_thread(self._replan_gone, workspace_id, gone, missing, kinds, out)

    def _replan_gone(self, workspace_id: str, gone: Sequence[ActivityWrite],
                     missing: set[str], kinds: dict[str, str], out: Outcome) -> None:
        now = utcnow()
        stamp = format_datetime(now.replace(microsecond=0))
        with self.sessions() as db:
            mirror.mark_deleted(db, workspace_id, [(i, stamp) for i in missing])
            for sobject in {kinds[i] for i in missing if i in kinds}:
                flag_inconsistency(db, workspace_id, sobject)
            current = _still_claimed(db, workspace_id, gone)
            for w in gone:
                row = current.get(w.key)
                if row is None or row.status != "checking":
                    continue
                out.keys.add(row.key)
                refs = {str(x) for x in (w.fields.get("WhoId"), w.fields.get("WhatId")) if x}
                if not refs & missing:
                    code = (w.log or [{}])[-1].get("code") or "INVALID_CROSS_REFERENCE_KEY"
                    _error(row, code, str((w.log or [{}])[-1].get("message") or ""), [], now)
                    out.errored += 1
                    continue
                row.status, row.claim, row.lease_until = "dropped", None, None
                activity_ids = list(db.scalars(select(ActivityWriteRef.activity_id).where(
                    ActivityWriteRef.workspace_id == workspace_id,
                    ActivityWriteRef.key == row.key)))
                db.execute(delete(ActivityWriteRef).where(
                    ActivityWriteRef.workspace_id == workspace_id,
                    ActivityWriteRef.key == row.key))
                for activity in db.scalars(select(ActivityRow).where(
                        ActivityRow.id.in_(activity_ids))):
                    activity.status = "pending"
                    activity.reason = "a record it pointed at is gone in Salesforce: planned again"
                    requeue_event(db, workspace_id, activity.event_id)
            _commit(db, workspace_id, gone)

    def _hold_for_reconcile(self, workspace_id: str, group: Sequence[ActivityWrite],
                            exc: SalesforceError) -> None:
        """Creates whose outcome is unknown wait, still held, for a read-back once
        ``reconcile_after`` has passed (see _recover).  They get a claim of their own: the
        flush that sent them no longer holds them, so a failure later in it (another call
        of the same claim) cannot put them back in the queue to be created again."""
        until = utcnow() + self.reconcile_after
        held = new_id()
        with self.sessions() as db:
            current = _still_claimed(db, workspace_id, group)
            for w in group:
                row = current.get(w.key)
                if row is not None:
                    row.lease_until, row.claim = until, held
                    _log(row, {"at": iso(utcnow()), "action": "create",
                               "result": "unknown", "code": exc.error_code,
                               "message": exc.message})
            db.commit()

    async def _call_failed(self, workspace_id: str, membership_id: str,
                           writes: Sequence[ActivityWrite], exc: SalesforceError,
                           out: Outcome) -> None:
        if exc.kind is ErrorKind.QUOTA:
            await asyncio.to_thread(quota.pause, self.sessions, workspace_id,
                                    f"Salesforce answered {exc.error_code}: {exc.message}",
                                    self.settings.quota_probe_seconds)
            await asyncio.to_thread(self._release, workspace_id, writes, None, out)
            return
        if exc.kind is ErrorKind.AUTH:
            await self._drop_client(membership_id)
        if exc.kind is ErrorKind.TRANSIENT or (exc.kind is ErrorKind.AUTH and exc.retryable):
            await asyncio.to_thread(self._release, workspace_id, writes,
                                    f"{exc.error_code}: {exc.message}", out)
            return
        await asyncio.to_thread(self._fail, workspace_id, writes, exc, out)

    def _release(self, workspace_id: str, writes: Sequence[ActivityWrite],
                 error: str | None, out: Outcome) -> None:
        """Back to the queue: later (an error) or as soon as allowed (quota: no attempt)."""
        now = utcnow()
        with self.sessions() as db:
            current = _still_claimed(db, workspace_id, writes)
            for w in writes:
                row = current.get(w.key)
                if row is None or row.status != "sending":
                    continue
                out.keys.add(row.key)
                if error is None:
                    row.attempts = max(0, row.attempts - 1)
                    row.status, row.claim, row.lease_until = "queued", None, None
                    continue
                _log(row, {"at": iso(now), "result": "retry", "message": error})
                if _out_of_attempts(row):
                    _error(row, error.partition(":")[0], error, [], now)
                    out.errored += 1
                else:
                    _retry_later(row, now, self.backoff)
                    out.retried += 1
            _commit(db, workspace_id, writes)

    def _fail(self, workspace_id: str, writes: Sequence[ActivityWrite], exc: SalesforceError,
              out: Outcome) -> None:
        now = utcnow()
        with self.sessions() as db:
            for _, row in _claimed(db, workspace_id, writes):
                if row.status != "sending":
                    continue  # checking whether a record is gone: that check decides
                out.keys.add(row.key)
                _error(row, exc.error_code or str(exc.status), exc.message, list(exc.fields),
                       now)
                out.errored += 1
            _commit(db, workspace_id, writes)

    # -- recovering sends whose outcome is unknown -----------------------------------------
    async def _recover(self, workspace_id: str, membership_id: str) -> Outcome:
        out = Outcome()
        now = utcnow()
        with self.sessions() as db:
            rows = list(db.scalars(select(ActivityWrite).where(
                ActivityWrite.workspace_id == workspace_id,
                ActivityWrite.membership_id == membership_id,
                ActivityWrite.status.in_(HELD), ActivityWrite.lease_until < now)))
            db.expunge_all()
        if not rows:
            return out
        client = self._client(membership_id, reads=True)
        has_key = await self._has_key_field(client, workspace_id)
        # Creates without the key field may have landed: look before sending again.
        doubtful = [w for w in rows if w.status == "sending" and w.op == "upsert"
                    and not w.sf_id and not has_key]
        found: dict[str, str] = {}
        for sobject in sorted({w.sobject for w in doubtful}):
            found.update(await self._find(client, sobject,
                                          [w for w in doubtful if w.sobject == sobject],
                                          False))
        await asyncio.to_thread(self._recovered, workspace_id, rows, found, out)
        return out

    def _recovered(self, workspace_id: str, rows: Sequence[ActivityWrite],
                   found: dict[str, str], out: Outcome) -> None:
        now = utcnow()
        with self.sessions() as db:
            current = _still_claimed(db, workspace_id, rows)
            for w in rows:
                row = current.get(w.key)
                if row is None or row.status not in HELD:
                    continue
                out.keys.add(row.key)
                if w.key in found:
                    row.sf_id = found[w.key]
                    _log(row, {"at": iso(now), "action": "reconcile",
                               "result": "found", "id": row.sf_id})
                    _settle(row, done=True, now=now)
                    out.done += 1
                else:
                    _log(row, {"at": iso(now), "action": "reconcile",
                               "result": "not found; sent again" if row.status == "sending"
                               else "check of a missing record unfinished; sent again"})
                    row.status, row.claim, row.lease_until = "queued", None, None
                    row.sent_at = None
                    row.next_attempt_at = now
                    out.retried += 1
            _commit(db, workspace_id, rows)

    # -- the org --------------------------------------------------------------------------
    async def _has_key_field(self, client: SalesforceClient, workspace_id: str) -> bool:
        """Whether Task and Event have the package's external id (field metadata, else one
        describe call; remembered for ten minutes)."""
        cached = self._key_field.get(workspace_id)
        if cached is not None and cached[1] > utcnow():
            return cached[0]
        with self.sessions() as db:
            known = {s: db.get(FieldMetadata, (workspace_id, s)) for s in ("Task", "Event")}
            metadata = {s: list(r.fields) for s, r in known.items() if r is not None}
        missing = [s for s in ("Task", "Event") if s not in metadata]
        for sobject, described_ in zip(missing, await client.describe_each(missing),
                                       strict=True):
            metadata[sobject] = list(described_.get("fields", []))
        has = all(any(f.get("name") == KEY_FIELD and f.get("externalId") for f in fields)
                  for fields in metadata.values())
        self._key_field[workspace_id] = (has, utcnow() + dt.timedelta(minutes=10))
        return has

    async def _budget_allows(self, workspace_id: str, membership_id: str) -> bool:
        state = await asyncio.to_thread(quota.check, self.sessions, workspace_id)
        if state.allowed:
            return True
        if not state.probe_due:
            return False
        try:
            limits = await self._client(membership_id, reads=True).limits()
        except SalesforceError as exc:
            if exc.kind is ErrorKind.QUOTA:
                await asyncio.to_thread(quota.pause, self.sessions, workspace_id,
                                        f"Salesforce answered {exc.error_code}: {exc.message}",
                                        self.settings.quota_probe_seconds)
                return False
            raise
        return await asyncio.to_thread(quota.after_probe, self.sessions, workspace_id, limits,
                                       self.settings.quota_probe_seconds)


RECONCILE_MARGIN = dt.timedelta(minutes=5)


def _commit(db: Session, workspace_id: str, writes: Sequence[ActivityWrite]) -> None:
    """Writes' new states and their activities' statuses commit together: a worker killed
    in between must not leave an activity pending whose writes are all done."""
    refresh_activities(db, workspace_id, {w.key for w in writes})
    db.commit()


def _footer_key(description: str) -> str | None:
    _, found, key = description.rpartition(KEY_FOOTER)
    return key.strip() if found else None


def _record(w: ActivityWrite, action: str, has_key: bool) -> dict[str, Any]:
    fields = dict(w.fields)
    if action == "update" or (action == "upsert" and w.sf_id):
        fields = {k: v for k, v in fields.items() if k not in CREATE_ONLY}
    if action == "update":
        fields["Id"] = w.sf_id
    if has_key and action == "upsert":
        fields[KEY_FIELD] = w.key
    return fields


def _still_claimed(db: Session, workspace_id: str, writes: Sequence[ActivityWrite]
                   ) -> dict[str, ActivityWrite]:
    """The rows of these writes (one query) that the same claim still holds: a write
    reclaimed meanwhile (lease over, another worker) is no longer this sender's to settle."""
    claims = {w.key: w.claim for w in writes}
    rows = db.scalars(select(ActivityWrite).where(
        ActivityWrite.workspace_id == workspace_id, ActivityWrite.key.in_(list(claims))))
    return {r.key: r for r in rows if r.claim is not None and r.claim == claims[r.key]}


def _claimed(db: Session, workspace_id: str, writes: Sequence[ActivityWrite]
             ) -> Iterator[tuple[ActivityWrite, ActivityWrite]]:
    """Each write (as sent) with its row, for those the same claim still holds."""
    current = _still_claimed(db, workspace_id, writes)
    for w in writes:
        row = current.get(w.key)
        if row is not None:
            yield w, row


def _log(row: ActivityWrite, entry: dict[str, Any]) -> None:
    """Keep the last 20 attempts of a write (the activity log's detail shows them)."""
    row.log = [*(row.log or [])[-19:], entry]


def _settle(row: ActivityWrite, *, done: bool, now: dt.datetime) -> None:
    """A send finished: done, unless the plan changed meanwhile (send the newer version)."""
    row.claim, row.lease_until, row.sent_at, row.updated_at = None, None, None, now
    row.error_code = row.error_message = None
    row.error_fields = None
    if done and row.version != row.sent_version:
        row.status, row.next_attempt_at = "queued", now
    elif done:
        row.status = "done"


def _out_of_attempts(row: ActivityWrite) -> bool:
    """Whether a transient failure ends the write: MAX_ATTEMPTS since it was last retried."""
    return row.attempts - (row.attempts_at_retry or 0) >= MAX_ATTEMPTS


def _retry_later(row: ActivityWrite, now: dt.datetime, backoff: Backoff) -> None:
    """Exponential backoff with full jitter; the record was not written, nothing to doubt."""
    delay = backoff.delay(row.attempts)
    row.status, row.claim, row.lease_until, row.sent_at = "queued", None, None, None
    row.next_attempt_at, row.updated_at = now + dt.timedelta(seconds=delay), now


def _error(row: ActivityWrite, code: str | None, message: str, fields: list[str],
           now: dt.datetime) -> None:
    row.status, row.claim, row.lease_until, row.sent_at = "errored", None, None, None
    row.error_code, row.error_message, row.error_fields = code, message, fields
    row.updated_at = now


def queued_count(db: Session, workspace_id: str) -> int:
    return int(db.scalar(select(func.count()).select_from(ActivityWrite).where(
        ActivityWrite.workspace_id == workspace_id,
        ActivityWrite.status.in_(("queued", "sending")))) or 0)


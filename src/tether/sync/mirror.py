"""The mirror: local copies of the org's records, written newer-SystemModstamp-wins.

Writes are idempotent and safe in any order: a record is replaced only by a copy with a later
SystemModstamp, so a webhook delivered twice, late, or after an interval sync changes nothing.

SystemModstamps are compared as moments, not as the text that came: the column holds each in
one form (UTC, milliseconds, ``2026-11-28T10:00:00.000+0000``), in which text order is time
order, so the database compares them in the upsert itself.  A value stored before that (in
no datetime form Salesforce writes) loses to any copy, rather than pinning its record.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, and_, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tether.salesforce.datetimes import format_datetime, parse_datetime
from tether.store.models import MirrorRecord

MIRRORED = ("Account", "Contact", "Lead", "Opportunity", "OpportunityContactRole", "User",
            "Task", "Event")
_KEYS = ("system_modstamp", "is_deleted", "email_lower", "account_id", "contact_id",
         "opportunity_id", "owner_id", "converted_contact_id", "master_record_id", "who_id",
         "name_key", "last_key", "company_key", "data", "sobject")
SEARCHED = ("Lead", "Contact", "Account")  # people search finds these
_ACTIVITIES = ("Task", "Event")
KEY_LENGTH = 200
_CANONICAL = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3})(?:\+0000|Z)")
# Newer wins; a stored stamp in neither of Salesforce's UTC forms is replaced by any copy.
_NEWER = ("mirror_record.system_modstamp < excluded.system_modstamp OR NOT ("
          "mirror_record.system_modstamp LIKE '____-__-__T__:__:__.___+0000' OR "
          "mirror_record.system_modstamp LIKE '____-__-__T__:__:__.___Z')")


def modstamp(value: object) -> str:
    """A SystemModstamp in the mirror's one form; raises ValueError if it is not a datetime.
    Salesforce's own forms (REST's +0000, Bulk 2.0's Z) take the fast path."""
    raw = str(value)
    match = _CANONICAL.fullmatch(raw)
    if match is not None:
        dt.datetime.fromisoformat(match.group(1))  # the shape of one, but is it a moment?
        return match.group(1) + "+0000"
    return format_datetime(parse_datetime(raw))


def search_key(value: object) -> str | None:
    """Text as people search compares it: lower case, spaces collapsed, bounded."""
    if not isinstance(value, str):
        return None
    key = " ".join(value.lower().split())[:KEY_LENGTH]
    return key or None


def search_keys(sobject: str, record: Mapping[str, Any]
                ) -> tuple[str | None, str | None, str | None]:
    """(name, last name, company) keys of a Lead, Contact or Account; Nones for the rest."""
    if sobject not in SEARCHED:
        return None, None, None
    get = record.get
    name = get("Name") or " ".join(str(p) for p in (get("FirstName"), get("LastName")) if p)
    return (search_key(name), search_key(get("LastName")),
            search_key(get("Company")) if sobject == "Lead" else None)


def _who(sobject: str, record: Mapping[str, Any]) -> str | None:
    who = record.get("WhoId") if sobject in _ACTIVITIES else None
    return who if isinstance(who, str) and who else None


def key_columns(sobject: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """The columns lookups use, taken from a record's fields."""
    email = record.get("Email")
    name_key, last_key, company_key = search_keys(sobject, record)
    return {
        "sobject": sobject,
        "system_modstamp": modstamp(record["SystemModstamp"]),
        "is_deleted": bool(record.get("IsDeleted") or False),
        "email_lower": email.strip().lower() if isinstance(email, str) and email else None,
        "account_id": record.get("AccountId"),
        "contact_id": record.get("ContactId") or (
            record.get("WhoId") if str(record.get("WhoId") or "").startswith("003") else None),
        "opportunity_id": record.get("OpportunityId"),
        "owner_id": record.get("OwnerId"),
        "converted_contact_id": record.get("ConvertedContactId"),
        "master_record_id": record.get("MasterRecordId"),
        "who_id": _who(sobject, record),
        "name_key": name_key, "last_key": last_key, "company_key": company_key,
    }


@dataclass
class Tally:
    """What syncs did to the mirror: the records they read, and those whose mirrored values
    changed: created, deleted (or restored), or edited.  A copy with a later SystemModstamp
    but the values the mirror holds changes nothing, nor does one read again."""

    read: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    rewritten: int = 0  # a later copy with the same values: written, not changed
    own_writes: int = 0  # of those read, Tether's own Task and Event writes (real-time echo)

    @property
    def changed(self) -> int:
        return self.created + self.updated + self.deleted

    def __iadd__(self, other: Tally) -> Tally:
        for name in ("read", "created", "updated", "deleted", "rewritten", "own_writes"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


# Fields that change whenever a record is saved, whatever else did: not a change of values.
_STAMPS = frozenset({"SystemModstamp", "LastModifiedDate", "LastModifiedById",
                     "LastViewedDate", "LastReferencedDate", "attributes"})


@dataclass(frozen=True)
class _Held:
    stamp: str
    is_deleted: bool
    data: Mapping[str, Any] | None  # None: not read (only its stamp was needed)


def _same_value(held: Any, new: Any) -> bool:
    if held == new:
        return True
    if isinstance(held, str) and isinstance(new, str) and held[10:11] == new[10:11] == "T":
        try:  # a datetime in another of Salesforce's forms (Bulk's Z, REST's +0000)
            return modstamp(held) == modstamp(new)
        except ValueError:
            return False
    return False


def same_values(held: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether a copy holds the values the mirror has for every field it carries (fields
    it does not carry, as Bulk exports no compound address, are not read, so not changed)."""
    return all(_same_value(held.get(k), v) for k, v in new.items() if k not in _STAMPS)


def classify(held: _Held | None, record: Mapping[str, Any], stamp: str) -> str | None:
    """What writing this copy (``stamp``: its SystemModstamp in the mirror's form) does:
    "created", "deleted" (deleted or restored), "updated", "rewritten" (a later copy, the same
    values), or None (no later than the mirror's)."""
    deleted = bool(record.get("IsDeleted") or False)
    if held is None:  # new to the mirror (a record first seen deleted: its deletion)
        return "deleted" if deleted else "created"
    if stamp <= held.stamp:
        return None
    if deleted != held.is_deleted:
        return "deleted"
    assert held.data is not None
    return "rewritten" if same_values(held.data, record) else "updated"


_STORED = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")
_CHUNK = 900  # ids an IN list (SQLite allows 32,766 parameters; PostgreSQL 65,535)


def _stored_stamp(value: str) -> str:
    """A held stamp in the mirror's form ("" for one in no datetime form: any copy is
    newer).  Stored ones are in that form already: the check is only their shape."""
    if _STORED.fullmatch(value):
        return value
    try:
        return modstamp(value)
    except ValueError:
        return ""


def apply(db: Session, workspace_id: str, sobject: str, records: Sequence[Mapping[str, Any]],
          *, bulk: bool = False) -> Tally:
    """Write records newer-SystemModstamp-wins (:func:`upsert`; ``bulk`` takes the audit's
    fast path) and tally what changed.  What the mirror holds is read first: stamps for
    every record, values only for those a newer copy may change."""
    tally = Tally(read=len(records))
    stamps = [modstamp(r["SystemModstamp"]) for r in records]
    ids = sorted({str(r["Id"]) for r in records})
    held_stamps: dict[str, tuple[str, bool]] = {}
    for start in range(0, len(ids), _CHUNK):
        for sf_id, stamp, deleted in db.execute(select(
                MirrorRecord.sf_id, MirrorRecord.system_modstamp, MirrorRecord.is_deleted).where(
                MirrorRecord.workspace_id == workspace_id,
                MirrorRecord.sf_id.in_(ids[start:start + _CHUNK]))):
            held_stamps[sf_id] = (_stored_stamp(stamp), deleted)
    newer = sorted({str(r["Id"]) for r, stamp in zip(records, stamps, strict=True)
                    if r["Id"] in held_stamps and stamp > held_stamps[r["Id"]][0]})
    values: dict[str, Mapping[str, Any]] = {}
    for start in range(0, len(newer), _CHUNK):
        for sf_id, data in db.execute(select(MirrorRecord.sf_id, MirrorRecord.data).where(
                MirrorRecord.workspace_id == workspace_id,
                MirrorRecord.sf_id.in_(newer[start:start + _CHUNK]))):
            values[sf_id] = data
    held = {sf_id: _Held(stamp, deleted, values.get(sf_id))
            for sf_id, (stamp, deleted) in held_stamps.items()}
    for record, stamp in zip(records, stamps, strict=True):
        # In order: a record twice in one batch may change twice.
        kind = classify(held.get(record["Id"]), record, stamp)
        if kind is not None:
            setattr(tally, kind, getattr(tally, kind) + 1)
            held[record["Id"]] = _Held(stamp, bool(record.get("IsDeleted") or False), record)
    upsert(db, workspace_id, sobject, records, count=not bulk)
    return tally


def upsert(db: Session, workspace_id: str, sobject: str,
           records: Iterable[Mapping[str, Any]], *, count: bool = True) -> int:
    """Insert or replace records whose SystemModstamp is newer; answers how many changed
    (with ``count=False``, as the audit's bulk path asks, how many were offered: faster)."""
    if not count:
        return _bulk_insert(db.connection(), workspace_id, sobject, records)
    # One row a record: a statement may not write a row twice (PostgreSQL refuses it), and
    # of two copies the later wins, the first when they are the same moment, as in turn.
    latest: dict[str, dict[str, Any]] = {}
    for r in records:
        row = {"workspace_id": workspace_id, "sf_id": r["Id"], **key_columns(sobject, r),
               "data": dict(r)}
        held = latest.get(row["sf_id"])
        if held is None or _newer(row["system_modstamp"], held["system_modstamp"]):
            latest[row["sf_id"]] = row
    rows = list(latest.values())
    if not rows:
        return 0
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    base = insert(MirrorRecord)
    stmt = base.on_conflict_do_update(
        index_elements=[MirrorRecord.workspace_id, MirrorRecord.sf_id],
        set_={k: getattr(base.excluded, k) for k in _KEYS},
        where=text(_NEWER),
    )
    conn = db.connection()
    counted = stmt.returning(MirrorRecord.sf_id)  # inserted or replaced; skipped: nothing
    changed = 0
    for start in range(0, len(rows), 1000):
        changed += len(conn.execute(counted, rows[start:start + 1000]).all())
    return changed


_COLUMNS = ("workspace_id", "sf_id", *_KEYS)


def _bulk_insert(conn: Connection, workspace_id: str, sobject: str,
                 records: Iterable[Mapping[str, Any]]) -> int:
    """The audit's hot path: one driver-level executemany, same newer-wins statement, rows
    built straight into parameter tuples (in _COLUMNS order), the JSON encoded once."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    updates = ", ".join(f"{c} = excluded.{c}" for c in _KEYS)
    sql = (f"INSERT INTO mirror_record ({', '.join(_COLUMNS)}) VALUES "
           f"({', '.join([mark] * len(_COLUMNS))}) ON CONFLICT (workspace_id, sf_id) DO UPDATE "
           f"SET {updates} WHERE {_NEWER}")
    params = []
    dumps = orjson.dumps
    searched = sobject in SEARCHED
    for r in records:
        get = r.get
        email, who = get("Email"), get("WhoId")
        keys = search_keys(sobject, r) if searched else (None, None, None)
        # The same columns as key_columns, inlined: this loop runs once per audited record.
        params.append((
            workspace_id, r["Id"], modstamp(r["SystemModstamp"]), bool(get("IsDeleted") or False),
            email.strip().lower() if isinstance(email, str) and email else None,
            get("AccountId"),
            get("ContactId") or (who if isinstance(who, str) and who.startswith("003")
                                 else None),
            get("OpportunityId"), get("OwnerId"), get("ConvertedContactId"),
            get("MasterRecordId"), _who(sobject, r), *keys, dumps(r).decode(), sobject))
    if params:
        conn.exec_driver_sql(sql, params)
    return len(params)


def mark_deleted(db: Session, workspace_id: str, deleted: Iterable[tuple[str, str]]) -> int:
    """Deletions seen through getDeleted: (Id, deletedDate); a later copy wins as usual."""
    changed = 0
    for sf_id, when in deleted:
        row = db.get(MirrorRecord, (workspace_id, sf_id))
        when = modstamp(when)
        if row is None or row.is_deleted or not _newer(when, row.system_modstamp):
            continue
        row.is_deleted = True
        row.system_modstamp = when
        row.data = {**row.data, "IsDeleted": True, "SystemModstamp": when}
        changed += 1
    return changed


def _newer(candidate: str, held: str) -> bool:
    """As the upsert decides: a later moment, or anything over a stamp that is not one."""
    try:
        return candidate > modstamp(held)
    except ValueError:
        return True


def get(db: Session, workspace_id: str, sf_id: str) -> MirrorRecord | None:
    return db.get(MirrorRecord, (workspace_id, sf_id))


def live(workspace_id: str) -> Any:
    """Records of the workspace that are not deleted."""
    return and_(MirrorRecord.workspace_id == workspace_id, MirrorRecord.is_deleted.is_(False))


def lookup(db: Session, workspace_id: str, email: str) -> list[dict[str, Any]]:
    """What the mirror knows of an address, without an API call (CONTRACTS: lookup).

    Converted Leads resolve to their Contact; merged-away and deleted records are gone."""
    address = email.strip().lower()
    people = db.scalars(select(MirrorRecord).where(
        live(workspace_id), MirrorRecord.email_lower == address,
        MirrorRecord.sobject.in_(("Contact", "Lead")))).all()
    contacts: dict[str, MirrorRecord] = {p.sf_id: p for p in people if p.sobject == "Contact"}
    leads = [p for p in people if p.sobject == "Lead"]
    for lead in leads:
        target = lead.converted_contact_id
        if target and target not in contacts:
            row = get(db, workspace_id, target)
            if row is not None and not row.is_deleted:
                contacts[row.sf_id] = row
    matches: list[dict[str, Any]] = []
    for contact in contacts.values():
        matches.append({"object": "Contact", "Id": contact.sf_id, "fields": contact.data,
                        "account": _account(db, workspace_id, contact.account_id),
                        "opportunities": _opportunities(db, workspace_id, contact)})
    for lead in leads:
        if not lead.data.get("IsConverted"):
            matches.append({"object": "Lead", "Id": lead.sf_id, "fields": lead.data,
                            "account": None, "opportunities": []})
    return matches


def _account(db: Session, workspace_id: str, account_id: str | None) -> dict[str, Any] | None:
    if not account_id:
        return None
    row = get(db, workspace_id, account_id)
    return None if row is None or row.is_deleted else dict(row.data)


def _opportunities(db: Session, workspace_id: str, contact: MirrorRecord) -> list[dict[str, Any]]:
    """Opportunities where the contact has a role, then the others on their account."""
    role_opps = select(MirrorRecord.opportunity_id).where(
        live(workspace_id), MirrorRecord.sobject == "OpportunityContactRole",
        MirrorRecord.contact_id == contact.sf_id)
    conditions: list[ColumnElement[bool]] = [MirrorRecord.sf_id.in_(role_opps)]
    if contact.account_id:
        conditions.append(MirrorRecord.account_id == contact.account_id)
    rows = db.scalars(select(MirrorRecord).where(
        live(workspace_id), MirrorRecord.sobject == "Opportunity", or_(*conditions))
        .order_by(MirrorRecord.sf_id)).all()
    role_ids = set(db.scalars(role_opps))
    return [{**r.data, "ContactRole": r.sf_id in role_ids} for r in rows]

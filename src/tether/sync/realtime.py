"""Real-time sync: applying a document the real-time package posted (docs/realtime-webhook.md).

The envelope is checked whole (a bad one refuses the document); each record is checked on its
own: a record with a malformed Id, SystemModstamp, field name or value is refused, and the
document's other records are applied.  The webhook then answers 422 naming the refused ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from tether.domain.events import DateWindow
from tether.salesforce.datetimes import parse_datetime
from tether.store.models import ActivityWrite, CustomObjectConfig, Workspace, utcnow
from tether.sync import mirror
from tether.sync.push import KEY_FIELD
from tether.sync.runs import finish_run, start_run

# Salesforce ids: 15 characters (case-sensitive) or 18 (with the case-safe suffix).
SALESFORCE_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
# Salesforce's datetime as JSON.serialize writes it (2026-11-28T10:00:00.000+0000), and the
# other ISO 8601 forms its APIs use (…Z, …+00:00).
SALESFORCE_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:?\d{2})")
API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
MAX_NAME = 100  # field API names: 40 characters, plus a namespace and suffixes
MAX_FIELDS = 1000  # an object holds at most 800 custom fields, plus the standard ones
MAX_TEXT = 131_072  # the longest Salesforce text field (Long and Rich Text Area)
# Reference fields the mirror keeps in 18-character columns: an id or null, nothing else.
ID_FIELDS = ("Id", "AccountId", "ContactId", "WhoId", "OpportunityId", "OwnerId",
             "ConvertedContactId", "MasterRecordId")
EMAIL_LENGTH = 320  # the mirror's email column (RFC 5321)
ACTIVITY_OBJECTS = ("Task", "Event")  # what Tether writes: the webhook echoes each write


def is_datetime(value: object) -> bool:
    if not isinstance(value, str) or not SALESFORCE_DATETIME.fullmatch(value):
        return False
    try:
        parse_datetime(value)
    except (ValueError, OverflowError):  # no such moment (month 13, or before year 1 in UTC)
        return False
    return True


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid")
    object: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    operation: Literal["insert", "update", "delete", "undelete"]
    records: list[dict[str, Any]] = Field(max_length=10_000)  # each checked by record_problem


class RealtimeDocument(BaseModel):
    model_config = ConfigDict(extra="ignore")
    schema_: Literal["tether.realtime.v1"] = Field(alias="schema")
    delivery_id: str = Field(min_length=1, max_length=100)
    org_id: str = Field(pattern=r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
    committed_at: str | None = None
    changes: list[Change] = Field(max_length=100)

    @field_validator("committed_at")
    @classmethod
    def _a_datetime(cls, value: str | None) -> str | None:
        if value is not None and not is_datetime(value):
            raise ValueError("not a Salesforce datetime (2026-11-28T10:00:00.000+0000)")
        return value


def record_problem(record: dict[str, Any], window: DateWindow | None = None
                   ) -> tuple[str, str] | None:
    """(field, what is wrong) for the first problem of a record, or None: the mirror stores
    only what Salesforce could have sent (with a window, a SystemModstamp in it: one far in
    the future would pin the record against every genuine update)."""
    if len(record) > MAX_FIELDS:
        return "", f"has {len(record)} fields, more than any object ({MAX_FIELDS})"
    for name in ID_FIELDS:
        value = record.get(name)
        if value is None and name != "Id":
            continue  # an empty reference
        if not isinstance(value, str) or not SALESFORCE_ID.fullmatch(value):
            return name, "not a Salesforce id (15 or 18 letters and digits)"
    stamp = record.get("SystemModstamp")
    if not is_datetime(stamp):
        return "SystemModstamp", "not a Salesforce datetime (2026-11-28T10:00:00.000+0000)"
    wrong = window.problem(parse_datetime(str(stamp))) if window is not None else None
    if wrong is not None:
        return "SystemModstamp", wrong
    email = record.get("Email")
    if email is not None and not (isinstance(email, str) and len(email) <= EMAIL_LENGTH):
        return "Email", f"not an address of at most {EMAIL_LENGTH} characters"
    for name, value in record.items():
        problem = _name_problem(name) or _value_problem(value)
        if problem is not None:
            return name[:MAX_NAME], problem
    return None


def _name_problem(name: str) -> str | None:
    if len(name) > MAX_NAME or not API_NAME.fullmatch(name):
        return f"not a field API name (letters, digits and _, at most {MAX_NAME})"
    return None


def _value_problem(value: Any, compound: bool = True) -> str | None:
    """Scalars; a compound field (address, geolocation) is one object of scalars."""
    if value is None or isinstance(value, bool | int | float):
        return None
    if isinstance(value, str):
        return None if len(value) <= MAX_TEXT else f"longer than {MAX_TEXT} characters"
    if isinstance(value, dict) and compound:
        for key, part in value.items():
            problem = _name_problem(key) or _value_problem(part, compound=False)
            if problem is not None:
                return f"{key[:MAX_NAME]}: {problem}"
        return None
    return "not a field value (text, number, true/false, null, or an address)"


@dataclass
class Outcome:
    applied: int = 0  # records newer than the mirror's copy (their values changed or not)
    ignored: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # (where, what is wrong)


def own_writes(db: Session, workspace_id: str, records: list[dict[str, Any]]) -> int:
    """How many of these Task or Event records are Tether's own writes coming back as Tether
    sent them (by record id, or by the package's activity key before the id is known).  A
    rep's later edit of one differs from what Tether sent: their change, not an echo."""
    ids = sorted({str(r["Id"]) for r in records})
    keys = sorted({str(r[KEY_FIELD]) for r in records if r.get(KEY_FIELD)})
    by_id: dict[str, ActivityWrite] = {}
    by_key: dict[str, ActivityWrite] = {}
    for column, values in ((ActivityWrite.sf_id, ids), (ActivityWrite.key, keys)):
        for start in range(0, len(values), 500):
            for w in db.scalars(select(ActivityWrite).where(
                    ActivityWrite.workspace_id == workspace_id,
                    column.in_(values[start:start + 500]))):
                by_key[w.key] = w
                if w.sf_id:
                    by_id[w.sf_id] = w
    count = 0
    for r in records:
        write = by_id.get(str(r["Id"])) or by_key.get(str(r.get(KEY_FIELD) or ""))
        if write is not None and mirror.same_values(r, write.fields):
            count += 1
    return count


def apply_document(db: Session, workspace: Workspace, doc: RealtimeDocument,
                   window: DateWindow | None = None) -> Outcome:
    """Apply every good record of a mirrored object; others are counted as ignored, and
    malformed records refused (the others are applied all the same)."""
    mirrored = set(mirror.MIRRORED) | set(db.scalars(
        select(CustomObjectConfig.sobject).where(
            CustomObjectConfig.workspace_id == workspace.id)))
    run = start_run(db, workspace.id, "realtime")
    outcome, tally = Outcome(), mirror.Tally()
    for c, change in enumerate(doc.changes):
        if change.object not in mirrored:
            outcome.ignored += len(change.records)
            continue
        records = []
        for r, record in enumerate(change.records):
            problem = record_problem(record, window)
            if problem is not None:
                name, what = problem
                where = f"changes[{c}].records[{r}]" + (f".{name}" if name else "")
                outcome.refused.append((where, what))
                continue
            # Only a delete leaves the record deleted; an undelete brings it back.
            records.append({**record, "IsDeleted": change.operation == "delete"})
        if change.object in ACTIVITY_OBJECTS:
            tally.own_writes += own_writes(db, workspace.id, records)
        tally += mirror.apply(db, workspace.id, change.object, records)
    outcome.applied = tally.changed + tally.rewritten
    workspace.last_webhook_at = utcnow()
    error = None
    if outcome.refused:
        where, what = outcome.refused[0]
        error = f"{len(outcome.refused)} record(s) refused, the first {where}: {what}"
    finish_run(db, run, "failed" if error else "succeeded", tally, api_calls=0, error=error)
    return outcome

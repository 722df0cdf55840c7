"""The people view (the sidebar) and people search, read from the mirror: no API call.

For an address: its Leads and Contacts in the tie-break's order (a converted Lead stands for
its Contact), each with its Account, Opportunities (open first), Activity History (Tasks and
Events by WhoId, newest first, Tether's own marked) and a link into Salesforce.  Fields are
the viewer's role's visible fields for each object, with the layout-required ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from tether.domain import records as rec
from tether.domain.matching import Person, choose, rank
from tether.services.errors import Conflict, Invalid
from tether.services.planning import tie_break_of
from tether.services.workspaces import Actor, effective_for
from tether.store.models import (
    ActivityWrite,
    FieldMetadata,
    MirrorRecord,
    SalesforceConnection,
    Workspace,
)
from tether.sync import mirror_view
from tether.sync.mirror import SEARCHED, live, search_key
from tether.sync.push import KEY_FIELD

OBJECTS = ("Contact", "Lead", "Account", "Opportunity", "Task")
HISTORY_LIMIT = 50
SEARCH_LIMIT = 25


@dataclass(frozen=True)
class Catalog:
    """An object's fields as the last fields sync saw them, and its layout-required ones."""

    sobject: str
    fields: Mapping[str, rec.Field]
    layout_required: tuple[str, ...]
    fetched_at: dt.datetime

    def label(self, name: str) -> str:
        f = self.fields.get(name)
        return f.label if f is not None else name


_CATALOGS: dict[tuple[str, str], Catalog] = {}


def catalog(db: Session, workspace_id: str, sobject: str) -> Catalog | None:
    """The object's field catalog, parsed once per fields sync (kept while fetched_at is)."""
    fetched = db.scalar(select(FieldMetadata.fetched_at).where(
        FieldMetadata.workspace_id == workspace_id, FieldMetadata.sobject == sobject))
    if fetched is None:
        return None
    held = _CATALOGS.get((workspace_id, sobject))
    if held is not None and held.fetched_at == fetched:
        return held
    row = db.get(FieldMetadata, (workspace_id, sobject))
    if row is None:
        return None
    made = Catalog(sobject, rec.fields_of(row.fields), tuple(row.layout_required or ()),
                   row.fetched_at)
    _CATALOGS[(workspace_id, sobject)] = made
    return made


def required_catalog(db: Session, workspace_id: str, sobject: str) -> Catalog:
    cat = catalog(db, workspace_id, sobject)
    if cat is None:
        raise Conflict(f"Tether has no field metadata for {sobject} yet: an admin runs "
                       "\"Get latest fields\" on the Integrations page", "sobject")
    return cat


def shown(db: Session, workspace_id: str, membership_id: str) -> dict[str, list[str]]:
    """Per object, the fields this member's role shows (with the layout-required ones)."""
    settings = effective_for(db, workspace_id, membership_id).settings
    out: dict[str, list[str]] = {}
    for sobject in OBJECTS:
        cat = catalog(db, workspace_id, sobject)
        if cat is None:
            continue
        out[sobject] = rec.shown_fields(sobject, settings.visible_fields.get(sobject, ()),
                                        cat.layout_required, cat.fields.keys())
    return out


@dataclass
class _Reader:
    db: Session
    workspace_id: str
    fields: dict[str, list[str]]
    instance_url: str

    def labels(self, sobject: str) -> dict[str, str]:
        cat = catalog(self.db, self.workspace_id, sobject)
        return {n: cat.label(n) if cat else n for n in self.fields.get(sobject, ())}

    def record(self, row: MirrorRecord) -> dict[str, Any]:
        names = self.fields.get(row.sobject) or list(rec.DEFAULT_VISIBLE.get(row.sobject, ()))
        fields = {n: row.data.get(n) for n in names}
        return {"object": row.sobject, "Id": row.sf_id, "fields": fields,
                "labels": self.labels(row.sobject), "names": self.names(row.sobject, fields),
                "SystemModstamp": row.system_modstamp, "url": self.url(row.sobject, row.sf_id)}

    def names(self, sobject: str, fields: Mapping[str, Any]) -> dict[str, str]:
        """The Name of each record a shown lookup field points at (an owner's, an
        Account's), where the mirror has it."""
        cat = catalog(self.db, self.workspace_id, sobject)
        out: dict[str, str] = {}
        for name, value in fields.items():
            f = cat.fields.get(name) if cat else None
            if f is None or f.type != "reference" or not isinstance(value, str) or not value:
                continue
            target = self.db.get(MirrorRecord, (self.workspace_id, value))
            if target is not None and not target.is_deleted:
                out[name] = mirror_view.display_name(target.data)
        return out

    def url(self, sobject: str, sf_id: str) -> str:
        return f"{self.instance_url}/lightning/r/{sobject}/{sf_id}/view"


def record_url(db: Session, workspace_id: str, sobject: str, sf_id: str) -> str:
    """The record's page in Salesforce (Lightning)."""
    workspace = db.get(Workspace, workspace_id)
    instance = (workspace.salesforce_instance_url or "") if workspace else ""
    return f"{instance.rstrip('/')}/lightning/r/{sobject}/{sf_id}/view"


def _reader(db: Session, actor: Actor) -> _Reader:
    workspace = db.get(Workspace, actor.workspace_id)
    instance = (workspace.salesforce_instance_url or "") if workspace else ""
    return _Reader(db, actor.workspace_id, shown(db, actor.workspace_id, actor.membership_id),
                   instance.rstrip("/"))


def check_email(email: str) -> str:
    address = email.strip().lower()
    local, at, domain = address.partition("@")
    if not at or not local or "." not in domain or len(address) > 320:
        raise Invalid(f"'{email}' is not an email address", "email")
    return address


def candidates(db: Session, actor: Actor, email: str) -> tuple[list[Person], str]:
    """The Leads and Contacts with this address, in the tie-break's order, and why."""
    address = check_email(email)
    view = mirror_view.build(db, actor.workspace_id, [address])
    people = list(view.people.get(address, ()))
    if not people:
        lead = view.converted_without_contact.get(address)
        why = (f"Lead {lead} was converted, and its Contact is not in the mirror yet"
               if lead else "no Lead or Contact in Salesforce has this address")
        return [], why
    workspace = db.get(Workspace, actor.workspace_id)
    assert workspace is not None
    conn = db.scalar(select(SalesforceConnection).where(
        SalesforceConnection.membership_id == actor.membership_id))
    user_sf_id = conn.salesforce_user_id if conn is not None else None
    order = tie_break_of(workspace)
    match = choose(people, order, user_sf_id)  # the reason, in the planner's words
    assert match is not None
    return rank(people, order, user_sf_id), match.reason


def view(db: Session, actor: Actor, email: str) -> dict[str, Any]:
    """CONTRACTS: GET /api/v1/people."""
    ranked, reason = candidates(db, actor, email)
    reader = _reader(db, actor)
    rows = {r.sf_id: r for r in _rows(db, actor.workspace_id, [p.id for p in ranked])}
    history = _history(db, actor.workspace_id, list(rows))
    out = []
    for person in ranked:
        row = rows.get(person.id)
        if row is None:
            continue
        item = reader.record(row)
        if person.converted_from:
            item["converted_from"] = person.converted_from
        item["account"] = _account(reader, row)
        item["opportunities"] = _opportunities(reader, row)
        item["activity_history"] = history.get(row.sf_id, [])
        out.append(item)
    return {"email": email.strip().lower(), "records": out, "reason": reason}


def _rows(db: Session, workspace_id: str, ids: Iterable[str]) -> list[MirrorRecord]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    return list(db.scalars(select(MirrorRecord).where(live(workspace_id),
                                                      MirrorRecord.sf_id.in_(wanted))))


def _account(reader: _Reader, person: MirrorRecord) -> dict[str, Any] | None:
    if person.sobject != "Contact" or not person.account_id:
        return None
    rows = _rows(reader.db, reader.workspace_id, [person.account_id])
    return reader.record(rows[0]) if rows else None


def _opportunities(reader: _Reader, person: MirrorRecord) -> list[dict[str, Any]]:
    """A Contact's Opportunities: those it has a contact role on and those of its Account;
    open ones first (latest close date first), closed ones after, marked."""
    if person.sobject != "Contact":
        return []
    db, ws = reader.db, reader.workspace_id
    role_ids = set(db.scalars(select(MirrorRecord.opportunity_id).where(
        live(ws), MirrorRecord.sobject == "OpportunityContactRole",
        MirrorRecord.contact_id == person.sf_id)))
    conditions: list[ColumnElement[bool]] = [
        MirrorRecord.sf_id.in_(sorted(i for i in role_ids if i))]
    if person.account_id:
        conditions.append(and_(MirrorRecord.sobject == "Opportunity",
                               MirrorRecord.account_id == person.account_id))
    rows = db.scalars(select(MirrorRecord).where(
        live(ws), MirrorRecord.sobject == "Opportunity", or_(*conditions))).all()
    ordered = sorted(rows, key=lambda r: str(r.data.get("CloseDate") or ""), reverse=True)
    ordered.sort(key=lambda r: bool(r.data.get("IsClosed")))
    out = []
    for row in ordered:
        item = reader.record(row)
        item["is_closed"] = bool(row.data.get("IsClosed"))
        item["is_won"] = bool(row.data.get("IsWon"))
        item["contact_role"] = row.sf_id in role_ids
        out.append(item)
    return out


def _history(db: Session, workspace_id: str, who_ids: list[str]
             ) -> dict[str, list[dict[str, Any]]]:
    """Tasks and Events on each person, newest first (up to HISTORY_LIMIT each)."""
    if not who_ids:
        return {}
    rows = db.scalars(select(MirrorRecord).where(
        live(workspace_id), MirrorRecord.who_id.in_(who_ids),
        MirrorRecord.sobject.in_(("Task", "Event")))).all()
    own = set(db.scalars(select(ActivityWrite.sf_id).where(
        ActivityWrite.workspace_id == workspace_id,
        ActivityWrite.sf_id.in_(sorted({r.sf_id for r in rows}))))) if rows else set()
    out: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=_when, reverse=True):
        items = out.setdefault(row.who_id or "", [])
        if len(items) >= HISTORY_LIMIT:
            continue
        data = row.data
        item: dict[str, Any] = {"Id": row.sf_id, "object": row.sobject,
                                "Subject": data.get("Subject")}
        if row.sobject == "Event":
            item["StartDateTime"] = data.get("StartDateTime")
        else:
            item["ActivityDate"] = data.get("ActivityDate")
            item["Status"] = data.get("Status")
        item["by_tether"] = row.sf_id in own or bool(data.get(KEY_FIELD))
        items.append(item)
    return out


def _when(row: MirrorRecord) -> str:
    data = row.data
    return str(data.get("StartDateTime") or data.get("ActivityDate")
               or data.get("CreatedDate") or "")


def search(db: Session, actor: Actor, query: str, limit: int = SEARCH_LIMIT
           ) -> list[dict[str, Any]]:
    """Leads, Contacts and Accounts whose name, last name, company or email starts with the
    query (case and spacing ignored), and the Contacts of the Accounts found, over the
    mirror."""
    key = search_key(query)
    if key is None or len(key) < 2:
        raise Invalid("type at least 2 characters to search", "q")
    upper = key[:-1] + chr(ord(key[-1]) + 1)
    found: dict[str, MirrorRecord] = {}
    # One ordered index range a column (each stops at the limit), rather than one OR query
    # a planner may answer by scanning a whole index.
    for column in (MirrorRecord.name_key, MirrorRecord.last_key, MirrorRecord.company_key,
                   MirrorRecord.email_lower):
        for row in db.scalars(select(MirrorRecord).where(
                live(actor.workspace_id), column >= key, column < upper,
                MirrorRecord.sobject.in_(SEARCHED)).order_by(column).limit(limit)):
            if not (row.sobject == "Lead" and row.data.get("IsConverted")):
                found[row.sf_id] = row
    # A Contact's company is its Account: an Account found brings its Contacts.
    matched = sorted(r.sf_id for r in found.values() if r.sobject == "Account")
    if matched:
        for row in db.scalars(select(MirrorRecord).where(
                live(actor.workspace_id), MirrorRecord.sobject == "Contact",
                MirrorRecord.account_id.in_(matched)).limit(limit)):
            found.setdefault(row.sf_id, row)
    rows = sorted(found.values(), key=lambda r: (r.name_key or "", r.sf_id))[:limit]
    accounts = {a.sf_id: a for a in _rows(db, actor.workspace_id,
                                          [r.account_id for r in rows if r.account_id])}
    reader = _reader(db, actor)
    out = []
    for row in rows:
        data = row.data
        company = (data.get("Company") if row.sobject == "Lead" else
                   accounts[row.account_id].data.get("Name")
                   if row.account_id in accounts else None)
        out.append({"object": row.sobject, "Id": row.sf_id,
                    "name": mirror_view.display_name(data), "email": data.get("Email"),
                    "company": company, "url": reader.url(row.sobject, row.sf_id)})
    return out

"""The people view (the sidebar) and people search, read from the mirror: no API call.

For an address: its Leads and Contacts in the tie-break's order (a converted Lead stands for
its Contact), each with its Account, Opportunities (open first), Activity History (Tasks and
Events by WhoId, newest first, Tether's own marked) and a link into Salesforce.  Fields are
the viewer's role's visible fields for each object, with the layout-required ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, or_, select
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
Catalogs = dict[str, Catalog]


def catalogs(db: Session, workspace_id: str, sobjects: Iterable[str] | None = None
             ) -> Catalogs:
    """The objects' field catalogs (all the workspace has, or these), parsed once per fields
    sync: one query for their fetched_at, and the metadata itself only when it changed."""
    query = select(FieldMetadata.sobject, FieldMetadata.fetched_at).where(
        FieldMetadata.workspace_id == workspace_id)
    if sobjects is not None:
        query = query.where(FieldMetadata.sobject.in_(sorted(set(sobjects))))
    out: Catalogs = {}
    for sobject, fetched in db.execute(query):
        held = _CATALOGS.get((workspace_id, sobject))
        if held is None or held.fetched_at != fetched:
            row = db.get(FieldMetadata, (workspace_id, sobject))
            if row is None:
                continue
            held = Catalog(sobject, rec.fields_of(row.fields),
                           tuple(row.layout_required or ()), row.fetched_at)
            _CATALOGS[(workspace_id, sobject)] = held
        out[sobject] = held
    return out


def catalog(db: Session, workspace_id: str, sobject: str) -> Catalog | None:
    return catalogs(db, workspace_id, [sobject]).get(sobject)


def required_catalog(db: Session, workspace_id: str, sobject: str) -> Catalog:
    cat = catalog(db, workspace_id, sobject)
    if cat is None:
        raise Conflict(f"Tether has no field metadata for {sobject} yet: an admin runs "
                       "\"Get latest fields\" on the Integrations page", "sobject")
    return cat


def shown(db: Session, workspace_id: str, membership_id: str,
          cats: Catalogs | None = None) -> dict[str, list[str]]:
    """Per object, the fields this member's role shows (with the layout-required ones)."""
    settings = effective_for(db, workspace_id, membership_id).settings
    cats = catalogs(db, workspace_id, OBJECTS) if cats is None else cats
    return {sobject: rec.shown_fields(sobject, settings.visible_fields.get(sobject, ()),
                                      cat.layout_required, cat.fields.keys())
            for sobject, cat in cats.items() if sobject in OBJECTS}


def lightning_url(instance_url: str, sobject: str, sf_id: str) -> str:
    """A record's page in Salesforce (Lightning)."""
    return f"{instance_url.rstrip('/')}/lightning/r/{sobject}/{sf_id}/view"


def record_url(db: Session, workspace_id: str, sobject: str, sf_id: str) -> str:
    workspace = db.get(Workspace, workspace_id)
    return lightning_url((workspace.salesforce_instance_url or "") if workspace else "",
                         sobject, sf_id)


@dataclass
class _Reader:
    """Records as the view shows them; the Names its lookups point at are read at the end,
    in one query for every record shown (:meth:`resolve_names`)."""

    db: Session
    workspace_id: str
    cats: Catalogs
    fields: dict[str, list[str]]
    instance_url: str
    _lookups: list[tuple[dict[str, Any], str, str]] = field(default_factory=list)

    def record(self, row: MirrorRecord) -> dict[str, Any]:
        names = self.fields.get(row.sobject) or list(rec.DEFAULT_VISIBLE.get(row.sobject, ()))
        cat = self.cats.get(row.sobject)
        fields = {n: row.data.get(n) for n in names}
        item = {"object": row.sobject, "Id": row.sf_id, "fields": fields,
                "labels": {n: cat.label(n) if cat else n for n in names}, "names": {},
                "SystemModstamp": row.system_modstamp,
                "url": lightning_url(self.instance_url, row.sobject, row.sf_id)}
        for name, value in fields.items():
            f = cat.fields.get(name) if cat else None
            if f is not None and f.type == "reference" and isinstance(value, str) and value:
                self._lookups.append((item, name, value))
        return item

    def resolve_names(self) -> None:
        """The Name of each record a shown lookup field points at (an owner's, an
        Account's), where the mirror has it."""
        targets = {r.sf_id: mirror_view.display_name(r.data)
                   for r in _rows(self.db, self.workspace_id, {v for _, _, v in self._lookups})}
        for item, name, value in self._lookups:
            if value in targets:
                item["names"][name] = targets[value]


def check_email(email: str) -> str:
    address = email.strip().lower()
    local, at, domain = address.partition("@")
    if not at or not local or "." not in domain or len(address) > 320:
        raise Invalid(f"'{email}' is not an email address", "email")
    return address


@dataclass(frozen=True)
class _Ranked:
    people: list[tuple[Person, MirrorRecord]]  # the tie-break's order
    reason: str
    workspace: Workspace | None


def _ranked(db: Session, actor: Actor, email: str) -> _Ranked:
    address = check_email(email)
    rows, converted_missing = mirror_view.people_rows(db, actor.workspace_id, [address])
    found = rows.get(address, [])
    if not found:
        lead = converted_missing.get(address)
        why = (f"Lead {lead} was converted, and its Contact is not in the mirror yet"
               if lead else "no Lead or Contact in Salesforce has this address")
        return _Ranked([], why, None)
    workspace = db.get(Workspace, actor.workspace_id)
    assert workspace is not None
    conn = db.scalar(select(SalesforceConnection).where(
        SalesforceConnection.membership_id == actor.membership_id))
    user_sf_id = conn.salesforce_user_id if conn is not None else None
    order = tie_break_of(workspace)
    people = [mirror_view.person_of(row, converted) for row, converted in found]
    match = choose(people, order, user_sf_id)  # the reason, in the planner's words
    assert match is not None
    by_id = {row.sf_id: row for row, _ in found}
    return _Ranked([(p, by_id[p.id]) for p in rank(people, order, user_sf_id)], match.reason,
                   workspace)


def candidates(db: Session, actor: Actor, email: str) -> tuple[list[Person], str]:
    """The Leads and Contacts with this address, in the tie-break's order, and why."""
    ranked = _ranked(db, actor, email)
    return [p for p, _ in ranked.people], ranked.reason


def view(db: Session, actor: Actor, email: str) -> dict[str, Any]:
    """CONTRACTS: GET /api/v1/people.  A handful of queries whatever the person has: the
    records of the address, their Accounts, Opportunities, Activity History and lookups
    each in one."""
    ranked = _ranked(db, actor, email)
    answer: dict[str, Any] = {"email": email.strip().lower(), "records": [],
                              "reason": ranked.reason}
    if not ranked.people:
        return answer
    workspace = ranked.workspace  # held: effective_for reads it again from the session
    cats = catalogs(db, actor.workspace_id, OBJECTS)
    reader = _Reader(db, actor.workspace_id, cats,
                     shown(db, actor.workspace_id, actor.membership_id, cats),
                     (workspace.salesforce_instance_url or "") if workspace else "")
    rows = [row for _, row in ranked.people]
    contacts = [r for r in rows if r.sobject == "Contact"]
    accounts = {r.sf_id: r for r in _rows(db, actor.workspace_id,
                                          {c.account_id for c in contacts if c.account_id})}
    opportunities = _opportunities(db, actor.workspace_id, contacts)
    history = _history(db, actor.workspace_id, [r.sf_id for r in rows])
    for person, row in ranked.people:
        item = reader.record(row)
        if person.converted_from:
            item["converted_from"] = person.converted_from
        account = accounts.get(row.account_id or "") if row.sobject == "Contact" else None
        item["account"] = reader.record(account) if account is not None else None
        item["opportunities"] = [{**reader.record(o), "is_closed": bool(o.data.get("IsClosed")),
                                  "is_won": bool(o.data.get("IsWon")), "contact_role": role}
                                 for o, role in opportunities.get(row.sf_id, [])]
        item["activity_history"] = history.get(row.sf_id, [])
        answer["records"].append(item)
    reader.resolve_names()
    return answer


def _rows(db: Session, workspace_id: str, ids: Iterable[str | None]) -> list[MirrorRecord]:
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return []
    return list(db.scalars(select(MirrorRecord).where(live(workspace_id),
                                                      MirrorRecord.sf_id.in_(wanted))))


def _opportunities(db: Session, workspace_id: str, contacts: list[MirrorRecord]
                   ) -> dict[str, list[tuple[MirrorRecord, bool]]]:
    """Each Contact's Opportunities, with whether it has a contact role on them: those it
    has a role on and those of its Account; open ones first (latest close date first),
    closed ones after."""
    if not contacts:
        return {}
    roles = db.execute(select(MirrorRecord.contact_id, MirrorRecord.opportunity_id).where(
        live(workspace_id), MirrorRecord.sobject == "OpportunityContactRole",
        MirrorRecord.contact_id.in_(sorted(c.sf_id for c in contacts)))).all()
    role_opps = {o for _, o in roles if o}
    account_ids = sorted({c.account_id for c in contacts if c.account_id})
    conditions: list[ColumnElement[bool]] = []
    if role_opps:
        conditions.append(MirrorRecord.sf_id.in_(sorted(role_opps)))
    if account_ids:
        conditions.append(MirrorRecord.account_id.in_(account_ids))
    if not conditions:
        return {}
    rows = db.scalars(select(MirrorRecord).where(
        live(workspace_id), MirrorRecord.sobject == "Opportunity", or_(*conditions))).all()
    ordered = sorted(rows, key=lambda r: str(r.data.get("CloseDate") or ""), reverse=True)
    ordered.sort(key=lambda r: bool(r.data.get("IsClosed")))
    out: dict[str, list[tuple[MirrorRecord, bool]]] = {}
    for contact in contacts:
        mine = {o for c, o in roles if c == contact.sf_id}
        out[contact.sf_id] = [(r, r.sf_id in mine) for r in ordered
                              if r.sf_id in mine or (contact.account_id
                                                     and r.account_id == contact.account_id)]
    return out


def _history(db: Session, workspace_id: str, who_ids: list[str]
             ) -> dict[str, list[dict[str, Any]]]:
    """Tasks and Events on each person, newest first (up to HISTORY_LIMIT each)."""
    if not who_ids:
        return {}
    rows = db.scalars(select(MirrorRecord).where(
        live(workspace_id), MirrorRecord.who_id.in_(who_ids),
        MirrorRecord.sobject.in_(("Task", "Event")))).all()
    # Tether's own: written with the package's activity key, or known to the writer by id
    # (an org without the key field).
    unkeyed = sorted(r.sf_id for r in rows if not r.data.get(KEY_FIELD))
    own = set(db.scalars(select(ActivityWrite.sf_id).where(
        ActivityWrite.workspace_id == workspace_id,
        ActivityWrite.sf_id.in_(unkeyed)))) if unkeyed else set()
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
    workspace = db.get(Workspace, actor.workspace_id)
    instance = (workspace.salesforce_instance_url or "") if workspace else ""
    out = []
    for row in rows:
        data = row.data
        company = (data.get("Company") if row.sobject == "Lead" else
                   accounts[row.account_id].data.get("Name")
                   if row.account_id in accounts else None)
        out.append({"object": row.sobject, "Id": row.sf_id,
                    "name": mirror_view.display_name(data), "email": data.get("Email"),
                    "company": company, "url": lightning_url(instance, row.sobject, row.sf_id)})
    return out

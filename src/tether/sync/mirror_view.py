"""Reading the mirror into the planner's :class:`MirrorView`, a handful of queries a batch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tether.domain.matching import MirrorView, Opportunity, Person, Related
from tether.store.models import CustomObjectConfig, MirrorRecord
from tether.sync.mirror import live


def person_of(row: MirrorRecord, converted_from: str | None = None) -> Person:
    return Person(id=row.sf_id, sobject=row.sobject, owner_id=row.owner_id,
                  modstamp=row.system_modstamp, created=str(row.data.get("CreatedDate") or ""),
                  account_id=row.account_id, converted_from=converted_from,
                  name=display_name(row.data))


def display_name(data: dict[str, object]) -> str:
    """A record's Name, or its FirstName and LastName where the mirror holds only those."""
    parts = (data.get("FirstName"), data.get("LastName"))
    return str(data.get("Name") or " ".join(str(p) for p in parts if p))


def _opportunity(row: MirrorRecord) -> Opportunity:
    return Opportunity(id=row.sf_id, account_id=row.account_id, owner_id=row.owner_id,
                       is_closed=bool(row.data.get("IsClosed")),
                       name=str(row.data.get("Name") or ""))


# Of an address, its Leads and Contacts, each with the converted Lead it stands for (or None).
PeopleRows = dict[str, list[tuple[MirrorRecord, str | None]]]


def people_rows(db: Session, workspace_id: str, wanted: list[str]
                ) -> tuple[PeopleRows, dict[str, str]]:
    """The Leads and Contacts of each address (a converted Lead stands for its Contact), and
    the converted Leads whose Contact the mirror lacks (address -> Lead id)."""
    people: PeopleRows = defaultdict(list)
    converted_missing: dict[str, str] = {}
    rows: list[MirrorRecord] = []
    for start in range(0, len(wanted), 500):
        rows += db.scalars(select(MirrorRecord).where(
            live(workspace_id), MirrorRecord.email_lower.in_(wanted[start:start + 500]),
            MirrorRecord.sobject.in_(("Contact", "Lead")))).all()
    converted: dict[str, MirrorRecord] = {}
    for row in rows:
        email = row.email_lower or ""
        if row.sobject == "Lead" and row.data.get("IsConverted"):
            converted[row.sf_id] = row
            continue
        people[email].append((row, None))
    targets = {r.converted_contact_id for r in converted.values() if r.converted_contact_id}
    found = {r.sf_id: r for r in _by_ids(db, workspace_id, targets)}
    for lead in converted.values():
        email = lead.email_lower or ""
        contact = found.get(lead.converted_contact_id or "")
        if contact is None:
            converted_missing[email] = lead.sf_id
        else:
            # The converted Lead stands for its Contact (which usually has the same email).
            people[email] = [(r, c) for r, c in people[email] if r.sf_id != contact.sf_id]
            people[email].append((contact, lead.sf_id))
    return dict(people), converted_missing


def build(db: Session, workspace_id: str, emails: Iterable[str]) -> MirrorView:
    wanted = sorted({e for e in emails if e})
    if not wanted:
        return MirrorView()
    rows, converted_missing = people_rows(db, workspace_id, wanted)
    people = {email: [person_of(row, converted_from) for row, converted_from in found]
              for email, found in rows.items()}
    contacts = [p for ps in people.values() for p in ps if p.sobject == "Contact"]
    account_ids = {p.account_id for p in contacts if p.account_id}
    accounts = {r.sf_id: str(r.data.get("Name") or "") for r in
                _by_ids(db, workspace_id, account_ids) if r.sobject == "Account"}
    by_account: dict[str, list[Opportunity]] = defaultdict(list)
    if account_ids:
        for row in db.scalars(select(MirrorRecord).where(
                live(workspace_id), MirrorRecord.sobject == "Opportunity",
                MirrorRecord.account_id.in_(account_ids))):
            by_account[row.account_id or ""].append(_opportunity(row))
    by_role: dict[str, list[Opportunity]] = defaultdict(list)
    contact_ids = {p.id for p in contacts}
    if contact_ids:
        roles = db.execute(select(MirrorRecord.contact_id, MirrorRecord.opportunity_id).where(
            live(workspace_id), MirrorRecord.sobject == "OpportunityContactRole",
            MirrorRecord.contact_id.in_(contact_ids))).all()
        opps = {r.sf_id: _opportunity(r) for r in _by_ids(
            db, workspace_id, {o for _, o in roles if o}) if r.sobject == "Opportunity"}
        for contact_id, opp_id in roles:
            if contact_id and opp_id in opps:
                by_role[contact_id].append(opps[opp_id])
    parents = ({p.id for ps in people.values() for p in ps} | account_ids
               | {o.id for os in [*by_account.values(), *by_role.values()] for o in os})
    return MirrorView(people=dict(people), converted_without_contact=converted_missing,
                      accounts=accounts, opportunities_by_account=dict(by_account),
                      opportunities_by_role=dict(by_role),
                      custom_by_parent=_custom(db, workspace_id, parents))


def _by_ids(db: Session, workspace_id: str, ids: Iterable[str]) -> list[MirrorRecord]:
    wanted = sorted(set(ids))
    out: list[MirrorRecord] = []
    for start in range(0, len(wanted), 500):
        out += db.scalars(select(MirrorRecord).where(
            live(workspace_id), MirrorRecord.sf_id.in_(wanted[start:start + 500]))).all()
    return out


def _custom(db: Session, workspace_id: str, parents: set[str]) -> dict[str, list[Related]]:
    """Records of the configured custom objects that point at one of ``parents``."""
    out: dict[str, list[Related]] = defaultdict(list)
    if not parents:
        return {}
    configs = db.scalars(select(CustomObjectConfig).where(
        CustomObjectConfig.workspace_id == workspace_id)).all()
    wanted = sorted(parents)
    for config in configs:
        fields = list(config.relationship_fields)
        if not fields:
            continue
        conditions = [MirrorRecord.data[f].as_string().in_(wanted) for f in fields]
        for row in db.scalars(select(MirrorRecord).where(
                live(workspace_id), MirrorRecord.sobject == config.sobject, or_(*conditions))):
            for f in fields:
                parent = row.data.get(f)
                if parent in parents:
                    out[str(parent)].append(Related(
                        config.sobject, row.sf_id, f"{config.label} via {f}",
                        name=display_name(row.data)))
    return dict(out)

"""Autocreate at send (the guide's "Creating Records via Salesforce Auto-Create"): when the
sender's role prompts to create Leads or Contacts, a recipient with no record is asked about
before the send (409 needs_records), and the records chosen are created, through the same
create path as the sidebar's, before the message is queued, so its Sent activity lands on
them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tether.domain.settings import Autocreate
from tether.services import connection, people, records
from tether.services.errors import Conflict, Invalid
from tether.services.workspaces import Actor, effective_for
from tether.store.db import insert_ignoring
from tether.store.models import NeverCreate

ALLOWED = {Autocreate.LEADS_ONLY: ("Lead",), Autocreate.CONTACTS_ONLY: ("Contact",),
           Autocreate.CHOICE: ("Lead", "Contact")}


@dataclass(frozen=True)
class Decision:
    """What the sender chose for one recipient without a record."""

    create: str | None = None  # Lead | Contact
    fields: Mapping[str, Any] | None = None
    never: bool = False  # 'Never create a record for this address' (remembered)
    skip: bool = False  # this send only


def allowed_objects(db: Session, actor: Actor) -> tuple[str, ...]:
    """The objects the sender's role prompts to create; () when it does not prompt, or the
    sender cannot write to Salesforce (no plan, no connection)."""
    effective = effective_for(db, actor.workspace_id, actor.membership_id)
    if not effective.salesforce_enabled or not is_connected(db, actor.membership_id):
        return ()
    return ALLOWED.get(effective.settings.autocreate, ())


def is_connected(db: Session, membership_id: str) -> bool:
    conn = connection.get_connection(db, membership_id)
    return conn is not None and conn.status == "connected"


def _never(db: Session, actor: Actor, addresses: Sequence[str]) -> set[str]:
    return set(db.scalars(select(NeverCreate.email_lower).where(
        NeverCreate.membership_id == actor.membership_id,
        NeverCreate.email_lower.in_(list(addresses)))))


def _required(db: Session, actor: Actor, sobject: str) -> list[dict[str, Any]]:
    cat = people.required_catalog(db, actor.workspace_id, sobject)
    return [{"name": name, "label": cat.label(name)} for name in cat.layout_required
            if name != "Email"]


def needs(db: Session, actor: Actor, addresses: Sequence[str],
          decisions: Mapping[str, Decision], send_without_creating: bool
          ) -> list[dict[str, Any]]:
    """Each recipient the sender must decide about: no Lead or Contact, not 'never', no
    decision given.  Each names the objects allowed and their layout-required fields."""
    allowed = allowed_objects(db, actor)
    if not allowed or send_without_creating:
        return []
    undecided = [a for a in addresses if a not in decisions]
    if not undecided:
        return []
    never = _never(db, actor, undecided)
    missing = [a for a in undecided if a not in never and not people.candidates(db, actor, a)[0]]
    if not missing:
        return []
    required = {sobject: _required(db, actor, sobject) for sobject in allowed}
    return [{"email": a, "allowed": list(allowed),
             "required": {s: [f["label"] for f in fs] for s, fs in required.items()}
             if len(allowed) > 1 else [f["label"] for f in required[allowed[0]]],
             "required_fields": required} for a in missing]


def refuse_undecided(found: list[dict[str, Any]]) -> None:
    if found:
        names = ", ".join(f["email"] for f in found)
        raise Conflict(f"{names} {'has' if len(found) == 1 else 'have'} no Lead or Contact "
                       "in Salesforce: create one, skip, or send without creating",
                       "records", extra={"needs_records": found})


async def apply(deps: records.Deps, actor: Actor, decisions: Mapping[str, Decision]
                ) -> dict[str, str]:
    """Carry the decisions out before the send: 'never' remembered, records created (an
    address that meanwhile has a record is left alone).  Answers address -> created Id."""
    with deps.sessions() as db:
        allowed = allowed_objects(db, actor)
        never = [a for a, d in decisions.items() if d.never]
        if never:
            db.execute(insert_ignoring(db, NeverCreate), [
                {"membership_id": actor.membership_id, "email_lower": a} for a in never])
            db.commit()
        to_create = {a: d for a, d in decisions.items() if d.create and not d.never
                     and not d.skip and not people.candidates(db, actor, a)[0]}
    created: dict[str, str] = {}
    for address, decision in to_create.items():
        sobject = str(decision.create)
        if sobject not in allowed:
            raise Invalid(f"records.{address}.create: your role creates "
                          f"{' or '.join(allowed) or 'no records'}, not {sobject}",
                          f"records.{address}.create")
        values = {**dict(decision.fields or {}), "Email": address}
        try:
            result = await records.create(deps, actor, sobject, values)
        except Invalid as exc:
            raise Invalid(f"{address}: {exc.message}", f"records.{address}.fields",
                          extra={**exc.extra, "email": address}) from None
        created[address] = str(result["Id"])
    return created

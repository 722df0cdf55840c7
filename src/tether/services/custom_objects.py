"""Custom objects activities are logged to (C4), and the API usage view."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tether.config import Settings
from tether.salesforce.errors import SalesforceError
from tether.security import Vault
from tether.services.connection import client_for, get_connection, sync_user_client
from tether.services.errors import Conflict, Invalid, NotFound
from tether.services.workspaces import Actor
from tether.store.models import CustomObjectConfig, SyncState

LINKABLE = ("Lead", "Contact", "Account", "Opportunity")


def list_objects(db: Session, actor: Actor) -> list[dict[str, Any]]:
    rows = db.scalars(select(CustomObjectConfig).where(
        CustomObjectConfig.workspace_id == actor.workspace_id)
        .order_by(CustomObjectConfig.sobject))
    return [{"sobject": r.sobject, "label": r.label,
             "relationship_fields": r.relationship_fields} for r in rows]


CUSTOM_OBJECT = re.compile(r"[A-Za-z][A-Za-z0-9_]*__c")
MAX_RELATIONSHIP_FIELDS = 20


async def add_object(sessions: sessionmaker[Session], vault: Vault, settings: Settings,
                     actor: Actor, sobject: str, relationship_fields: list[str]
                     ) -> dict[str, Any]:
    """Check the object in Salesforce (it exists, allows activities, and each relationship
    field looks up a Lead, Contact, Account or Opportunity), then add it."""
    actor.require_admin()
    if not CUSTOM_OBJECT.fullmatch(sobject):
        raise Invalid(f"'{sobject}' is not a custom object's API name (like Project__c)",
                      "sobject")
    if not 1 <= len(relationship_fields) <= MAX_RELATIONSHIP_FIELDS:
        raise Invalid(f"name 1 to {MAX_RELATIONSHIP_FIELDS} relationship fields",
                      "relationship_fields")
    with sessions() as db:
        if db.scalar(select(CustomObjectConfig).where(
                CustomObjectConfig.workspace_id == actor.workspace_id,
                CustomObjectConfig.sobject == sobject)):
            raise Conflict(f"{sobject} is already configured", "sobject")
        own = get_connection(db, actor.membership_id)
    client = (client_for(sessions, vault, settings, actor.membership_id) if own is not None
              else sync_user_client(sessions, vault, settings, actor.workspace_id))
    async with client:
        try:
            described = await client.describe(sobject)
        except SalesforceError as exc:
            if exc.error_code in ("NOT_FOUND", "INVALID_TYPE"):
                raise Invalid(f"Salesforce has no object {sobject} (or you cannot read it)",
                              "sobject") from None
            raise
        task = await client.describe("Task")
    what: dict[str, Any] = next(
        (f for f in task.get("fields", []) if f.get("name") == "WhatId"), {})
    if sobject not in what.get("referenceTo", []):
        raise Invalid(f"{sobject} does not allow activities: in Salesforce Setup, edit the "
                      "object and check \"Allow Activities\", then add it again", "sobject")
    by_name = {f["name"]: f for f in described.get("fields", [])}
    links: dict[str, str] = {}
    for name in relationship_fields:
        f = by_name.get(name)
        if f is None:
            raise Invalid(f"{sobject} has no field {name}", "relationship_fields")
        targets = [t for t in f.get("referenceTo", []) if t in LINKABLE]
        if f.get("type") != "reference" or not targets:
            raise Invalid(f"{sobject}.{name} is not a lookup to a Lead, Contact, Account or "
                          "Opportunity", "relationship_fields")
        links[name] = targets[0]
    with sessions() as db:
        row = CustomObjectConfig(workspace_id=actor.workspace_id, sobject=sobject,
                                 label=str(described.get("label") or sobject),
                                 relationship_fields=links)
        db.add(row)
        db.merge(SyncState(workspace_id=actor.workspace_id, sobject=sobject,
                           needs_audit=True))
        db.commit()
    return {"sobject": sobject, "label": row.label, "relationship_fields": links}


def remove_object(db: Session, actor: Actor, sobject: str) -> None:
    actor.require_admin()
    row = db.scalar(select(CustomObjectConfig).where(
        CustomObjectConfig.workspace_id == actor.workspace_id,
        CustomObjectConfig.sobject == sobject))
    if row is None:
        raise NotFound(f"{sobject} is not configured")
    db.delete(row)

"""The fields a create or an edit form offers, from the object's field metadata: the page
layout's required fields (the guide's FAQ: the object layout, not a user's view layout) and
those Salesforce requires, then the role's visible fields."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from tether.domain import records as rec
from tether.services import people
from tether.services.records import EDITABLE, check_creatable
from tether.services.workspaces import Actor


def _field_json(f: rec.Field, required: bool) -> dict[str, Any]:
    return {"name": f.name, "label": f.label, "type": f.type, "required": required,
            "length": f.length or None, "picklist": list(f.picklist), "default": f.default,
            "reference_to": list(f.reference_to)}


def create_fields(db: Session, actor: Actor, sobject: str) -> list[tuple[rec.Field, bool]]:
    """(field, required) for a create form, required ones first."""
    check_creatable(sobject)
    cat = people.required_catalog(db, actor.workspace_id, sobject)
    required = rec.missing_required(cat.fields, cat.layout_required, {})
    # The layout's required fields Salesforce fills itself (a Lead's Status) are asked for
    # too, with their default chosen.
    required += [cat.fields[n] for n in cat.layout_required
                 if n in cat.fields and cat.fields[n].createable and cat.fields[n] not in required]
    shown = people.shown(db, actor.workspace_id, actor.membership_id).get(sobject, [])
    out = [(f, True) for f in required]
    for name in shown:
        f = cat.fields.get(name)
        # The owner is the creator, or whom the assignment rules choose: not asked for.
        if f is not None and f.createable and f not in required and name != "OwnerId":
            out.append((f, False))
    return out


def create_form(db: Session, actor: Actor, sobject: str) -> dict[str, Any]:
    return {"sobject": sobject, "fields": [_field_json(f, required)
                                           for f, required in create_fields(db, actor, sobject)]}


def edit_fields(db: Session, actor: Actor) -> dict[str, dict[str, rec.Field]]:
    """Per object Tether edits, the shown fields a member may change, by API name (the
    catalogs and the role's fields read once for all of them)."""
    cats = people.catalogs(db, actor.workspace_id, EDITABLE)
    shown = people.shown(db, actor.workspace_id, actor.membership_id, cats)
    return {sobject: {n: cat.fields[n] for n in shown.get(sobject, [])
                      if n in cat.fields and cat.fields[n].updateable}
            for sobject, cat in cats.items()}

"""Editing and creating Salesforce records from Tether, as the user (their own connection),
with read-your-writes: the mirror holds the result when the request answers.

- An edit reads the record first (one call) and answers 409 with both values when it changed
  in Salesforce since the caller saw it (``expected_modstamp``); then the update and a read
  of the result go in one composite call, all or none.
- A create and the read of what Salesforce made of it (defaults, assignment rules, formula
  fields) go in one composite call: one API call.  A Lead or Contact for an address is
  claimed first (RecordClaim, committed before the call): a second create for the address
  is refused with a link to the first, and one whose answer was lost is looked for in
  Salesforce before another is sent.
- Values are checked against describe before any call; Salesforce's refusals (validation
  rules, required fields, field-level security) come back in words, with its code.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tether.config import Settings
from tether.domain import records as rec
from tether.salesforce import CompositeSubrequest, SalesforceClient, SalesforceError
from tether.salesforce.composite import CompositeResult
from tether.salesforce.datetimes import parse_datetime
from tether.salesforce.errors import ErrorKind
from tether.salesforce.soql import quote
from tether.security import Vault
from tether.services import people
from tether.services.connection import client_for
from tether.services.errors import Conflict, Invalid, NotFound, ServiceError, Unavailable
from tether.services.workspaces import Actor, effective_for
from tether.store.models import MirrorRecord, RecordClaim, utcnow
from tether.sync import fields as fieldmeta
from tether.sync import mirror

EDITABLE = ("Lead", "Contact", "Account", "Opportunity")
CREATABLE = ("Lead", "Contact", "Account", "Opportunity", "Task")
PEOPLE = ("Lead", "Contact")
ASSIGNED = ("Lead", "Account")  # the role's "Run default assignment rule" applies to these
# A claim older than this whose create never answered is looked for in Salesforce again.
CLAIM_LEASE = dt.timedelta(minutes=2)
ROLE_FIELDS = ("Id", "OpportunityId", "ContactId", "Role", "IsPrimary", "IsDeleted",
               "SystemModstamp")


def check_creatable(sobject: str) -> None:
    if sobject not in CREATABLE:
        raise NotFound(f"Tether creates {', '.join(CREATABLE)}, not {sobject}", "sobject")


@dataclass(frozen=True)
class Deps:
    sessions: sessionmaker[Session]
    vault: Vault
    settings: Settings

    def client(self, actor: Actor) -> SalesforceClient:
        return client_for(self.sessions, self.vault, self.settings, actor.membership_id)


def _checked(cat: people.Catalog, values: Mapping[str, Any], *, creating: bool,
             allowed: Sequence[str] | None) -> dict[str, Any]:
    if not values:
        raise Invalid("no fields given", "fields")
    if allowed is not None:
        hidden = [n for n in values if n not in allowed]
        if hidden:
            raise Invalid(f"{cat.label(hidden[0])} is not among the {cat.sobject} fields your "
                          "role shows", f"fields.{hidden[0]}")
    clean, problems = rec.check_values(cat.fields, values, creating=creating,
                                       sobject=cat.sobject)
    if problems:
        raise Invalid(problems[0].message, f"fields.{problems[0].field}", extra={
            "problems": [{"field": f"fields.{p.field}", "detail": p.message}
                         for p in problems]})
    return clean


def _headers(db: Session, actor: Actor, sobject: str) -> dict[str, str]:
    """Sforce-Auto-Assign as the role says, for Leads and Accounts (created or updated)."""
    if sobject not in ASSIGNED:
        return {}
    run = effective_for(db, actor.workspace_id, actor.membership_id).settings \
        .run_assignment_rules
    return {"Sforce-Auto-Assign": "TRUE" if run else "FALSE"}


def _selected(cat: people.Catalog) -> list[str]:
    describe = {"fields": [{"name": f.name, "type": f.type} for f in cat.fields.values()]}
    return fieldmeta.selectable_fields(describe)


def refusal(exc: SalesforceError, cat: people.Catalog) -> ServiceError:
    """Salesforce's refusal in words, beside the field it names, with its code."""
    if exc.ambiguous:
        return Unavailable(f"Salesforce's answer was lost ({exc.error_code or exc.status}): "
                           "the change may have been made; look in Salesforce before trying "
                           "again")
    if exc.kind is ErrorKind.TRANSIENT:
        return Unavailable(f"Salesforce could not do it now ({exc.error_code or exc.status}: "
                           f"{exc.message}); nothing was changed: try again")
    if exc.kind is ErrorKind.AUTH:
        return Conflict(f"your Salesforce connection needs attention ({exc.error_code}): "
                        "connect again on the Integrations page", "salesforce")
    named = [f for f in exc.fields if f]
    where = f"fields.{named[0]}" if named else None
    labels = ", ".join(cat.label(f) for f in named)
    detail = f"Salesforce refused it: {exc.message}" + (f" ({labels})" if labels else "")
    return Invalid(detail, where, extra={"salesforce": {
        "errorCode": exc.error_code, "message": exc.message, "fields": list(exc.fields)}})


def _record_of(result: CompositeResult) -> dict[str, Any]:
    body = dict(result.checked())
    body.pop("attributes", None)
    return body


# -- edit -------------------------------------------------------------------------------------
async def update(deps: Deps, actor: Actor, sobject: str, sf_id: str,
                 values: Mapping[str, Any], expected_modstamp: str) -> dict[str, Any]:
    """CONTRACTS: PATCH /api/v1/salesforce/records/{sobject}/{id}."""
    if sobject not in EDITABLE:
        raise NotFound(f"Tether edits {', '.join(EDITABLE)}, not {sobject}", "sobject")
    try:
        seen = mirror.modstamp(expected_modstamp)
    except ValueError:
        raise Invalid(f"'{expected_modstamp}' is not a SystemModstamp (a datetime)",
                      "expected_modstamp") from None
    with deps.sessions() as db:
        row = db.get(MirrorRecord, (actor.workspace_id, sf_id))
        if row is None or row.is_deleted or row.sobject != sobject:
            raise NotFound(f"no {sobject} {sf_id} in this workspace's mirror", "id")
        cat = people.required_catalog(db, actor.workspace_id, sobject)
        allowed = people.shown(db, actor.workspace_id, actor.membership_id).get(sobject, [])
        clean = _checked(cat, values, creating=False, allowed=allowed)
        headers = _headers(db, actor, sobject)
    selected = _selected(cat)
    async with deps.client(actor) as sf:
        try:
            current = await sf.get(sobject, sf_id, selected)
        except SalesforceError as exc:
            if exc.error_code in ("NOT_FOUND", "ENTITY_IS_DELETED"):
                raise NotFound(f"{sobject} {sf_id} was deleted in Salesforce", "id") from None
            raise refusal(exc, cat) from None
        current.pop("attributes", None)
        if mirror.modstamp(current["SystemModstamp"]) > seen:
            _apply(deps, actor, sobject, [current])
            raise Conflict(
                f"this {sobject} changed in Salesforce since you saw it: compare, and save "
                "again to keep yours", None, extra={
                    "yours": clean,
                    "current": {n: current.get(n) for n in clean},
                    "labels": {n: cat.label(n) for n in clean},
                    "SystemModstamp": current["SystemModstamp"]})
        path = f"sobjects/{sobject}/{sf_id}"
        try:
            patched, after = await sf.composite([
                CompositeSubrequest("PATCH", path, "edit", clean, headers),
                CompositeSubrequest("GET", f"{path}?fields={','.join(selected)}", "after")],
                all_or_none=True)
        except SalesforceError as exc:
            raise refusal(exc, cat) from None
    if patched.error is not None:
        raise refusal(patched.error, cat)
    record = _record_of(after)
    _apply(deps, actor, sobject, [record])
    return {"object": sobject, "Id": sf_id, "SystemModstamp": record["SystemModstamp"],
            "fields": {n: record.get(n) for n in allowed}}


def _apply(deps: Deps, actor: Actor, sobject: str, records: list[dict[str, Any]],
           release: str | None = None) -> None:
    """Into the mirror, newer wins (a real-time echo of the same copy changes nothing);
    ``release``: the claim this create held, let go in the same transaction."""
    with deps.sessions() as db:
        mirror.apply(db, actor.workspace_id, sobject, records)
        if release is not None:
            claim = db.get(RecordClaim, (actor.workspace_id, release))
            if claim is not None:
                db.delete(claim)
        db.commit()


# -- create -----------------------------------------------------------------------------------
async def create(deps: Deps, actor: Actor, sobject: str, values: Mapping[str, Any], *,
                 contact_id: str | None = None) -> dict[str, Any]:
    """CONTRACTS: POST /api/v1/salesforce/records/{sobject}.  ``contact_id`` (an
    Opportunity created from a person): the Opportunity gets that Contact's contact role."""
    check_creatable(sobject)
    with deps.sessions() as db:
        cat = people.required_catalog(db, actor.workspace_id, sobject)
        clean = _checked(cat, values, creating=True, allowed=None)
        if contact_id is not None:
            clean = _from_contact(db, actor, sobject, contact_id, clean)
        missing = rec.missing_required(cat.fields, cat.layout_required, clean)
        if missing:
            raise Invalid("required fields are missing: " + ", ".join(f.label for f in missing),
                          f"fields.{missing[0].name}",
                          extra={"missing": [f.label for f in missing],
                                 "missing_fields": [f.name for f in missing]})
        headers = _headers(db, actor, sobject)
        role_cat = people.catalog(db, actor.workspace_id, "OpportunityContactRole")
    email = clean.get("Email") if sobject in PEOPLE else None
    address = str(email).strip().lower() if email else None
    if address is not None:
        await _claim(deps, actor, sobject, address)
    selected = _selected(cat)
    subrequests = [CompositeSubrequest("POST", f"sobjects/{sobject}", "new", clean, headers)]
    if contact_id is not None:
        subrequests.append(CompositeSubrequest(
            "POST", "sobjects/OpportunityContactRole", "role",
            {"OpportunityId": "@{new.id}", "ContactId": contact_id, "IsPrimary": True}))
    subrequests.append(CompositeSubrequest(
        "GET", f"sobjects/{sobject}/@{{new.id}}?fields={','.join(selected)}", "after"))
    if contact_id is not None:
        role_fields = _selected(role_cat) if role_cat is not None else list(ROLE_FIELDS)
        subrequests.append(CompositeSubrequest(
            "GET", f"sobjects/OpportunityContactRole/@{{role.id}}?fields="
            f"{','.join(role_fields)}", "role_after"))
    try:
        async with deps.client(actor) as sf:
            results = {r.reference_id: r for r in await sf.composite(subrequests,
                                                                     all_or_none=True)}
    except SalesforceError as exc:
        if address is not None:
            return await _settle_unknown(deps, actor, sobject, address, exc, cat)
        raise refusal(exc, cat) from None
    except BaseException:
        if address is not None:
            _release(deps, actor, address)
        raise
    failed = next((r for r in results.values() if r.error is not None
                   and r.error.error_code not in ("PROCESSING_HALTED",)), None)
    if failed is not None:
        if address is not None:
            _release(deps, actor, address)
        raise refusal(failed.error, cat) from None  # type: ignore[arg-type]
    record = _record_of(results["after"])
    _apply(deps, actor, sobject, [record], release=address)
    if "role_after" in results:
        _apply(deps, actor, "OpportunityContactRole", [_record_of(results["role_after"])])
    return _created(deps, actor, sobject, record)


def _created(deps: Deps, actor: Actor, sobject: str, record: Mapping[str, Any]
             ) -> dict[str, Any]:
    with deps.sessions() as db:
        shown = people.shown(db, actor.workspace_id, actor.membership_id).get(sobject, [])
        url = people.record_url(db, actor.workspace_id, sobject, str(record["Id"]))
    return {"object": sobject, "Id": record["Id"], "url": url,
            "SystemModstamp": record.get("SystemModstamp"),
            "fields": {n: record.get(n) for n in shown}}


def _from_contact(db: Session, actor: Actor, sobject: str, contact_id: str,
                  clean: dict[str, Any]) -> dict[str, Any]:
    if sobject != "Opportunity":
        raise Invalid("contact_id is for an Opportunity created from a person", "contact_id")
    contact = db.get(MirrorRecord, (actor.workspace_id, contact_id))
    if contact is None or contact.is_deleted or contact.sobject != "Contact":
        raise Invalid(f"no Contact {contact_id} in this workspace's mirror", "contact_id")
    if contact.account_id and not clean.get("AccountId"):
        clean = {**clean, "AccountId": contact.account_id}
    return clean


def existing(db: Session, workspace_id: str, address: str) -> MirrorRecord | None:
    """A live Lead (not converted) or Contact with this address in the mirror."""
    for row in db.scalars(select(MirrorRecord).where(
            mirror.live(workspace_id), MirrorRecord.email_lower == address,
            MirrorRecord.sobject.in_(PEOPLE)).order_by(MirrorRecord.sobject)):
        if not (row.sobject == "Lead" and row.data.get("IsConverted")):
            return row
    return None


def _duplicate(db: Session, actor: Actor, row: MirrorRecord) -> Conflict:
    created = str(row.data.get("CreatedDate") or "")
    recent = False
    with contextlib.suppress(ValueError):
        recent = utcnow() - parse_datetime(created) < dt.timedelta(minutes=10)
    how = "was just created" if recent else "already exists"
    url = people.record_url(db, actor.workspace_id, row.sobject, row.sf_id)
    return Conflict(f"a {row.sobject} for this address {how}: {url}", "fields.Email",
                    extra={"existing": {"object": row.sobject, "Id": row.sf_id, "url": url}})


async def _claim(deps: Deps, actor: Actor, sobject: str, address: str) -> None:
    """Claim the address for this create (committed before the call), or refuse."""
    with deps.sessions() as db:
        found = existing(db, actor.workspace_id, address)
        if found is not None:
            raise _duplicate(db, actor, found)
        db.add(RecordClaim(workspace_id=actor.workspace_id, email_lower=address,
                           sobject=sobject, membership_id=actor.membership_id))
        try:
            db.commit()
            return
        except IntegrityError:
            db.rollback()
        claim = db.get(RecordClaim, (actor.workspace_id, address))
        if claim is None:  # let go meanwhile: the create that held it failed, or landed
            found = existing(db, actor.workspace_id, address)
            if found is not None:
                raise _duplicate(db, actor, found) from None
            raise Conflict("another create for this address just ended: try again",
                           "fields.Email")
        stale = claim.state == "unknown" or utcnow() - claim.claimed_at > CLAIM_LEASE
        if not stale:
            raise Conflict(f"a {claim.sobject} for this address is being created right now",
                           "fields.Email")
    # A create whose answer never came: did it land?  Look before sending another.
    if await _look_up(deps, actor, address) is not None:
        with deps.sessions() as db:
            found = existing(db, actor.workspace_id, address)
            assert found is not None
            raise _duplicate(db, actor, found)
    with deps.sessions() as db:
        claim = db.get(RecordClaim, (actor.workspace_id, address))
        if claim is not None:
            claim.sobject, claim.membership_id = sobject, actor.membership_id
            claim.state, claim.claimed_at = "sending", utcnow()
        else:
            db.add(RecordClaim(workspace_id=actor.workspace_id, email_lower=address,
                               sobject=sobject, membership_id=actor.membership_id))
        db.commit()


async def _look_up(deps: Deps, actor: Actor, address: str) -> str | None:
    """A Lead or Contact with this address in Salesforce, into the mirror (and the claim let
    go); its id, or None."""
    async with deps.client(actor) as sf:
        for sobject in PEOPLE:
            with deps.sessions() as db:
                cat = people.catalog(db, actor.workspace_id, sobject)
            fields = _selected(cat) if cat is not None else ["Id", "Email", "SystemModstamp"]
            found = [r async for r in sf.query(
                f"SELECT {', '.join(fields)} FROM {sobject} WHERE Email = {quote(address)}"
                + (" AND IsConverted = false" if sobject == "Lead" else "")
                + " ORDER BY CreatedDate DESC LIMIT 1")]
            if found:
                record = {k: v for k, v in found[0].items() if k != "attributes"}
                _apply(deps, actor, sobject, [record], release=address)
                return str(record["Id"])
    return None


async def _settle_unknown(deps: Deps, actor: Actor, sobject: str, address: str,
                          exc: SalesforceError, cat: people.Catalog) -> dict[str, Any]:
    """The create's call failed: a refusal lets the claim go; a lost answer is looked for
    at once, and if Salesforce cannot say yet, the claim stays ("unknown") so that no second
    create goes out before someone has looked."""
    if not exc.ambiguous:
        _release(deps, actor, address)
        raise refusal(exc, cat) from None
    with deps.sessions() as db:
        claim = db.get(RecordClaim, (actor.workspace_id, address))
        if claim is not None:
            claim.state = "unknown"
            db.commit()
    try:
        found = await _look_up(deps, actor, address)
    except SalesforceError:
        found = None
    else:
        if found is None:
            _release(deps, actor, address)  # it did not land: a new create may go
            raise Unavailable("Salesforce's answer was lost and the record was not created: "
                              "try again") from None
    if found is None:
        raise Unavailable("Salesforce's answer was lost: Tether looks for the record before "
                          "another create for this address; try again in a moment") from None
    with deps.sessions() as db:
        row = db.get(MirrorRecord, (actor.workspace_id, found))
        assert row is not None
        return _created(deps, actor, row.sobject, row.data)


def _release(deps: Deps, actor: Actor, address: str) -> None:
    with deps.sessions() as db:
        claim = db.get(RecordClaim, (actor.workspace_id, address))
        if claim is not None:
            db.delete(claim)
            db.commit()

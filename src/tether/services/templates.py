"""Email templates: the workspace's (kept by admins, seen by every member) and each member's
own (seen by them alone), checked against the org's field labels when saved, and rendered
for a recipient from the mirror (no Salesforce API call)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tether.domain import templates as tpl
from tether.services import people
from tether.services.errors import Conflict, Invalid, NotFound
from tether.services.workspaces import Actor
from tether.store.models import EmailTemplate, MirrorRecord, iso, utcnow

OBJECTS = ("Lead", "Contact", "Account")  # the objects whose labels a template may use
LIMITS = {"name": 200, "subject": 998, "body": 200_000}  # characters (998: RFC 5322's line)
SCOPES = ("personal", "workspace")
_ID = re.compile(r"[0-9a-f]{1,32}")


# -- checks ------------------------------------------------------------------------------------
def _text(field: str, value: str) -> str:
    if len(value) > LIMITS[field]:
        raise Invalid(f"{field} is too long: {len(value):,} characters, at most "
                      f"{LIMITS[field]:,}", field)
    return value


def _name(value: str) -> str:
    name = _text("name", value.strip())
    if not name:
        raise Invalid("name is required", "name")
    return name


def _subject(value: str) -> str:
    if tpl.LINE_BREAKS.search(value):
        raise Invalid("subject must be one line (no line breaks)", "subject")
    return _text("subject", value)


def _scope(value: str) -> str:
    if value not in SCOPES:
        raise Invalid(f"scope must be one of {', '.join(SCOPES)}", "scope")
    return value


def _parsed(field: str, text: str) -> tpl.Template:
    try:
        return tpl.parse(text)
    except tpl.TemplateError as exc:
        raise Invalid(f"{field}: {exc.message}", field,
                      extra={"position": exc.position}) from None


def known_labels(db: Session, workspace_id: str) -> list[str]:
    """Every label of the Lead, Contact and Account fields, as the last fields sync saw them."""
    found = people.catalogs(db, workspace_id, OBJECTS)
    catalogs = [found[o] for o in OBJECTS if o in found]
    if not catalogs:
        raise Conflict("Tether has no Salesforce field labels yet: run the fields sync "
                       "(Get latest fields) first", None)
    return tpl.unique(f.label for c in catalogs for f in c.fields.values())


def check(db: Session, workspace_id: str, subject: str, body: str) -> None:
    """Refuses a template that does not parse or uses a label no field has (naming the
    closest real labels)."""
    parsed = {"subject": _parsed("subject", subject), "body": _parsed("body", body)}
    if not any(p.variables for p in parsed.values()):
        return  # plain text needs no labels (nor a fields sync)
    known = known_labels(db, workspace_id)
    problems = [(field, label, tpl.nearest(label, known))
                for field, p in parsed.items() for label in tpl.unknown(p.labels, known)]
    if not problems:
        return
    field, label, near = problems[0]
    quoted = [f"'{n}'" for n in near]
    hint = (f"; did you mean {', '.join(quoted[:-1])} or {quoted[-1]}?" if len(quoted) > 1
            else f"; did you mean {quoted[0]}?" if quoted else "")
    raise Invalid(f"{field}: no Lead, Contact or Account field has the label '{label}'{hint}",
                  field, extra={"label": label, "nearest": near, "unknown": [
                      {"field": f, "label": lb, "nearest": n} for f, lb, n in problems]})


# -- reading -------------------------------------------------------------------------------------
def _visible(db: Session, actor: Actor, template_id: str) -> EmailTemplate:
    """The template if the caller sees it: the workspace's, or their own (others' are 404)."""
    row = db.scalar(select(EmailTemplate).where(
        EmailTemplate.id == template_id, EmailTemplate.workspace_id == actor.workspace_id,
        or_(EmailTemplate.membership_id.is_(None),
            EmailTemplate.membership_id == actor.membership_id))) \
        if _ID.fullmatch(template_id) else None
    if row is None:
        raise NotFound(f"no template {template_id}", "id")
    return row


def _editable(db: Session, actor: Actor, template_id: str) -> EmailTemplate:
    row = _visible(db, actor, template_id)
    if row.membership_id is None:
        actor.require_admin()
    return row


def _scope_of(row: EmailTemplate) -> str:
    return "workspace" if row.membership_id is None else "personal"


def template_json(row: EmailTemplate) -> dict[str, Any]:
    try:
        labels = tpl.unique([*tpl.parse(row.subject).labels, *tpl.parse(row.body).labels])
    except tpl.TemplateError:
        labels = []  # saved before a stricter parser: rendering says what is wrong
    return {"id": row.id, "name": row.name, "subject": row.subject, "body": row.body,
            "scope": _scope_of(row),
            "variables": labels, "created_at": iso(row.created_at),
            "updated_at": iso(row.updated_at)}


def list_templates(db: Session, actor: Actor) -> list[dict[str, Any]]:
    rows = db.scalars(select(EmailTemplate).where(
        EmailTemplate.workspace_id == actor.workspace_id,
        or_(EmailTemplate.membership_id.is_(None),
            EmailTemplate.membership_id == actor.membership_id),
    ).order_by(EmailTemplate.name, EmailTemplate.id))
    return [template_json(r) for r in rows]


def get_template(db: Session, actor: Actor, template_id: str) -> dict[str, Any]:
    return template_json(_visible(db, actor, template_id))


def can_edit(actor: Actor, template: dict[str, Any]) -> bool:
    return template["scope"] == "personal" or actor.is_admin


# -- changing --------------------------------------------------------------------------------
def create_template(db: Session, actor: Actor, *, name: str, subject: str, body: str,
                    scope: str = "personal") -> dict[str, Any]:
    if _scope(scope) == "workspace":
        actor.require_admin()
    clean_name, clean_subject, clean_body = _name(name), _subject(subject), _text("body", body)
    check(db, actor.workspace_id, clean_subject, clean_body)
    row = EmailTemplate(workspace_id=actor.workspace_id, name=clean_name,
                        membership_id=None if scope == "workspace" else actor.membership_id,
                        subject=clean_subject, body=clean_body)
    db.add(row)
    db.flush()
    return template_json(row)


def update_template(db: Session, actor: Actor, template_id: str, *, name: str | None = None,
                    subject: str | None = None, body: str | None = None,
                    scope: str | None = None) -> dict[str, Any]:
    """A change to some of name, subject, body and scope; moving a template between the
    workspace's and one's own is an admin's (it changes who sees it)."""
    row = _editable(db, actor, template_id)
    if name is not None:
        row.name = _name(name)
    new_subject = row.subject if subject is None else _subject(subject)
    new_body = row.body if body is None else _text("body", body)
    if subject is not None or body is not None:
        check(db, actor.workspace_id, new_subject, new_body)
    row.subject, row.body = new_subject, new_body
    if scope is not None and _scope(scope) != _scope_of(row):
        actor.require_admin()
        row.membership_id = None if scope == "workspace" else actor.membership_id
    row.updated_at = utcnow()
    db.flush()
    return template_json(row)


def delete_template(db: Session, actor: Actor, template_id: str) -> None:
    db.delete(_editable(db, actor, template_id))
    db.flush()


# -- rendering -------------------------------------------------------------------------------
def _labels_of(db: Session, workspace_id: str, sobject: str) -> dict[str, str]:
    cat = people.catalog(db, workspace_id, sobject)
    return {name: f.label for name, f in cat.fields.items()} if cat else {}


def _live(db: Session, workspace_id: str, sf_id: str) -> MirrorRecord | None:
    row = db.get(MirrorRecord, (workspace_id, sf_id))
    return row if row is not None and not row.is_deleted else None


def sources_of(db: Session, workspace_id: str, row: MirrorRecord) -> list[tpl.Source]:
    """Where a person's labels are read: their own record, then their Account (a Lead's
    Company stands in for its Account Name)."""
    sources = [tpl.Source.of(_labels_of(db, workspace_id, row.sobject), row.data)]
    account_labels = _labels_of(db, workspace_id, "Account")
    if row.sobject == "Lead":
        sources.append(tpl.lead_as_account(account_labels, row.data))
    elif row.account_id:
        account = _live(db, workspace_id, row.account_id)
        if account is not None:
            sources.append(tpl.Source.of(account_labels, account.data))
    return sources


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    missing: list[str]  # labels without a value or a fallback
    record: MirrorRecord | None  # whose values filled it
    reason: str


def render_for(db: Session, actor: Actor, subject: str, body: str, to: str,
               variables: Mapping[str, Any] | None = None) -> Rendered:
    """A subject and an HTML body rendered for one recipient: their first Lead or Contact in
    the tie-break's order (as activity would be logged to), from the mirror; with none,
    fallbacks only, and every other label missing.  ``variables`` (a sequence recipient's,
    by label) come before the record's values."""
    parsed_subject, parsed_body = _parsed("subject", subject), _parsed("body", body)
    ranked, reason = people.candidates(db, actor, to)
    record = _live(db, actor.workspace_id, ranked[0].id) if ranked else None
    sources = sources_of(db, actor.workspace_id, record) if record is not None else []
    given = {label: value for label, value in (variables or {}).items()
             if value not in (None, "")}
    if given:
        sources = [tpl.Source.of({label: label for label in given}, given), *sources]
    values = tpl.values_for([*parsed_subject.labels, *parsed_body.labels], sources)
    out_subject = tpl.render(parsed_subject, values, html_body=False)
    out_body = tpl.render(parsed_body, values, html_body=True)
    return Rendered(out_subject.text, out_body.text,
                    tpl.unique([*out_subject.missing, *out_body.missing]), record, reason)


def visible(db: Session, actor: Actor, template_id: str) -> EmailTemplate:
    """A template the caller may use (the workspace's, or their own)."""
    return _visible(db, actor, template_id)


def render(db: Session, actor: Actor, template_id: str, to: str) -> dict[str, Any]:
    """CONTRACTS: POST /api/v1/templates/{id}/render."""
    row = _visible(db, actor, template_id)
    out = render_for(db, actor, row.subject, row.body, to)
    record = out.record
    return {"subject": out.subject, "body": out.body, "missing": out.missing,
            "record": {"object": record.sobject, "Id": record.sf_id} if record else None,
            "reason": out.reason, "to": to.strip().lower()}

"""Messages (CONTRACTS: POST /api/v1/messages, GET /api/v1/messages/{id}): a send is checked
whole (addresses, unsubscribes, each recipient's template variables, autocreate), then
recorded, message and one delivery per recipient, in one transaction before anything goes
out; the sender (services/sending.py) takes it from there."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tether.domain import tracking
from tether.domain.events import is_email
from tether.services import autocreate, mailboxes, templates
from tether.services import tracking as tracking_service
from tether.services.autocreate import Decision
from tether.services.errors import Conflict, Invalid
from tether.services.records import Deps
from tether.services.workspaces import Actor, owned_row
from tether.store.models import (
    MessageDelivery,
    OutboundMessage,
    TrackedFile,
    TrackedLink,
    Unsubscribe,
    User,
    Workspace,
    iso,
    utcnow,
)

MAX_RECIPIENTS = 100
LIMITS = {"subject": 998, "body_html": 500_000, "body_text": 500_000}
SCHEDULE_SLACK = dt.timedelta(seconds=1)  # a send_at this close to now is 'now'


@dataclass(frozen=True)
class Compose:
    to: Sequence[str]
    cc: Sequence[str] = ()
    bcc: Sequence[str] = ()
    subject: str | None = None
    body_html: str | None = None
    body_text: str | None = None
    template_id: str | None = None
    track_opens: bool = True
    track_clicks: bool = True
    send_at: dt.datetime | None = None
    in_reply_to: str | None = None
    records: Mapping[str, Decision] = field(default_factory=dict)
    send_without_creating: bool = False
    files: Sequence[str] = ()  # tracked downloads: ids of files uploaded to Tether
    variables: Mapping[str, Any] = field(default_factory=dict)  # by label, before the record's
    sequence: SequenceRef | None = None


@dataclass(frozen=True)
class SequenceRef:
    """The sequence stage a message is: its activity reads "Sent [name (#stage)]: …"."""

    recipient_id: str
    name: str
    stage: int


@dataclass(frozen=True)
class _Recipient:
    address: str
    kind: str  # to | cc | bcc | salesforce_bcc


def _addresses(data: Compose) -> list[_Recipient]:
    """Every recipient once (the first of To, Cc, Bcc it appears in), each checked."""
    out: list[_Recipient] = []
    seen: set[str] = set()
    for kind, values in (("to", data.to), ("cc", data.cc), ("bcc", data.bcc)):
        for i, raw in enumerate(values):
            address = raw.strip().lower()
            if not is_email(address) or any(c in address for c in "\r\n<>,;\""):
                raise Invalid(f"{kind}[{i}]: '{raw}' is not an email address", f"{kind}[{i}]")
            if address not in seen:
                seen.add(address)
                out.append(_Recipient(address, kind))
    if not out:
        raise Invalid("a message needs at least one recipient in to, cc or bcc", "to")
    if len(out) > MAX_RECIPIENTS:
        raise Invalid(f"at most {MAX_RECIPIENTS} recipients a message ({len(out)} given)",
                      "to")
    return out


def _refuse_unsubscribed(db: Session, actor: Actor, recipients: Sequence[_Recipient]) -> None:
    gone = {row.email_lower: row for row in db.scalars(select(Unsubscribe).where(
        Unsubscribe.workspace_id == actor.workspace_id,
        Unsubscribe.email_lower.in_([r.address for r in recipients])))}
    for r in recipients:
        if r.address in gone:
            raise Invalid(f"{r.address} unsubscribed from this workspace's email on "
                          f"{gone[r.address].at:%Y-%m-%d}: not sent", r.kind,
                          extra={"unsubscribed": sorted(gone)})


def _content(db: Session, actor: Actor, data: Compose) -> tuple[str, str, str | None]:
    """Subject and HTML body (a template's unless given), and the plain text if given."""
    subject, body = data.subject, data.body_html
    if data.template_id is not None:
        row = templates.visible(db, actor, data.template_id)
        subject = row.subject if subject is None else subject
        body = row.body if body is None else body
    if body is None and data.body_text is not None:
        body = "<p>" + _escape(data.body_text).replace("\n", "<br>") + "</p>"
    if not subject or not subject.strip():
        raise Invalid("subject: a message needs a subject", "subject")
    if body is None or not body.strip():
        raise Invalid("body_html: a message needs a body (body_html, body_text or a template)",
                      "body_html")
    for name, value in (("subject", subject), ("body_html", body),
                        ("body_text", data.body_text or "")):
        if len(value) > LIMITS[name]:
            raise Invalid(f"{name}: at most {LIMITS[name]:,} characters", name)
    if "\r" in subject or "\n" in subject:
        raise Invalid("subject: must be one line", "subject")
    templates.check(db, actor.workspace_id, subject, body)
    text = data.body_text
    if text is not None and "{{" in text:
        text = None  # variables are filled per recipient: derived from each one's HTML
    return subject, body, text


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _parent(db: Session, actor: Actor, in_reply_to: str | None
            ) -> tuple[str | None, str | None, str | None]:
    """(In-Reply-To, References, thread id) of a reply: to a message Tether sent (by its id
    or Message-ID), or to any Message-ID."""
    if not in_reply_to:
        return None, None, None
    value = in_reply_to.strip()
    parent = db.scalar(select(OutboundMessage).where(
        OutboundMessage.workspace_id == actor.workspace_id,
        (OutboundMessage.id == value) | (OutboundMessage.message_id == value)))
    if parent is not None:
        refs = " ".join(filter(None, [parent.references, parent.message_id]))
        return parent.message_id, refs, parent.thread_id
    if not (value.startswith("<") and value.endswith(">") and "@" in value
            and len(value) <= 300 and not any(c.isspace() for c in value)):
        raise Invalid("in_reply_to: the id of a message sent with Tether, or a Message-ID "
                      "such as <abc@example.com>", "in_reply_to")
    return value, value, value


def _files(db: Session, actor: Actor, ids: Sequence[str]) -> list[TrackedFile]:
    found = {f.id: f for f in db.scalars(select(TrackedFile).where(
        TrackedFile.workspace_id == actor.workspace_id, TrackedFile.id.in_(list(ids))))}
    for i, file_id in enumerate(ids):
        if file_id not in found:
            raise Invalid(f"files[{i}]: no uploaded file {file_id}", f"files[{i}]")
    return [found[i] for i in ids]


def _rendered(db: Session, actor: Actor, subject: str, body: str,
              recipients: Sequence[_Recipient], variables: Mapping[str, Any]
              ) -> dict[str, templates.Rendered]:
    """Each recipient's rendering; a variable with no value and no fallback refuses the
    send, naming the recipient and the label."""
    out: dict[str, templates.Rendered] = {}
    for r in recipients:
        done = templates.render_for(db, actor, subject, body, r.address, variables)
        if done.missing:
            labels = ", ".join(f"{{{{{label}}}}}" for label in done.missing)
            raise Invalid(f"{r.address}: {labels} {'has' if len(done.missing) == 1 else 'have'}"
                          f" no value for this recipient and no fallback (write "
                          f"{{{{{done.missing[0]}|…}}}} for one)", r.kind,
                          extra={"missing": [{"email": r.address, "labels": done.missing}]})
        out[r.address] = done
    return out


async def send(deps: Deps, actor: Actor, data: Compose) -> dict[str, Any]:
    """Check everything, create the records asked for, then record the message and its
    deliveries: 202 {id, message_id, status}."""
    recipients = _addresses(data)
    visible = [r.address for r in recipients if r.kind != "bcc"]
    with deps.sessions() as db:
        mailbox = mailboxes.mailbox_of(db, actor)
        if mailbox is None:
            raise Conflict("connect a mailbox first (PUT /api/v1/mailbox, or the Mailbox "
                           "page): Tether sends through your own mail server", "mailbox")
        _refuse_unsubscribed(db, actor, recipients)
        subject, body, text = _content(db, actor, data)
        _parent(db, actor, data.in_reply_to)
        _files(db, actor, data.files)
        for address in data.records:
            if address not in visible:
                raise Invalid(f"records.{address}: not a To or Cc recipient of this message",
                              f"records.{address}")
        autocreate.refuse_undecided(autocreate.needs(
            db, actor, visible, data.records, data.send_without_creating))
    if data.records and not data.send_without_creating:
        await autocreate.apply(deps, actor, data.records)
    with deps.sessions() as db:
        row = _record(db, deps, actor, data, recipients, subject, body, text)
        db.commit()
        return {"id": row.id, "message_id": row.message_id, "status": row.status,
                "send_at": iso(row.send_at) if row.send_at else None}


def record_now(db: Session, deps: Deps, actor: Actor, data: Compose) -> OutboundMessage:
    """A message checked and recorded in the caller's transaction, without autocreate (a
    sequence creates its records when recipients are added): the sequencer's send."""
    recipients = _addresses(data)
    _refuse_unsubscribed(db, actor, recipients)
    subject, body, text = _content(db, actor, data)
    return _record(db, deps, actor, data, recipients, subject, body, text)


def _record(db: Session, deps: Deps, actor: Actor, data: Compose,
            recipients: list[_Recipient], subject: str, body: str, text: str | None
            ) -> OutboundMessage:
    mailbox = mailboxes.mailbox_of(db, actor)
    if mailbox is None:
        raise Conflict("the mailbox was removed meanwhile", "mailbox")
    rendered = _rendered(db, actor, subject, body, recipients, data.variables)
    in_reply_to, references, thread = _parent(db, actor, data.in_reply_to)
    files = _files(db, actor, data.files)
    if not autocreate.is_connected(db, actor.membership_id) and mailbox.salesforce_bcc:
        recipients = [*recipients, _Recipient(mailbox.salesforce_bcc, "salesforce_bcc")]
    domain = deps.settings.message_domain
    message_id = f"<{uuid.uuid4().hex}@{domain}>"
    now = utcnow()
    send_at = data.send_at.astimezone(dt.UTC) if data.send_at else None
    scheduled = send_at is not None and send_at > now + SCHEDULE_SLACK
    workspace = db.get(Workspace, actor.workspace_id)
    user = db.get(User, actor.user_id)
    row = OutboundMessage(
        workspace_id=actor.workspace_id, membership_id=actor.membership_id,
        mailbox_id=mailbox.id, message_id=message_id, thread_id=thread or message_id,
        in_reply_to=in_reply_to, references=references, from_address=mailbox.address,
        from_name=mailbox.display_name or (user.name if user else ""),
        to=[r.address for r in recipients if r.kind == "to"],
        cc=[r.address for r in recipients if r.kind == "cc"],
        bcc=[r.address for r in recipients if r.kind == "bcc"],
        subject=subject, body_html=body, body_text=text, template_id=data.template_id,
        track_opens=data.track_opens, track_clicks=data.track_clicks,
        unsubscribe_link=bool(workspace and workspace.unsubscribe_links),
        status="scheduled" if scheduled else "queued", send_at=send_at if scheduled else None,
        next_attempt_at=send_at if scheduled and send_at else now, created_at=now,
        sequence_recipient_id=data.sequence.recipient_id if data.sequence else None,
        sequence_name=data.sequence.name if data.sequence else None,
        sequence_stage=data.sequence.stage if data.sequence else None)
    db.add(row)
    db.flush()
    first = rendered[recipients[0].address]
    for i, r in enumerate(recipients):
        done = rendered.get(r.address, first)  # Auto-BCC gets the first recipient's copy
        delivery = MessageDelivery(
            workspace_id=actor.workspace_id, message_pk=row.id, mailbox_id=mailbox.id,
            recipient=r.address, kind=r.kind,
            delivery_message_id=message_id if i == 0 else f"<{uuid.uuid4().hex}@{domain}>",
            subject=done.subject, body_html=done.body,
            body_text=text if done is first or text is None else None)
        db.add(delivery)
        db.flush()
        if r.kind == "salesforce_bcc":
            continue  # Salesforce's copy is not tracked
        urls = tracking.links(done.body) if data.track_clicks else []
        db.add_all(TrackedLink(delivery_id=delivery.id, n=n, url=url)
                   for n, url in enumerate(urls))
        db.add_all(TrackedLink(delivery_id=delivery.id, n=len(urls) + k, file_id=f.id)
                   for k, f in enumerate(files))
    return row


def _owned(db: Session, actor: Actor, message_pk: str) -> OutboundMessage:
    return owned_row(db, actor, OutboundMessage, message_pk, "message")


def message_json(db: Session, row: OutboundMessage) -> dict[str, Any]:
    deliveries = list(db.scalars(select(MessageDelivery).where(
        MessageDelivery.message_pk == row.id).order_by(MessageDelivery.id)))
    counts = tracking_service.recipient_counts(db, row.workspace_id, row.id)
    none = {"opens": 0, "clicks": 0, "downloads": 0, "machine_hits": 0}
    return {
        "id": row.id, "message_id": row.message_id, "thread_id": row.thread_id,
        "status": row.status, "subject": row.subject,
        "to": row.to, "cc": row.cc, "bcc": row.bcc,
        "send_at": iso(row.send_at) if row.send_at else None,
        "sent_at": iso(row.sent_at) if row.sent_at else None,
        "created_at": iso(row.created_at), "attempts": row.attempts, "error": row.error,
        "waiting": row.waiting_reason, "sent_copy": row.sent_copy,
        "recipients": [{"email": d.recipient, "kind": d.kind, "state": d.state,
                        "reply": d.smtp_reply, **counts.get(d.recipient, none),
                        "replied": d.replied_at is not None,
                        "replied_at": iso(d.replied_at) if d.replied_at else None,
                        "bounced": d.bounced_at is not None, "bounce": d.bounce,
                        "away_until": d.away_until.isoformat() if d.away_until else None}
                       for d in deliveries if d.kind != "salesforce_bcc"],
        "auto_bcc": next((d.recipient for d in deliveries if d.kind == "salesforce_bcc"),
                         None)}


def get(db: Session, actor: Actor, message_pk: str) -> dict[str, Any]:
    return message_json(db, _owned(db, actor, message_pk))


def queue(db: Session, actor: Actor, *, limit: int = 100) -> dict[str, Any]:
    """The sender's messages, newest first, and how many are in each status."""
    rows = list(db.scalars(select(OutboundMessage).where(
        OutboundMessage.workspace_id == actor.workspace_id,
        OutboundMessage.membership_id == actor.membership_id)
        .order_by(OutboundMessage.created_at.desc()).limit(limit)))
    counts = dict(db.execute(select(OutboundMessage.status, func.count()).where(
        OutboundMessage.workspace_id == actor.workspace_id,
        OutboundMessage.membership_id == actor.membership_id)
        .group_by(OutboundMessage.status)).all())
    # The subject as written: each recipient's may differ (a template's variables).
    return {"items": [{"id": r.id, "message_id": r.message_id, "subject": r.subject,
                       "created_at": iso(r.created_at),
                       "to": r.to, "status": r.status, "attempts": r.attempts,
                       "send_at": iso(r.send_at) if r.send_at else None,
                       "sent_at": iso(r.sent_at) if r.sent_at else None,
                       "next_attempt_at": iso(r.next_attempt_at), "error": r.error,
                       "waiting": r.waiting_reason} for r in rows],
            "counts": counts}


def cancel(db: Session, actor: Actor, message_pk: str) -> dict[str, Any]:
    """A message not yet sending is cancelled; one already sending cannot be taken back."""
    row = _owned(db, actor, message_pk)
    done = db.execute(update(OutboundMessage).where(
        OutboundMessage.id == row.id, OutboundMessage.status.in_(("queued", "scheduled")))
        .values(status="cancelled", waiting_reason=None))
    db.refresh(row)
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"the message is {row.status}: only a queued or scheduled message "
                       "can be cancelled", "status")
    return message_json(db, row)

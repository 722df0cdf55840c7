"""Sequences (CONTRACTS: "Tasks and sequences"): create and edit them, add recipients (by
hand, by CSV, from a filter over the mirror; with "Add new records for emails that don't
exist", their Leads or Contacts created when added), activate, pause and resume, and read
each recipient's state.  The engine that runs the stages is services/sequencing.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tether.domain import recipients as given_recipients
from tether.domain import records as rec
from tether.domain import schedule
from tether.domain import sequences as domain
from tether.services import people, records, sequencing, templates
from tether.services.errors import Conflict, Invalid, NotFound
from tether.services.records import Deps
from tether.services.workspaces import Actor, owned_row
from tether.store.models import MessageDelivery, MirrorRecord, TrackingHit, iso, utcnow
from tether.store.sequence_models import SequenceRecipient, SequenceRow, SequenceStep

CREATABLE = ("Lead", "Contact")
FILTER_OBJECTS = ("Lead", "Contact")
MAX_FILTERED = 5_000


def _stages(db: Session, actor: Actor, raw: Any) -> list[dict[str, Any]]:
    try:
        stages = domain.parse_stages(raw)
    except domain.StageError as exc:
        raise Invalid(exc.detail, exc.field) from None
    for s in stages:
        at = f"stages[{s.n - 1}]"
        if s.template_id is not None:
            try:
                templates.visible(db, actor, s.template_id)
            except NotFound:
                raise Invalid(f"{at}.template_id: no template {s.template_id}",
                              f"{at}.template_id") from None
        texts = [(s.subject or "", s.body or "")]
        if s.draft:
            texts.append((s.draft.get("subject", ""), s.draft.get("body", "")))
        for subject, body in texts:
            try:
                templates.check(db, actor.workspace_id, subject, body)
            except Invalid as exc:
                raise Invalid(f"{at}: {exc.message}", at) from None
    return [s.as_json() for s in stages]


def _window(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        return schedule.SendWindow.parse(raw).as_json()
    except schedule.ScheduleError as exc:
        raise Invalid(exc.detail, exc.field) from None


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > 120:
        raise Invalid("name: 1 to 120 characters", "name")
    return value.strip()


def _create_records(value: Any) -> str | None:
    if value not in (None, *CREATABLE):
        raise Invalid(f"create_records: Lead, Contact or null (not {value})", "create_records")
    return value  # type: ignore[no-any-return]


def _flag(data: Mapping[str, Any], name: str, default: bool) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise Invalid(f"{name}: true or false", name)
    return value


SETTINGS = ("name", "stages", "create_records", "send_window", "exit_on_colleague_reply",
            "postpone_out_of_office")


def create(db: Session, actor: Actor, data: Mapping[str, Any]) -> SequenceRow:
    unknown = set(data) - set(SETTINGS)
    if unknown:
        name = sorted(unknown)[0]
        raise Invalid(f"{name}: not a setting of a sequence", name)
    now = utcnow()
    row = SequenceRow(workspace_id=actor.workspace_id, membership_id=actor.membership_id,
                      name=_name(data.get("name")), status="draft",
                      stages=_stages(db, actor, data.get("stages")),
                      create_records=_create_records(data.get("create_records")),
                      send_window=_window(data.get("send_window")),
                      exit_on_colleague_reply=_flag(data, "exit_on_colleague_reply", True),
                      postpone_out_of_office=_flag(data, "postpone_out_of_office", True),
                      created_at=now, updated_at=now)
    db.add(row)
    db.flush()
    return row


def owned(db: Session, actor: Actor, sequence_id: str) -> SequenceRow:
    return owned_row(db, actor, SequenceRow, sequence_id, "sequence")


def edit(db: Session, actor: Actor, sequence_id: str, data: Mapping[str, Any]) -> SequenceRow:
    """An edit applies wherever it has not run: each recipient's next stage is timed again
    from when their last stage ran."""
    row = owned(db, actor, sequence_id)
    unknown = set(data) - set(SETTINGS)
    if unknown:
        name = sorted(unknown)[0]
        raise Invalid(f"{name}: not a setting of a sequence", name)
    now = utcnow()
    if "name" in data:
        row.name = _name(data["name"])
    if "stages" in data:
        row.stages = _stages(db, actor, data["stages"])
    if "create_records" in data:
        row.create_records = _create_records(data["create_records"])
    if "send_window" in data:
        row.send_window = _window(data["send_window"])
    for flag in ("exit_on_colleague_reply", "postpone_out_of_office"):
        if flag in data:
            setattr(row, flag, _flag(data, flag, True))
    row.updated_at = now
    if {"stages", "send_window"} & set(data):
        stages = domain.stages_of(row.stages)
        for r in db.scalars(select(SequenceRecipient).where(
                SequenceRecipient.sequence_id == row.id,
                SequenceRecipient.state.in_(("active", "paused")),
                SequenceRecipient.next_at.is_not(None), SequenceRecipient.task_id.is_(None),
                SequenceRecipient.by_hand.is_(False))):
            if r.stage <= len(stages):
                r.next_at = sequencing.due(row, r, stages[r.stage - 1], r.last_at or now)
    db.flush()
    return row


# -- recipients --------------------------------------------------------------------------------
def _given(body: Any, csv_text: str | None) -> tuple[list[given_recipients.Given],
                                                      list[str] | None]:
    try:
        if csv_text is not None:
            return given_recipients.from_csv(csv_text), given_recipients.header_of(csv_text)
        if not isinstance(body, Mapping) or set(body) - {"recipients", "filter"}:
            raise Invalid("a body {\"recipients\": [...]} or {\"filter\": {...}}, or text/csv",
                          "recipients")
        return given_recipients.from_list(body.get("recipients")), None
    except given_recipients.RecipientsError as exc:
        raise Invalid(exc.detail, exc.field, extra={"problems": exc.problems}) from None


def from_filter(db: Session, actor: Actor, raw: Any) -> list[given_recipients.Given]:
    """{"object": "Lead", "where": {"Status": "Open"}}: the mirror's live records of that
    object with an email whose fields equal those values."""
    if not isinstance(raw, Mapping) or raw.get("object") not in FILTER_OBJECTS \
            or not isinstance(raw.get("where", {}), Mapping):
        raise Invalid("filter: {\"object\": \"Lead\"|\"Contact\", \"where\": {field: value}}",
                      "filter")
    where = dict(raw.get("where") or {})
    cat = people.catalog(db, actor.workspace_id, str(raw["object"]))
    for name in where:
        if cat is not None and name not in cat.fields:
            raise Invalid(f"filter.where.{name}: not a field of {raw['object']}",
                          f"filter.where.{name}")
    found: list[given_recipients.Given] = []
    rows = db.scalars(select(MirrorRecord).where(
        MirrorRecord.workspace_id == actor.workspace_id, MirrorRecord.sobject == raw["object"],
        MirrorRecord.is_deleted.is_(False), MirrorRecord.email_lower.is_not(None))
        .order_by(MirrorRecord.sf_id))
    for row in rows:
        if all(str(row.data.get(k) if row.data.get(k) is not None else "") == str(v)
               for k, v in where.items()):
            found.append(given_recipients.Given(len(found) + 1, str(row.email_lower)))
            if len(found) > MAX_FILTERED:
                raise Invalid(f"filter: more than {MAX_FILTERED:,} people match; narrow it",
                              "filter")
    if not found:
        raise Invalid("filter: no one in the mirror matches", "filter")
    return found


def _needing_records(db: Session, actor: Actor, seq: SequenceRow,
                     given: Sequence[given_recipients.Given], columns: list[str] | None
                     ) -> tuple[list[given_recipients.Given], list[dict[str, Any]],
                                dict[str, str]]:
    """Those without a Lead or Contact, the fields their create needs (by label), and
    every createable field by its label (a variable named so fills it)."""
    if seq.create_records is None:
        return [], [], {}
    lacking = [g for g in given if not people.candidates(db, actor, g.email)[0]]
    cat = people.required_catalog(db, actor.workspace_id, seq.create_records)
    # What a create would lack with no values (a field Salesforce fills, such as a Lead's
    # Status, is not asked for).
    required = [{"name": f.name, "label": f.label}
                for f in rec.missing_required(cat.fields, cat.layout_required, {})
                if f.name != "Email"]
    by_label = {f.label.lower(): f.name for f in cat.fields.values()
                if f.createable and f.name != "Email"}
    return lacking, required, by_label


async def add(deps: Deps, actor: Actor, sequence_id: str, body: Any,
              csv_text: str | None = None) -> dict[str, Any]:
    """Recipients checked whole (every bad row named) before any is added; with "Add new
    records", anyone without a record needs every layout-required field as a variable, and
    their records are created as they are added."""
    with deps.sessions() as db:
        seq = owned(db, actor, sequence_id)
        if isinstance(body, Mapping) and "filter" in body and csv_text is None:
            given = from_filter(db, actor, body["filter"])
            columns = None
        else:
            given, columns = _given(body, csv_text)
        lacking, required, fields = _needing_records(db, actor, seq, given, columns)
        if lacking:
            labels = [f["label"] for f in required]
            problems = given_recipients.missing_required(
                lacking, labels, str(seq.create_records), csv_columns=columns)
            if problems:
                raise Invalid("; ".join(p["detail"] for p in problems[:20]),
                              "csv" if columns is not None else "recipients",
                              extra={"problems": problems, "required": labels})
        create_records = seq.create_records
    created: dict[str, str] = {}
    for g in lacking:
        values = {fields[k.lower()]: v for k, v in g.variables.items() if k.lower() in fields}
        try:
            out = await records.create(deps, actor, str(create_records),
                                       {**values, "Email": g.email})
        except Invalid as exc:
            raise Invalid(f"row {g.row} ({g.email}): {exc.message}", "recipients",
                          extra={**exc.extra, "email": g.email, "created": created}) from None
        created[g.email] = str(out["Id"])
    with deps.sessions() as db:
        seq = owned(db, actor, sequence_id)
        result = _insert(db, seq, given)
        db.commit()
    return {**result, "created": created}


def _insert(db: Session, seq: SequenceRow, given: Sequence[given_recipients.Given]
            ) -> dict[str, Any]:
    now = utcnow()
    there = set(db.scalars(select(SequenceRecipient.email).where(
        SequenceRecipient.sequence_id == seq.id,
        SequenceRecipient.email.in_([g.email for g in given]))))
    n = int(db.scalar(select(func.coalesce(func.max(SequenceRecipient.added_n), 0)).where(
        SequenceRecipient.sequence_id == seq.id)) or 0)
    added, skipped = 0, []
    for g in given:
        if g.email in there:
            skipped.append(g.email)
            continue
        there.add(g.email)
        n += 1
        r = SequenceRecipient(sequence_id=seq.id, workspace_id=seq.workspace_id, email=g.email,
                              variables=dict(g.variables), state="pending", stage=1,
                              added_n=n, created_at=now, updated_at=now)
        if seq.status in ("active", "paused"):
            sequencing.start(seq, r, now)
        db.add(r)
        added += 1
    db.flush()
    return {"added": added, "skipped": skipped[:100], "already_in": len(skipped)}


# -- the sequence's state ----------------------------------------------------------------------
def activate(db: Session, actor: Actor, sequence_id: str) -> SequenceRow:
    seq = owned(db, actor, sequence_id)
    if seq.status != "draft":
        raise Conflict(f"the sequence is {seq.status}: only a draft is activated "
                       "(resume a paused one)", "status")
    now = utcnow()
    seq.status, seq.updated_at = "active", now
    for r in db.scalars(select(SequenceRecipient).where(
            SequenceRecipient.sequence_id == seq.id, SequenceRecipient.state == "pending")):
        sequencing.start(seq, r, now)
    return seq


def pause(db: Session, actor: Actor, sequence_id: str) -> SequenceRow:
    seq = owned(db, actor, sequence_id)
    if seq.status != "active":
        raise Conflict(f"the sequence is {seq.status}: only an active one is paused", "status")
    seq.status, seq.updated_at = "paused", utcnow()
    return seq


def resume(db: Session, actor: Actor, sequence_id: str) -> SequenceRow:
    seq = owned(db, actor, sequence_id)
    if seq.status != "paused":
        raise Conflict(f"the sequence is {seq.status}: only a paused one is resumed", "status")
    seq.status, seq.updated_at = "active", utcnow()
    return seq


def recipient(db: Session, actor: Actor, sequence_id: str, email: str) -> SequenceRecipient:
    seq = owned(db, actor, sequence_id)
    r = db.scalar(select(SequenceRecipient).where(
        SequenceRecipient.sequence_id == seq.id,
        SequenceRecipient.email == email.strip().lower()))
    if r is None:
        raise NotFound(f"{email} is not in this sequence")
    return r


def act_on(db: Session, actor: Actor, sequence_id: str, email: str, action: str,
           next_at: dt.datetime | None = None) -> SequenceRecipient:
    """One recipient paused, resumed, stopped by hand, or rescheduled by hand."""
    r = recipient(db, actor, sequence_id, email)
    now = utcnow()
    if action == "pause":
        if r.state != "active":
            raise Conflict(f"{r.email} is {r.state}: only an active recipient is paused",
                           "state")
        r.state = "paused"
    elif action == "resume":
        if r.state != "paused":
            raise Conflict(f"{r.email} is {r.state}: only a paused recipient is resumed",
                           "state")
        r.state = "active"
    elif action == "stop":
        if r.state not in sequencing.LIVE:
            raise Conflict(f"{r.email} is {r.state} already", "state")
        sequencing.stop(db, [r.id], "stopped by hand", now)
    elif action == "reschedule":
        if next_at is None or next_at.tzinfo is None:
            raise Invalid("next_at: a date and time with an offset", "next_at")
        if r.state not in ("active", "paused", "pending") or r.task_id is not None:
            raise Conflict(f"{r.email} has no next stage to reschedule", "state")
        r.next_at, r.by_hand = next_at.astimezone(dt.UTC), True
    else:
        raise NotFound(f"no action {action}")
    r.updated_at = now
    db.flush()
    db.refresh(r)
    return r


# -- reading -----------------------------------------------------------------------------------
def recipient_json(r: SequenceRecipient) -> dict[str, Any]:
    return {"email": r.email, "state": r.state, "stage": r.stage,
            "next_at": iso(r.next_at) if r.next_at else None,
            "stopped_reason": r.stopped_reason, "waiting": r.waiting_reason,
            "task_id": r.task_id, "variables": r.variables, "rescheduled_by_hand": r.by_hand,
            "added_at": iso(r.created_at)}


def recipients_of(db: Session, actor: Actor, sequence_id: str, *, limit: int = 1000
                  ) -> list[SequenceRecipient]:
    seq = owned(db, actor, sequence_id)
    return list(db.scalars(select(SequenceRecipient).where(
        SequenceRecipient.sequence_id == seq.id).order_by(SequenceRecipient.added_n)
        .limit(limit)))


def counts(db: Session, seq: SequenceRow) -> dict[str, Any]:
    states = dict(db.execute(select(SequenceRecipient.state, func.count()).where(
        SequenceRecipient.sequence_id == seq.id).group_by(SequenceRecipient.state)).all())
    reasons = dict(db.execute(select(SequenceRecipient.stopped_reason, func.count()).where(
        SequenceRecipient.sequence_id == seq.id, SequenceRecipient.state == "stopped")
        .group_by(SequenceRecipient.stopped_reason)).all())
    replied = sum(c for why, c in reasons.items() if why and "replied" in why)
    steps = select(SequenceStep.n, MessageDelivery.id.label("d"),
                   MessageDelivery.accepted_at, MessageDelivery.replied_at).join(
        MessageDelivery, MessageDelivery.message_pk == SequenceStep.message_pk).where(
        SequenceStep.sequence_id == seq.id, MessageDelivery.kind == "to").subquery()
    per = {n: {"sent": int(sent or 0), "replied": int(rep or 0)} for n, sent, rep in db.execute(
        select(steps.c.n, func.count(steps.c.accepted_at), func.count(steps.c.replied_at))
        .group_by(steps.c.n))}
    hits = {(n, kind): int(c) for n, kind, c in db.execute(
        select(steps.c.n, TrackingHit.kind, func.count(func.distinct(TrackingHit.delivery_id)))
        .join(TrackingHit, TrackingHit.delivery_id == steps.c.d)
        .where(TrackingHit.verdict == "person").group_by(steps.c.n, TrackingHit.kind))}
    tasks = dict(db.execute(select(SequenceStep.n, func.count()).where(
        SequenceStep.sequence_id == seq.id, SequenceStep.kind == "task")
        .group_by(SequenceStep.n)).all())
    stages = [{"n": n, "kind": s.get("kind"),
               "sent": per.get(n, {}).get("sent", 0), "tasks": int(tasks.get(n, 0)),
               "opened": hits.get((n, "open"), 0), "clicked": hits.get((n, "click"), 0),
               "replied": per.get(n, {}).get("replied", 0)}
              for n, s in enumerate(seq.stages, start=1)]
    return {"recipients": sum(states.values()), "pending": states.get("pending", 0),
            "active": states.get("active", 0), "paused": states.get("paused", 0),
            "finished": states.get("finished", 0), "stopped": states.get("stopped", 0),
            "replied": replied, "bounced": int(reasons.get("bounced", 0)),
            "unsubscribed": int(reasons.get("unsubscribed", 0)), "stages": stages}


def sequence_json(db: Session, seq: SequenceRow, *, with_counts: bool = True
                  ) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": seq.id, "name": seq.name, "status": seq.status, "stages": seq.stages,
        "create_records": seq.create_records, "send_window": seq.send_window,
        "exit_on_colleague_reply": seq.exit_on_colleague_reply,
        "postpone_out_of_office": seq.postpone_out_of_office,
        "created_at": iso(seq.created_at), "updated_at": iso(seq.updated_at)}
    if with_counts:
        out["counts"] = counts(db, seq)
    return out


def listing(db: Session, actor: Actor) -> list[SequenceRow]:
    return list(db.scalars(select(SequenceRow).where(
        SequenceRow.workspace_id == actor.workspace_id,
        SequenceRow.membership_id == actor.membership_id)
        .order_by(SequenceRow.created_at.desc())))

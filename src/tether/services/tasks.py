"""Tasks (the guide's "Tasks"; CONTRACTS: POST|PATCH|GET /api/v1/tasks): to-do, call, email
and LinkedIn tasks, created from the Tasks page, the sidebar or a sequence.  Each change
records its task event in the event store in the same transaction, so the pipeline logs the
Salesforce Task under the role's "Tether tasks" setting (an email task is refused there: it
is logged as Sent when its email goes).  A task a sequence waits on moves the sequence."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tether.domain import records as rec
from tether.domain.events import is_email
from tether.domain.planner import TETHER_OWNS
from tether.services import events, messages, people
from tether.services.errors import Conflict, Invalid
from tether.services.records import Deps
from tether.services.workspaces import Actor, effective_for, owned_row
from tether.store.models import iso, utcnow
from tether.store.sequence_models import TetherTask

KINDS = ("todo", "call", "email", "linkedin")
STATUSES = ("open", "completed", "deferred", "skipped")
LIMITS = {"subject": 255, "notes": 32_000, "disposition": 255}
MAX_CALL_SECONDS = 24 * 3600


@dataclass(frozen=True)
class TaskIn:
    kind: str
    subject: str
    due: dt.date
    who: str | None = None
    notes: str | None = None
    linkedin: str | None = None
    draft: Mapping[str, str] | None = None
    fields: Mapping[str, Any] | None = None  # more Task fields, as the role shows them


def _text(name: str, value: str | None, *, required: bool = False) -> str | None:
    if value is None or not value.strip():
        if required:
            raise Invalid(f"{name}: required", name)
        return None
    if len(value) > LIMITS[name]:
        raise Invalid(f"{name}: at most {LIMITS[name]:,} characters", name)
    return value.strip() if name != "notes" else value


def _who(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    address = value.strip().lower()
    if not is_email(address):
        raise Invalid(f"who: '{value}' is not an email address", "who")
    return address


def _due(value: dt.date, today: dt.date) -> dt.date:
    if not today - dt.timedelta(days=3660) <= value <= today + dt.timedelta(days=3660):
        raise Invalid(f"due: must be within ten years of today ({value} is not)", "due")
    return value


def check_fields(db: Session, actor: Actor, kind: str, raw: Mapping[str, Any] | None
                 ) -> dict[str, Any] | None:
    """A task's own values for more Salesforce Task fields: only those the role shows for
    its kind ('+ Show another field'), each checked against the Task's metadata."""
    if not raw:
        return None
    allowed = effective_for(db, actor.workspace_id, actor.membership_id
                            ).settings.fields_for_task(kind)
    for name in raw:
        if name not in allowed:
            raise Invalid(f"fields.{name}: not a field your role shows on {kind} tasks "
                          f"({', '.join(allowed) or 'none'})", f"fields.{name}")
    cat = people.catalog(db, actor.workspace_id, "Task")
    if cat is None:
        return dict(raw)
    clean, problems = rec.check_values(cat.fields, raw, creating=True, sobject="Task")
    if problems:
        raise Invalid(f"fields.{problems[0].field}: {problems[0].message}",
                      f"fields.{problems[0].field}")
    return clean


def check_role_fields(db: Session, workspace_id: str, task_fields: Mapping[str, Any]) -> None:
    """A role's task fields are createable Task fields Tether does not set itself."""
    cat = people.catalog(db, workspace_id, "Task")
    for kind, names in task_fields.items():
        for name in names:
            f = cat.fields.get(name) if cat is not None else None
            if cat is not None and (f is None or not f.createable):
                raise Invalid(f"settings.task_fields.{kind}: {name} is not a Task field that "
                              "can be set", f"settings.task_fields.{kind}")
            if name in TETHER_OWNS:
                raise Invalid(f"settings.task_fields.{kind}: Tether sets {name} itself",
                              f"settings.task_fields.{kind}")


def check(data: TaskIn, today: dt.date) -> TaskIn:
    if data.kind not in KINDS:
        raise Invalid(f"kind: '{data.kind}' is not one of {', '.join(KINDS)}", "kind")
    if data.linkedin not in (None, "inmail", "connection"):
        raise Invalid("linkedin: inmail or connection", "linkedin")
    if data.draft is not None and data.kind != "email":
        raise Invalid("draft: only an email task holds a draft", "draft")
    for part in ("subject", "body"):
        if data.draft is not None and not str(data.draft.get(part) or "").strip():
            raise Invalid(f"draft.{part}: an email task's draft needs a {part}",
                          f"draft.{part}")
    return TaskIn(data.kind, _text("subject", data.subject, required=True) or "",
                  _due(data.due, today), _who(data.who), _text("notes", data.notes),
                  (data.linkedin or "inmail") if data.kind == "linkedin" else None,
                  dict(data.draft) if data.draft else None, data.fields)


def create(db: Session, actor: Actor, data: TaskIn, *, recipient_id: str | None = None,
           stage: int | None = None, now: dt.datetime | None = None) -> TetherTask:
    """The task and its task.created event, in the caller's transaction."""
    now = now or utcnow()
    data = check(data, now.date())
    fields = check_fields(db, actor, data.kind, data.fields)
    row = TetherTask(fields=fields, workspace_id=actor.workspace_id,
                     membership_id=actor.membership_id,
                     kind=data.kind, linkedin=data.linkedin, subject=data.subject, due=data.due,
                     who=data.who, notes=data.notes, draft=dict(data.draft) if data.draft
                     else None, status="open", sequence_recipient_id=recipient_id, stage=stage,
                     created_at=now, updated_at=now, version=0)
    db.add(row)
    db.flush()
    _record_event(db, actor, row, "task.created", now)
    return row


def _event_payload(actor: Actor, row: TetherTask, kind: str, now: dt.datetime
                   ) -> dict[str, Any]:
    task: dict[str, Any] = {"id": row.id, "kind": row.kind, "subject": row.subject,
                            "due": row.due.isoformat(),
                            "status": row.status if row.status != "skipped" else "deferred"}
    if row.who:
        task["who"] = row.who
    if row.notes:
        task["notes"] = row.notes[:32_000]
    if row.fields:
        task["fields"] = row.fields
    payload: dict[str, Any] = {"id": f"task-{row.id}-{row.version}", "type": kind,
                               "occurred_at": iso(now), "user": actor.email, "task": task}
    if row.kind == "call" and row.call and row.who:
        payload["call"] = {"to": row.who, "id": row.id, **row.call}
    return payload


def _record_event(db: Session, actor: Actor, row: TetherTask, kind: str, now: dt.datetime
                  ) -> None:
    events.store(db, [events.internal_row(actor.workspace_id, actor.membership_id,
                                          _event_payload(actor, row, kind, now), now)])


def owned(db: Session, actor: Actor, task_id: str) -> TetherTask:
    return owned_row(db, actor, TetherTask, task_id, "task")


def _call(raw: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(raw) - {"duration_s", "disposition", "notes"}
    if unknown:
        name = sorted(unknown)[0]
        raise Invalid(f"call.{name}: not a field of a call (duration_s, disposition, notes)",
                      f"call.{name}")
    duration = raw.get("duration_s", 0)
    if isinstance(duration, bool) or not isinstance(duration, int) \
            or not 0 <= duration <= MAX_CALL_SECONDS:
        raise Invalid(f"call.duration_s: whole seconds from 0 to {MAX_CALL_SECONDS}",
                      "call.duration_s")
    out: dict[str, Any] = {"duration_s": duration}
    for name in ("disposition", "notes"):
        value = raw.get(name)
        if value is not None:
            if not isinstance(value, str):
                raise Invalid(f"call.{name}: must be text", f"call.{name}")
            out[name] = _text(name, value)
    return out


def update(db: Session, actor: Actor, task_id: str, changes: Mapping[str, Any],
           now: dt.datetime | None = None) -> TetherTask:
    """Edit, complete, defer or skip: one event for the change (task.completed when it is
    completed, else task.updated); a task a sequence waits on moves the sequence."""
    from tether.services import sequencing  # the sequence engine imports tasks

    now = now or utcnow()
    row = owned(db, actor, task_id)
    before = row.status
    status = changes.get("status")
    if status is not None and status not in STATUSES:
        raise Invalid(f"status: '{status}' is not one of {', '.join(STATUSES)}", "status")
    if before == "completed" and status not in (None, "completed"):
        raise Conflict("the task is completed: it cannot be reopened", "status")
    if row.kind == "email" and status == "completed" and row.message_pk is None:
        raise Conflict("an email task is completed by sending its email (POST "
                       f"/api/v1/tasks/{row.id}/send)", "status")
    if "subject" in changes:
        row.subject = _text("subject", changes["subject"], required=True) or row.subject
    if "notes" in changes:
        row.notes = _text("notes", changes["notes"])
    if "due" in changes:
        row.due = _due(changes["due"], now.date())
    if "who" in changes:
        row.who = _who(changes["who"])
    if changes.get("fields") is not None:
        row.fields = {**(row.fields or {}),
                      **(check_fields(db, actor, row.kind, changes["fields"]) or {})}
    if changes.get("call") is not None:
        if row.kind != "call":
            raise Invalid("call: only a call task logs a call", "call")
        row.call = _call(changes["call"])
    if status is not None:
        row.status = status
        if status in ("completed", "skipped") and row.completed_at is None:
            row.completed_at = now
    row.version += 1
    row.updated_at = now
    kind = "task.completed" if row.status == "completed" and before != "completed" \
        else "task.updated"
    if row.status != "skipped":
        _record_event(db, actor, row, kind, now)
    db.flush()
    if row.sequence_recipient_id and row.status != before:
        sequencing.task_changed(db, row, now)
    return row


def task_json(row: TetherTask) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "linkedin": row.linkedin, "subject": row.subject,
            "due": row.due.isoformat(), "who": row.who, "notes": row.notes,
            "status": row.status, "call": row.call, "draft": row.draft, "fields": row.fields,
            "message_id": row.message_pk, "sequence_recipient_id": row.sequence_recipient_id,
            "stage": row.stage,
            "created_at": iso(row.created_at), "updated_at": iso(row.updated_at),
            "completed_at": iso(row.completed_at) if row.completed_at else None}


def listing(db: Session, actor: Actor, *, status: str | None = None,
            due_before: dt.date | None = None, kind: str | None = None,
            who: str | None = None, limit: int = 500) -> list[TetherTask]:
    if status is not None and status not in STATUSES:
        raise Invalid(f"status: '{status}' is not one of {', '.join(STATUSES)}", "status")
    if kind is not None and kind not in KINDS:
        raise Invalid(f"kind: '{kind}' is not one of {', '.join(KINDS)}", "kind")
    query = select(TetherTask).where(TetherTask.workspace_id == actor.workspace_id,
                                     TetherTask.membership_id == actor.membership_id)
    if kind is not None:
        query = query.where(TetherTask.kind == kind)
    if who is not None:
        query = query.where(TetherTask.who == who.strip().lower())
    if status is not None:
        query = query.where(TetherTask.status == status)
    if due_before is not None:
        query = query.where(TetherTask.due < due_before)
    return list(db.scalars(query.order_by(TetherTask.due, TetherTask.created_at).limit(limit)))


def buckets(rows: list[TetherTask], today: dt.date) -> dict[str, list[TetherTask]]:
    """The Tasks page's groups: overdue, due today, upcoming (open ones), and done."""
    out: dict[str, list[TetherTask]] = {"overdue": [], "today": [], "upcoming": [], "done": []}
    for row in rows:
        if row.status != "open":
            out["done"].append(row)
        elif row.due < today:
            out["overdue"].append(row)
        elif row.due == today:
            out["today"].append(row)
        else:
            out["upcoming"].append(row)
    return out


async def send(deps: Deps, actor: Actor, task_id: str) -> dict[str, Any]:
    """An email task's draft sent (exactly once, as any message: the Sent activity is the
    email's); sending completes the task.  Answers {task, message}."""
    with deps.sessions() as db:
        row = owned(db, actor, task_id)
        if row.kind != "email" or not row.draft or not row.who:
            raise Invalid("only an email task with a draft and a person is sent", "kind")
        if row.status != "open":
            raise Invalid(f"the task is {row.status}: its email is not sent again", "status")
        compose = messages.Compose(to=[row.who], subject=row.draft.get("subject"),
                                   body_html=row.draft.get("body"))
    sent = await messages.send(deps, actor, compose)
    with deps.sessions() as db:
        row = owned(db, actor, task_id)
        row.message_pk = sent["id"]
        update(db, actor, task_id, {"status": "completed"})
        db.commit()
        return {"task": task_json(row), "message": sent}

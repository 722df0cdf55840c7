"""JSON API v1: tasks and sequences (CONTRACTS: "Tasks and sequences")."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tether.services import sequences, tasks
from tether.services.errors import Invalid
from tether.services.records import Deps
from tether.web.deps import Db, Me, State
from tether.web.strict import StrictRoute

router = APIRouter(prefix="/api/v1", route_class=StrictRoute)
MAX_CSV_BYTES = 4 * 1024 * 1024


# More Salesforce Task fields by API name: those the role shows for the task's kind.
TaskFields = Annotated[dict[Annotated[str, Field(max_length=80)],
                            str | int | float | bool | None], Field(max_length=50)]


class DraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject: str = Field(min_length=1, max_length=998)
    body: str = Field(min_length=1, max_length=500_000)


class TaskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["todo", "call", "email", "linkedin"]
    subject: str = Field(min_length=1, max_length=255)
    due: dt.date
    who: str | None = Field(default=None, max_length=320)
    notes: str | None = Field(default=None, max_length=32_000)
    linkedin: Literal["inmail", "connection"] | None = None
    draft: DraftIn | None = None
    fields: TaskFields | None = None


class CallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    duration_s: int = Field(default=0, ge=0, le=tasks.MAX_CALL_SECONDS)
    disposition: str | None = Field(default=None, max_length=255)
    notes: str | None = Field(default=None, max_length=32_000)


class TaskPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["open", "completed", "deferred", "skipped"] | None = None
    subject: str | None = Field(default=None, min_length=1, max_length=255)
    due: dt.date | None = None
    notes: str | None = Field(default=None, max_length=32_000)
    who: str | None = Field(default=None, max_length=320)
    call: CallIn | None = None
    fields: TaskFields | None = None


@router.post("/tasks", status_code=201)
def create_task(body: TaskCreate, app: State, db: Db, actor: Me) -> dict[str, Any]:
    row = tasks.create(db, actor, tasks.TaskIn(
        body.kind, body.subject, body.due, body.who, body.notes, body.linkedin,
        body.draft.model_dump() if body.draft else None, body.fields))
    db.commit()
    app.nudge_pipeline()
    return tasks.task_json(row)


@router.patch("/tasks/{task_id}")
def patch_task(task_id: str, body: TaskPatch, app: State, db: Db, actor: Me
               ) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    if body.call is not None:
        changes["call"] = body.call.model_dump(exclude_unset=True)
    row = tasks.update(db, actor, task_id, changes)
    db.commit()
    app.nudge_pipeline()
    app.nudge_sequencer()
    return tasks.task_json(row)


@router.get("/tasks/{task_id}")
def get_task(task_id: str, db: Db, actor: Me) -> dict[str, Any]:
    return tasks.task_json(tasks.owned(db, actor, task_id))


@router.get("/tasks")
def list_tasks(db: Db, actor: Me,
               status: Annotated[str | None, Query(max_length=12)] = None,
               due_before: dt.date | None = None,
               kind: Annotated[str | None, Query(max_length=12)] = None,
               who: Annotated[str | None, Query(max_length=320)] = None) -> dict[str, Any]:
    return {"items": [tasks.task_json(t) for t in tasks.listing(
        db, actor, status=status, due_before=due_before, kind=kind, who=who)]}


@router.post("/tasks/{task_id}/send", status_code=202)
async def send_task(task_id: str, app: State, actor: Me) -> dict[str, Any]:
    """An email task's draft sent (exactly once, as any message); sending completes it."""
    out = await tasks.send(Deps(app.sessions, app.vault, app.settings), actor, task_id)
    app.nudge_sender()
    app.nudge_sequencer()
    return out


# -- sequences ---------------------------------------------------------------------------------
class SequenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=120)
    stages: list[dict[str, Any]] = Field(max_length=20)
    create_records: Literal["Lead", "Contact"] | None = None
    send_window: dict[str, Any] | None = None
    exit_on_colleague_reply: bool = True
    postpone_out_of_office: bool = True


class SequencePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=120)
    stages: list[dict[str, Any]] | None = Field(default=None, max_length=20)
    create_records: Literal["Lead", "Contact"] | None = None
    send_window: dict[str, Any] | None = None
    exit_on_colleague_reply: bool | None = None
    postpone_out_of_office: bool | None = None


class RescheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    next_at: dt.datetime

    @field_validator("next_at")
    @classmethod
    def _with_offset(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("must carry a time zone (e.g. 2026-12-01T09:00:00Z)")
        return value


@router.post("/sequences", status_code=201)
def create_sequence(body: SequenceIn, db: Db, actor: Me) -> dict[str, Any]:
    row = sequences.create(db, actor, body.model_dump(exclude_unset=True))
    db.commit()
    return sequences.sequence_json(db, row)


@router.get("/sequences")
def list_sequences(db: Db, actor: Me) -> dict[str, Any]:
    return {"items": [sequences.sequence_json(db, s) for s in sequences.listing(db, actor)]}


@router.get("/sequences/{sequence_id}")
def get_sequence(sequence_id: str, db: Db, actor: Me) -> dict[str, Any]:
    return sequences.sequence_json(db, sequences.owned(db, actor, sequence_id))


@router.patch("/sequences/{sequence_id}")
def patch_sequence(sequence_id: str, body: SequencePatch, app: State, db: Db, actor: Me
                   ) -> dict[str, Any]:
    row = sequences.edit(db, actor, sequence_id, body.model_dump(exclude_unset=True))
    db.commit()
    app.nudge_sequencer()
    return sequences.sequence_json(db, row)


@router.post("/sequences/{sequence_id}/recipients")
async def add_recipients(sequence_id: str, request: Request, app: State, actor: Me
                         ) -> dict[str, Any]:
    """A JSON body {"recipients": [...]} or {"filter": {...}}, or text/csv."""
    raw = await request.body()
    if len(raw) > MAX_CSV_BYTES:
        raise Invalid(f"at most {MAX_CSV_BYTES // 1024 // 1024} MB of recipients at a time",
                      "recipients")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    deps = Deps(app.sessions, app.vault, app.settings)
    if kind == "text/csv":
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Invalid("the CSV must be UTF-8 text", "csv") from None
        out = await sequences.add(deps, actor, sequence_id, None, text)
    else:
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            raise Invalid("the body is not JSON (or send text/csv)", "recipients") from None
        out = await sequences.add(deps, actor, sequence_id, body)
    app.nudge_sequencer()
    return out


@router.get("/sequences/{sequence_id}/recipients")
def get_recipients(sequence_id: str, db: Db, actor: Me) -> dict[str, Any]:
    return {"items": [sequences.recipient_json(r)
                      for r in sequences.recipients_of(db, actor, sequence_id)]}


@router.post("/sequences/{sequence_id}/{action}")
def sequence_action(sequence_id: str, action: Literal["activate", "pause", "resume"],
                    app: State, db: Db, actor: Me) -> dict[str, Any]:
    do = {"activate": sequences.activate, "pause": sequences.pause,
          "resume": sequences.resume}[action]
    row = do(db, actor, sequence_id)
    db.commit()
    app.nudge_sequencer()
    return sequences.sequence_json(db, row)


@router.post("/sequences/{sequence_id}/recipients/{email}/{action}")
def recipient_action(sequence_id: str, email: str,
                     action: Literal["pause", "resume", "stop"], app: State, db: Db,
                     actor: Me) -> dict[str, Any]:
    r = sequences.act_on(db, actor, sequence_id, email, action)
    db.commit()
    app.nudge_sequencer()
    return sequences.recipient_json(r)


@router.patch("/sequences/{sequence_id}/recipients/{email}")
def reschedule(sequence_id: str, email: str, body: RescheduleIn, app: State, db: Db,
               actor: Me) -> dict[str, Any]:
    r = sequences.act_on(db, actor, sequence_id, email, "reschedule", body.next_at)
    db.commit()
    app.nudge_sequencer()
    return sequences.recipient_json(r)

"""JSON API v1: the caller's mailbox, messages sent from Tether, and files for tracked
downloads (CONTRACTS: "Mailbox and messages")."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tether.services import files, mailboxes, messages
from tether.services.autocreate import Decision
from tether.services.records import Deps
from tether.web.deps import Db, Me, State
from tether.web.strict import StrictRoute

router = APIRouter(prefix="/api/v1", route_class=StrictRoute)
FILES_PREFIX = "/api/v1/files"

Address = Annotated[str, Field(max_length=320)]
Addresses = Annotated[list[Address], Field(max_length=messages.MAX_RECIPIENTS)]


class ServerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(ge=1, le=65535)
    security: Literal["starttls", "tls", "none"]
    username: str = Field(min_length=1, max_length=320)
    password: str | None = Field(default=None, max_length=8192)  # or an OAuth2 access token
    auth: Literal["password", "xoauth2"] = "password"


class MailboxIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str = Field(min_length=3, max_length=320)
    display_name: str = Field(default="", max_length=200)
    smtp: ServerIn
    imap: ServerIn
    sent_folder: str = Field(default="Sent", min_length=1, max_length=200)
    provider_saves_sent: bool = False
    daily_cap: int = Field(default=mailboxes.DEFAULT_DAILY_CAP, ge=1, le=100_000)
    per_minute: int = Field(default=mailboxes.DEFAULT_PER_MINUTE, ge=1, le=10_000)
    salesforce_bcc: str | None = Field(default=None, max_length=320)


class RecordDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    create: Literal["Lead", "Contact"] | None = None
    fields: dict[Annotated[str, Field(max_length=80)],
                 str | int | float | bool | None] = Field(default_factory=dict, max_length=300)
    never: bool = False
    skip: bool = False


class TrackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    opens: bool = True
    clicks: bool = True


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: Addresses = Field(default_factory=list)
    cc: Addresses = Field(default_factory=list)
    bcc: Addresses = Field(default_factory=list)
    subject: str | None = Field(default=None, max_length=messages.LIMITS["subject"])
    body_html: str | None = Field(default=None, max_length=messages.LIMITS["body_html"])
    body_text: str | None = Field(default=None, max_length=messages.LIMITS["body_text"])
    template_id: str | None = Field(default=None, max_length=32)
    track: TrackIn = Field(default_factory=TrackIn)
    send_at: dt.datetime | None = None
    in_reply_to: str | None = Field(default=None, max_length=300)
    records: dict[Address, RecordDecision] = Field(default_factory=dict,
                                                   max_length=messages.MAX_RECIPIENTS)
    send_without_creating: bool = False
    files: Annotated[list[Annotated[str, Field(max_length=32)]], Field(max_length=20)] = \
        Field(default_factory=list)

    @field_validator("send_at")
    @classmethod
    def _with_offset(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must carry a time zone (e.g. 2026-12-01T09:00:00Z)")
        return value


def _deps(app: State) -> Deps:
    return Deps(app.sessions, app.vault, app.settings)


def compose_of(body: MessageIn) -> messages.Compose:
    return messages.Compose(
        to=body.to, cc=body.cc, bcc=body.bcc, subject=body.subject, body_html=body.body_html,
        body_text=body.body_text, template_id=body.template_id, track_opens=body.track.opens,
        track_clicks=body.track.clicks, send_at=body.send_at, in_reply_to=body.in_reply_to,
        records={a.strip().lower(): Decision(d.create, d.fields, d.never, d.skip)
                 for a, d in body.records.items()},
        send_without_creating=body.send_without_creating, files=body.files)


def mailbox_of(body: MailboxIn) -> mailboxes.MailboxIn:
    def server(s: ServerIn) -> mailboxes.ServerIn:
        return mailboxes.ServerIn(s.host.strip(), s.port, s.security, s.username, s.password,
                                  s.auth)
    return mailboxes.MailboxIn(
        address=body.address, smtp=server(body.smtp), imap=server(body.imap),
        sent_folder=body.sent_folder, provider_saves_sent=body.provider_saves_sent,
        display_name=body.display_name, daily_cap=body.daily_cap, per_minute=body.per_minute,
        salesforce_bcc=body.salesforce_bcc or None)


@router.put("/mailbox")
async def put_mailbox(body: MailboxIn, app: State, actor: Me) -> dict[str, Any]:
    """Logs in to both servers; 422 names which failed and why.  Nothing is saved then."""
    saved = await mailboxes.save(_deps(app), actor, mailbox_of(body))
    app.nudge_watchers()
    return saved


@router.get("/mailbox")
def get_mailbox(db: Db, actor: Me) -> dict[str, Any]:
    return mailboxes.get(db, actor)


@router.delete("/mailbox", status_code=204)
def delete_mailbox(db: Db, actor: Me) -> Response:
    mailboxes.delete(db, actor)
    return Response(status_code=204)


@router.post("/messages", status_code=202)
async def post_message(body: MessageIn, app: State, actor: Me) -> JSONResponse:
    out = await messages.send(_deps(app), actor, compose_of(body))
    app.nudge_sender()
    return JSONResponse(out, status_code=202)


@router.get("/messages")
def list_messages(db: Db, actor: Me, limit: int = Query(100, ge=1, le=500)) -> dict[str, Any]:
    """The caller's queue: their messages, newest first, with counts by status."""
    return messages.queue(db, actor, limit=limit)


@router.get("/messages/{message_pk}")
def get_message(message_pk: str, db: Db, actor: Me) -> dict[str, Any]:
    return messages.get(db, actor, message_pk)


@router.post("/messages/{message_pk}/cancel")
def cancel_message(message_pk: str, db: Db, actor: Me) -> dict[str, Any]:
    return messages.cancel(db, actor, message_pk)


@router.post("/files", status_code=201)
async def upload_file(file: UploadFile, app: State, actor: Me) -> JSONResponse:
    """A file for tracked downloads: linked from messages through /t/d/…, each download
    recorded per recipient."""
    data = await file.read(app.settings.max_upload_bytes + 1)
    with app.sessions() as db:
        out = files.store(db, actor, filename=file.filename, content_type=file.content_type,
                          data=data, limit=app.settings.max_upload_bytes)
        db.commit()
    return JSONResponse(out, status_code=201)

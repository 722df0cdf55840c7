"""The tables of tasks and sequences: a rep's tasks (to-do, call, email, LinkedIn), each
sequence with its stages, each recipient's place in it, and one row per stage a recipient
reached (unique: a stage is run once).  Imported by store.models, so the metadata (and
Alembic) always holds them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tether.store.models import Base, new_id, utcnow

BIG_ID = BigInteger().with_variant(Integer, "sqlite")


class TetherTask(Base):
    """A rep's task.  To-do and call tasks are logged to Salesforce when created, edited and
    completed; an email task holds a draft and is logged as Sent when its email is sent."""

    __tablename__ = "tether_task"
    __table_args__ = (Index("ix_task_owner_due", "workspace_id", "membership_id", "status",
                            "due"),
                      Index("ix_task_recipient", "sequence_recipient_id"))
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))
    membership_id: Mapped[str] = mapped_column(ForeignKey("membership.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12))  # todo | call | email | linkedin
    linkedin: Mapped[str | None] = mapped_column(String(12))  # inmail | connection
    subject: Mapped[str] = mapped_column(String(255))
    due: Mapped[dt.date] = mapped_column(Date)
    who: Mapped[str | None] = mapped_column(String(320))  # the person's address, lowercased
    notes: Mapped[str | None] = mapped_column(Text)
    # open | completed | deferred | skipped
    status: Mapped[str] = mapped_column(String(12), default="open")
    call: Mapped[dict[str, Any] | None]  # {duration_s, disposition, notes} once logged
    draft: Mapped[dict[str, Any] | None]  # an email task's {subject, body}
    fields: Mapped[dict[str, Any] | None]  # more Task fields by API name (the role's choice)
    message_pk: Mapped[str | None] = mapped_column(String(32))  # its email, once sent
    sequence_recipient_id: Mapped[str | None] = mapped_column(
        ForeignKey("sequence_recipient.id", ondelete="CASCADE"))
    stage: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=0)  # each change: its event's id
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[dt.datetime | None]


class SequenceRow(Base):
    """A sequence: its stages (a JSON list, read when each stage runs, so an edit applies
    wherever it has not run yet) and its settings."""

    __tablename__ = "sequence"
    __table_args__ = (Index("ix_sequence_owner", "workspace_id", "membership_id"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))
    membership_id: Mapped[str] = mapped_column(ForeignKey("membership.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(12), default="draft")  # draft | active | paused
    stages: Mapped[list[Any]]
    create_records: Mapped[str | None] = mapped_column(String(12))  # Lead | Contact
    send_window: Mapped[dict[str, Any] | None]
    exit_on_colleague_reply: Mapped[bool] = mapped_column(Boolean, default=True)
    postpone_out_of_office: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SequenceRecipient(Base):
    """One person in a sequence: the stage that comes next and when (``next_at``, UTC; none
    while a task stage waits for its task), or why they stopped."""

    __tablename__ = "sequence_recipient"
    __table_args__ = (UniqueConstraint("sequence_id", "email"),
                      Index("ix_recipient_due", "state", "next_at"),
                      Index("ix_recipient_email", "workspace_id", "email"))
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    sequence_id: Mapped[str] = mapped_column(ForeignKey("sequence.id", ondelete="CASCADE"))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))  # lowercased
    variables: Mapped[dict[str, Any]]  # label -> value, for the templates (and records)
    # pending (the sequence not active yet) | active | paused | finished | stopped
    state: Mapped[str] = mapped_column(String(12), default="pending")
    stage: Mapped[int] = mapped_column(Integer, default=1)  # the next stage to run (1-based)
    next_at: Mapped[dt.datetime | None]
    last_at: Mapped[dt.datetime | None]  # when the last stage ran: the next one's delay counts
    stopped_reason: Mapped[str | None] = mapped_column(Text)
    stopped_at: Mapped[dt.datetime | None]
    added_n: Mapped[int] = mapped_column(BIG_ID, default=0)  # the order they were added in
    by_hand: Mapped[bool] = mapped_column(Boolean, default=False)  # rescheduled by hand
    waiting_reason: Mapped[str | None] = mapped_column(Text)  # e.g. the daily cap
    thread_message_pk: Mapped[str | None] = mapped_column(String(32))  # the first email
    task_id: Mapped[str | None] = mapped_column(String(32))  # the task stage waited on
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SequenceStep(Base):
    """A stage one recipient reached: written in the transaction that queues its email or
    creates its task.  Unique per recipient and stage: no stage runs twice."""

    __tablename__ = "sequence_step"
    __table_args__ = (UniqueConstraint("recipient_id", "n"),
                      Index("ix_step_sequence", "sequence_id", "n"))
    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    sequence_id: Mapped[str] = mapped_column(ForeignKey("sequence.id", ondelete="CASCADE"))
    recipient_id: Mapped[str] = mapped_column(ForeignKey("sequence_recipient.id",
                                                         ondelete="CASCADE"))
    n: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))  # email | task
    message_pk: Mapped[str | None] = mapped_column(String(32))
    task_id: Mapped[str | None] = mapped_column(String(32))
    due_at: Mapped[dt.datetime | None]  # when it was due: its lateness, for the bench
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

"""The tables of watching: each mailbox's IMAP cursor and lease, every message seen in it
(by Message-ID, so none is logged twice whichever way it was seen), and each user's primary
calendar with what was last made of its objects.  Imported by store.models, so the metadata
(and Alembic) always holds them."""

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
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tether.store.models import Base, new_id, utcnow

BIG_ID = BigInteger().with_variant(Integer, "sqlite")


class MailboxWatch(Base):
    """One watcher per mailbox across the install: held by a lease (``owner`` until
    ``lease_until``), taken over when it lapses.  The cursor of each folder (its UIDVALIDITY
    and the last UID read) moves in the same transaction as what was made of its messages."""

    __tablename__ = "mailbox_watch"
    mailbox_id: Mapped[str] = mapped_column(ForeignKey("mailbox.id", ondelete="CASCADE"),
                                            primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))
    # {"INBOX": {"validity": n, "uid": n}, "Sent": {...}}
    cursors: Mapped[dict[str, Any]]
    owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None]
    mode: Mapped[str] = mapped_column(String(10), default="")  # idle | poll ("" before)
    watching_since: Mapped[dt.datetime | None]
    last_message_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[dt.datetime | None]
    failures: Mapped[int] = mapped_column(Integer, default=0)  # in a row: the backoff
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class InboundMessage(Base):
    """A message the watcher read, and what it made of it: a reply, a colleague's reply, an
    automatic answer (ignored, with its reason and any return date), a bounce, an inbound
    email, an email sent from the mailbox outside Tether, or nothing (with why)."""

    __tablename__ = "inbound_message"
    __table_args__ = (UniqueConstraint("mailbox_id", "message_id"),
                      Index("ix_inbound_delivery", "delivery_id"),
                      Index("ix_inbound_seen", "mailbox_id", "seen_at"))
    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))
    mailbox_id: Mapped[str] = mapped_column(ForeignKey("mailbox.id", ondelete="CASCADE"))
    folder: Mapped[str] = mapped_column(String(200))
    uid: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[str] = mapped_column(String(300))
    # reply | colleague_reply | auto_reply | bounce | received | sent_outside | ignored
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    from_address: Mapped[str] = mapped_column(String(320), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    delivery_id: Mapped[int | None] = mapped_column(BigInteger)  # the Tether copy it answers
    recipient: Mapped[str | None] = mapped_column(String(320))  # whom it is about
    return_date: Mapped[dt.date | None] = mapped_column(Date)  # an out-of-office's
    bounce_status: Mapped[str | None] = mapped_column(String(16))
    bounce_hard: Mapped[bool | None] = mapped_column(Boolean)
    event_id: Mapped[str | None] = mapped_column(String(200))
    seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CalendarConnection(Base):
    """A member's primary calendar over CalDAV (the password encrypted, never answered), its
    sync state (sync-token, else ctag and etags) and its watcher's lease."""

    __tablename__ = "calendar_connection"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))
    membership_id: Mapped[str] = mapped_column(ForeignKey("membership.id", ondelete="CASCADE"),
                                               unique=True)
    url: Mapped[str] = mapped_column(Text)
    username: Mapped[str] = mapped_column(String(320))
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    sync_state: Mapped[dict[str, Any] | None]
    owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None]
    next_check_at: Mapped[dt.datetime | None]
    watching_since: Mapped[dt.datetime | None]
    last_change_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    checked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CalendarObject(Base):
    """A calendar object (one iCalendar resource) as last made into events: its etag, and for
    each occurrence the fingerprint last sent, so a moved or cancelled one is told apart from
    one unchanged."""

    __tablename__ = "calendar_object"
    connection_id: Mapped[str] = mapped_column(
        ForeignKey("calendar_connection.id", ondelete="CASCADE"), primary_key=True)
    href: Mapped[str] = mapped_column(String(1000), primary_key=True)
    etag: Mapped[str] = mapped_column(String(200), default="")
    occurrences: Mapped[dict[str, Any]]  # occurrence key -> fingerprint
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

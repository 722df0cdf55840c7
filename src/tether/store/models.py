"""Tether's tables.  Every row that belongs to a workspace carries workspace_id, and every
query that reads one filters on it (tenants never see each other's data)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    """A datetime in UTC; one without a zone was stored as UTC."""
    return value.astimezone(dt.UTC) if value.tzinfo is not None else value.replace(
        tzinfo=dt.UTC)


def iso(value: dt.datetime) -> str:
    """ISO 8601 in UTC with its offset as ``Z``: every datetime Tether answers with."""
    return as_utc(value).isoformat().replace("+00:00", "Z")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stored in UTC, read back in UTC with its zone on every database (SQLite keeps no zone:
    a datetime in another offset would be stored as its wall-clock time)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect
                           ) -> dt.datetime | None:
        return as_utc(value) if value is not None else None

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect
                             ) -> dt.datetime | None:
        return as_utc(value) if value is not None else None


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, dt.datetime: UTCDateTime}


class Workspace(Base):
    __tablename__ = "workspace"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    plan: Mapped[str] = mapped_column(String(20), default="growth")
    default_role_id: Mapped[str | None] = mapped_column(String(32))
    # The org this workspace is bound to: set by the first connection, required of the others.
    salesforce_org_id: Mapped[str | None] = mapped_column(String(18))
    salesforce_instance_url: Mapped[str | None] = mapped_column(String(300))
    salesforce_is_sandbox: Mapped[bool] = mapped_column(Boolean, default=False)
    sync_user_membership_id: Mapped[str | None] = mapped_column(String(32))
    realtime_token_hash: Mapped[str | None] = mapped_column(String(64))
    realtime_token_created_at: Mapped[dt.datetime | None]
    last_webhook_at: Mapped[dt.datetime | None]
    interval_minutes: Mapped[int] = mapped_column(Integer, default=30)
    # Activity sync: the share of the org's daily API limit Tether may use, how long a
    # recipient without a record stays pending, and the matching tie-break.
    api_budget_percent: Mapped[int] = mapped_column(Integer, default=70)
    pending_window_hours: Mapped[int] = mapped_column(Integer, default=24)
    # A member without a Salesforce connection: their activity waits for them ("wait"), or
    # is written by the Sync User with OwnerId set to them ("sync_user"); it waits this long.
    unconnected_activity: Mapped[str] = mapped_column(String(20), default="wait",
                                                      server_default="wait")
    unconnected_pending_days: Mapped[int] = mapped_column(Integer, default=30,
                                                          server_default="30")
    tie_break: Mapped[list[Any] | None]
    # Writes wait until then (budget reached or REQUEST_LIMIT_EXCEEDED), and why.
    writes_paused_until: Mapped[dt.datetime | None]
    writes_paused_reason: Mapped[str | None] = mapped_column(Text)
    # Email from Tether: a footer link and List-Unsubscribe headers (RFC 8058 one-click).
    unsubscribe_links: Mapped[bool] = mapped_column(Boolean, default=False,
                                                    server_default=text("false"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "app_user"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Membership(Base):
    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("workspace_id", "user_id"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"),
                                              index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    access: Mapped[str] = mapped_column(String(10), default="member")  # admin | member
    role_id: Mapped[str | None] = mapped_column(ForeignKey("role.id", ondelete="SET NULL"))
    # Used only when the role lets individuals manage their own Salesforce settings.
    own_settings: Mapped[dict[str, Any] | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_key"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))
    membership_id: Mapped[str] = mapped_column(ForeignKey("membership.id",
                                                          ondelete="CASCADE"))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class RoleRow(Base):
    __tablename__ = "role"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"),
                                              index=True)
    name: Mapped[str] = mapped_column(String(100))
    settings: Mapped[dict[str, Any]]
    members_manage_own: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Exclusion(Base):
    __tablename__ = "exclusion"
    __table_args__ = (UniqueConstraint("workspace_id", "kind", "value"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"),
                                              index=True)
    kind: Mapped[str] = mapped_column(String(10))  # address | domain
    value: Mapped[str] = mapped_column(String(320))


class SalesforceConnection(Base):
    """One member's Salesforce login.  Tokens are encrypted with the configured key."""

    __tablename__ = "salesforce_connection"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"),
                                              index=True)
    membership_id: Mapped[str] = mapped_column(ForeignKey("membership.id",
                                                          ondelete="CASCADE"), unique=True)
    login_url: Mapped[str] = mapped_column(String(300))
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False)
    instance_url: Mapped[str] = mapped_column(String(300))
    org_id: Mapped[str] = mapped_column(String(18))
    salesforce_user_id: Mapped[str] = mapped_column(String(18))
    salesforce_username: Mapped[str] = mapped_column(String(320))
    access_token_enc: Mapped[bytes] = mapped_column(LargeBinary)
    refresh_token_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(20), default="connected")
    last_error: Mapped[str | None] = mapped_column(Text)
    connected_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class OAuthAttempt(Base):
    """A connect flow in progress: the state (hashed) and the PKCE verifier (encrypted)."""

    __tablename__ = "oauth_attempt"
    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    membership_id: Mapped[str] = mapped_column(ForeignKey("membership.id",
                                                          ondelete="CASCADE"))
    verifier_enc: Mapped[bytes] = mapped_column(LargeBinary)
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False)
    redirect_uri: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CustomObjectConfig(Base):
    __tablename__ = "custom_object"
    __table_args__ = (UniqueConstraint("workspace_id", "sobject"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"),
                                              index=True)
    sobject: Mapped[str] = mapped_column(String(80))
    label: Mapped[str] = mapped_column(String(200))
    # Relationship fields and the object each points at: {"Account__c": "Account", …}
    relationship_fields: Mapped[dict[str, Any]]


class MirrorRecord(Base):
    """The local copy of one Salesforce record: key columns for lookups, all fields in data."""

    __tablename__ = "mirror_record"
    # Partial indexes: most rows (Leads, Contacts) have no contact or opportunity id, and
    # skipping their empty entries makes the audit's inserts cheaper.
    __table_args__ = (
        Index("ix_mirror_email", "workspace_id", "email_lower",
              sqlite_where=text("email_lower IS NOT NULL"),
              postgresql_where=text("email_lower IS NOT NULL")),
        Index("ix_mirror_account", "workspace_id", "sobject", "account_id",
              sqlite_where=text("account_id IS NOT NULL"),
              postgresql_where=text("account_id IS NOT NULL")),
        Index("ix_mirror_contact", "workspace_id", "contact_id",
              sqlite_where=text("contact_id IS NOT NULL"),
              postgresql_where=text("contact_id IS NOT NULL")),
        Index("ix_mirror_opportunity", "workspace_id", "opportunity_id",
              sqlite_where=text("opportunity_id IS NOT NULL"),
              postgresql_where=text("opportunity_id IS NOT NULL")),
        # The people view's Activity History (Tasks and Events by WhoId) and people search
        # (prefixes of names, last names and companies).
        Index("ix_mirror_who", "workspace_id", "who_id",
              sqlite_where=text("who_id IS NOT NULL"), postgresql_where=text("who_id IS NOT NULL")),
        Index("ix_mirror_name", "workspace_id", "name_key",
              sqlite_where=text("name_key IS NOT NULL"),
              postgresql_where=text("name_key IS NOT NULL")),
        Index("ix_mirror_last", "workspace_id", "last_key",
              sqlite_where=text("last_key IS NOT NULL"),
              postgresql_where=text("last_key IS NOT NULL")),
        Index("ix_mirror_company", "workspace_id", "company_key",
              sqlite_where=text("company_key IS NOT NULL"),
              postgresql_where=text("company_key IS NOT NULL")),
    )
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"),
                                              primary_key=True)
    sf_id: Mapped[str] = mapped_column(String(18), primary_key=True)
    sobject: Mapped[str] = mapped_column(String(80))
    system_modstamp: Mapped[str] = mapped_column(String(28))
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    email_lower: Mapped[str | None] = mapped_column(String(320))
    account_id: Mapped[str | None] = mapped_column(String(18))
    contact_id: Mapped[str | None] = mapped_column(String(18))
    opportunity_id: Mapped[str | None] = mapped_column(String(18))
    owner_id: Mapped[str | None] = mapped_column(String(18))
    converted_contact_id: Mapped[str | None] = mapped_column(String(18))
    master_record_id: Mapped[str | None] = mapped_column(String(18))
    who_id: Mapped[str | None] = mapped_column(String(18))  # a Task's or Event's WhoId
    # People search: lower-case Name (Leads, Contacts, Accounts), LastName, a Lead's Company
    name_key: Mapped[str | None] = mapped_column(String(200))
    last_key: Mapped[str | None] = mapped_column(String(200))
    company_key: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]]


class FieldMetadata(Base):
    __tablename__ = "field_metadata"
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"),
                                              primary_key=True)
    sobject: Mapped[str] = mapped_column(String(80), primary_key=True)
    fields: Mapped[list[Any]]
    layout_required: Mapped[list[Any]]
    fetched_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SyncState(Base):
    """Per object: the interval watermark, and where an interrupted audit resumes."""

    __tablename__ = "sync_state"
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"),
                                              primary_key=True)
    sobject: Mapped[str] = mapped_column(String(80), primary_key=True)
    watermark: Mapped[str | None] = mapped_column(String(28))
    audited_at: Mapped[dt.datetime | None]
    needs_audit: Mapped[bool] = mapped_column(Boolean, default=True)
    audit_job_id: Mapped[str | None] = mapped_column(String(18))
    audit_locator: Mapped[str | None] = mapped_column(String(40))


class SyncRun(Base):
    """The lifecycle record every sync leaves: what ran, how it ended, what it cost."""

    __tablename__ = "sync_run"
    __table_args__ = (Index("ix_sync_run_ws_started", "workspace_id", "started_at"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # audit|interval|realtime|deletions|fields
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    outcome: Mapped[str] = mapped_column(String(20), default="running")
    # Records read, and of those the ones whose mirrored values changed (created, deleted
    # or edited: a copy whose values are the mirror's already changes nothing).
    records_read: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    records_changed: Mapped[int] = mapped_column(Integer, default=0)
    # Of the records read, Tether's own Task and Event writes (the real-time webhook's echo).
    own_writes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    api_calls: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class ApiUsage(Base):
    """The usage ledger: what Sforce-Limit-Info said last, and the calls Tether made, per day."""

    __tablename__ = "api_usage"
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"),
                                              primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    tether_calls: Mapped[int] = mapped_column(Integer, default=0)
    org_used: Mapped[int] = mapped_column(Integer, default=0)
    org_max: Mapped[int] = mapped_column(Integer, default=0)
    hours: Mapped[dict[str, Any] | None]  # Tether's calls by UTC hour: {"15": 120, …}
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Job(Base):
    """A unit of background work.  The row is the truth; a queue only wakes workers up."""

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_due", "status", "run_at"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(40))
    workspace_id: Mapped[str | None] = mapped_column(String(32), index=True)
    # Jobs sharing a lock_key never run at the same time (one sync per workspace).
    lock_key: Mapped[str | None] = mapped_column(String(80))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(12), default="queued")  # queued|running|done|failed
    run_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class EventRow(Base):
    """An ingested event, stored before the API answers 202.  The id is the client's."""

    __tablename__ = "event"
    __table_args__ = (Index("ix_event_state", "state", "seq"),)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"),
                                              primary_key=True)
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    # Arrival order (planning follows it: 'first only' means first received).
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    membership_id: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(30))
    occurred_at: Mapped[dt.datetime]
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    payload: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(10), default="new")  # new | planned | errored
    error: Mapped[str | None] = mapped_column(Text)  # why planning it failed (errored)


class ActivityRow(Base):
    """One line of the activity log: an event's outcome for one recipient."""

    __tablename__ = "activity"
    __table_args__ = (
        UniqueConstraint("workspace_id", "event_id", "recipient"),
        Index("ix_activity_ws_created", "workspace_id", "created_at"),
        Index("ix_activity_ws_status", "workspace_id", "status", "created_at"),
        Index("ix_activity_member", "workspace_id", "membership_id", "created_at"),
        Index("ix_activity_first", "workspace_id", "message_id", "type", "recipient"),
        Index("ix_activity_pending", "status", "recipient",
              sqlite_where=text("status = 'pending'"),
              postgresql_where=text("status = 'pending'")),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(200))
    membership_id: Mapped[str] = mapped_column(String(32))
    role_id: Mapped[str | None] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(30))
    recipient: Mapped[str] = mapped_column(String(320), default="")  # "" = nobody
    message_id: Mapped[str | None] = mapped_column(String(300))
    group_key: Mapped[str | None] = mapped_column(String(250))
    # synced | ignored | pending | errored; pending with a cause (no record yet, queued, paused)
    status: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    match: Mapped[dict[str, Any] | None]
    salesforce_ids: Mapped[list[Any]] = mapped_column(default=list)
    error_code: Mapped[str | None] = mapped_column(String(80))
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    occurred_at: Mapped[dt.datetime]
    pending_until: Mapped[dt.datetime | None]
    # What a pending activity waits for: "no_record" (a Lead or Contact) or "unconnected"
    # (its member's Salesforce connection); pending_until is when that wait ends.
    pending_cause: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ActivityWrite(Base):
    """One Task or Event in Salesforce, by its activity key.  Recorded before it is sent;
    several activities may plan the same key (a task created, then completed)."""

    __tablename__ = "activity_write"
    __table_args__ = (
        Index("ix_write_due", "status", "next_attempt_at"),
        Index("ix_write_group", "workspace_id", "group_key"),
        # The people view marks Tether's own Tasks and Events by their Salesforce id.
        Index("ix_write_sf_id", "workspace_id", "sf_id",
              sqlite_where=text("sf_id IS NOT NULL"), postgresql_where=text("sf_id IS NOT NULL")),
    )
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"),
                                              primary_key=True)
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    membership_id: Mapped[str] = mapped_column(String(32))  # who writes it
    # Written by the Sync User for a member not connected: OwnerId is the active Salesforce
    # user with this email, looked up (and kept in fields) before the first send.
    owner_email: Mapped[str | None] = mapped_column(String(320))
    sobject: Mapped[str] = mapped_column(String(10))  # Task | Event
    op: Mapped[str] = mapped_column(String(10), default="upsert")  # upsert | delete
    fields: Mapped[dict[str, Any]]
    recipient: Mapped[str] = mapped_column(String(320), default="")
    group_key: Mapped[str | None] = mapped_column(String(250))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    # queued | sending | done | errored
    status: Mapped[str] = mapped_column(String(10), default="queued")
    version: Mapped[int] = mapped_column(Integer, default=1)
    sent_version: Mapped[int] = mapped_column(Integer, default=0)
    sf_id: Mapped[str | None] = mapped_column(String(18))
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # every send, retries included
    # attempts when someone last asked to retry it: transient failures are given up on
    # MAX_ATTEMPTS after that
    attempts_at_retry: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claim: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[dt.datetime | None]
    # Set while a create's outcome is unknown (answer lost, worker killed): reconcile first.
    sent_at: Mapped[dt.datetime | None]
    error_code: Mapped[str | None] = mapped_column(String(80))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_fields: Mapped[list[Any] | None]
    log: Mapped[list[Any]] = mapped_column(default=list)  # each attempt: when, what, answer
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ActivityWriteRef(Base):
    """Which activities planned which writes (an activity is synced when all of its are)."""

    __tablename__ = "activity_write_ref"
    __table_args__ = (Index("ix_write_ref_key", "workspace_id", "key"),)
    activity_id: Mapped[str] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"),
                                             primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(80), primary_key=True)


class RecordClaim(Base):
    """A Lead or Contact being created for an address, recorded before the create is sent:
    a second create for that address waits for (or is refused by) the first, and a create
    whose answer was lost is looked for in Salesforce before another is sent."""

    __tablename__ = "record_claim"
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"),
                                              primary_key=True)
    email_lower: Mapped[str] = mapped_column(String(320), primary_key=True)
    sobject: Mapped[str] = mapped_column(String(10))  # Lead | Contact
    membership_id: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(10), default="sending")  # sending | unknown
    claimed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class EmailTemplate(Base):
    """A template: the workspace's (membership_id None, kept by admins) or a member's own."""

    __tablename__ = "email_template"
    __table_args__ = (Index("ix_template_owner", "workspace_id", "membership_id"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))
    membership_id: Mapped[str | None] = mapped_column(ForeignKey("membership.id",
                                                                 ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WebSession(Base):
    """A dashboard sign-in: the cookie holds a random token, this table only its hash."""

    __tablename__ = "web_session"
    __table_args__ = (Index("ix_web_session_membership", "membership_id"),)
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    membership_id: Mapped[str] = mapped_column(ForeignKey("membership.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]


class Invitation(Base):
    """An admin's invitation to join a workspace: a single-use link whose token only the link
    holds (this table keeps its SHA-256).  No membership exists until the invitee accepts,
    so an invitation grants nothing by itself."""

    __tablename__ = "invitation"
    __table_args__ = (Index("ix_invitation_workspace_email", "workspace_id", "email"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    access: Mapped[str] = mapped_column(String(10), default="member")  # admin | member
    role_id: Mapped[str | None] = mapped_column(ForeignKey("role.id", ondelete="SET NULL"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[str | None] = mapped_column(ForeignKey("membership.id",
                                                              ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    accepted_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class Mailbox(Base):
    """A member's own mailbox: SMTP submission to send, IMAP for the Sent copy (and, later,
    watching).  Passwords and OAuth2 access tokens are encrypted (Vault), never answered."""

    __tablename__ = "mailbox"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))
    membership_id: Mapped[str] = mapped_column(ForeignKey("membership.id", ondelete="CASCADE"),
                                               unique=True)
    address: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    # {"host", "port", "security": starttls|tls|none, "username", "auth": password|xoauth2}
    smtp: Mapped[dict[str, Any]]
    imap: Mapped[dict[str, Any]]
    smtp_secret: Mapped[bytes] = mapped_column(LargeBinary)
    imap_secret: Mapped[bytes] = mapped_column(LargeBinary)
    sent_folder: Mapped[str] = mapped_column(String(200), default="Sent")
    provider_saves_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    daily_cap: Mapped[int] = mapped_column(Integer, default=500)
    per_minute: Mapped[int] = mapped_column(Integer, default=20)
    # Auto-BCC: the user's Email-to-Salesforce address, added as Bcc while they have no API
    # connection (the guide's fallback).
    salesforce_bcc: Mapped[str | None] = mapped_column(String(320))
    checked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class OutboundMessage(Base):
    """An email sent from Tether, recorded before anything goes out.  Its deliveries (one per
    recipient, each with its own tracking tokens) are the unit of exactly-once sending."""

    __tablename__ = "outbound_message"
    __table_args__ = (Index("ix_outbound_due", "status", "next_attempt_at"),
                      Index("ix_outbound_owner", "workspace_id", "membership_id", "created_at"))
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))
    membership_id: Mapped[str] = mapped_column(ForeignKey("membership.id", ondelete="CASCADE"))
    # Kept when the mailbox is disconnected (the sender fails what had not gone yet).
    mailbox_id: Mapped[str | None] = mapped_column(ForeignKey("mailbox.id",
                                                              ondelete="SET NULL"))
    message_id: Mapped[str] = mapped_column(String(300), unique=True)  # <…@tether domain>
    thread_id: Mapped[str] = mapped_column(String(300))
    in_reply_to: Mapped[str | None] = mapped_column(String(300))
    references: Mapped[str | None] = mapped_column(Text)
    from_address: Mapped[str] = mapped_column(String(320))
    from_name: Mapped[str] = mapped_column(String(200), default="")
    to: Mapped[list[Any]]
    cc: Mapped[list[Any]]
    bcc: Mapped[list[Any]]
    subject: Mapped[str] = mapped_column(Text)  # as written (a template's variables unrendered)
    body_html: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str | None] = mapped_column(Text)
    template_id: Mapped[str | None] = mapped_column(String(32))
    track_opens: Mapped[bool] = mapped_column(Boolean, default=True)
    track_clicks: Mapped[bool] = mapped_column(Boolean, default=True)
    unsubscribe_link: Mapped[bool] = mapped_column(Boolean, default=False)
    # queued | scheduled | sending | sent | failed | cancelled
    status: Mapped[str] = mapped_column(String(12), default="queued")
    send_at: Mapped[dt.datetime | None]
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    waiting_reason: Mapped[str | None] = mapped_column(Text)  # e.g. the daily cap
    sent_copy: Mapped[str | None] = mapped_column(String(12))  # appended | provider | None
    sent_at: Mapped[dt.datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # A sequence's stage: its activity reads "Sent [name (#stage)]: …".
    sequence_recipient_id: Mapped[str | None] = mapped_column(String(32), index=True)
    sequence_name: Mapped[str | None] = mapped_column(String(120))
    sequence_stage: Mapped[int | None] = mapped_column(Integer)


class MessageDelivery(Base):
    """One recipient's copy of a message: its own Message-ID and tracking tokens.  Its state
    is committed as `sending` before the SMTP transaction and `accepted` after the server's
    250; a `sending` or `unknown` one is looked for in the Sent folder before it is sent
    again."""

    __tablename__ = "message_delivery"
    __table_args__ = (UniqueConstraint("message_pk", "recipient"),
                      Index("ix_delivery_accepted", "mailbox_id", "accepted_at"))
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))
    message_pk: Mapped[str] = mapped_column(ForeignKey("outbound_message.id",
                                                       ondelete="CASCADE"))
    mailbox_id: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(320))  # normalized
    kind: Mapped[str] = mapped_column(String(16))  # to | cc | bcc | salesforce_bcc
    delivery_message_id: Mapped[str] = mapped_column(String(300), unique=True)
    # queued | sending | accepted | unknown | failed
    state: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    smtp_reply: Mapped[str | None] = mapped_column(Text)
    accepted_at: Mapped[dt.datetime | None]
    # What the mailbox watcher saw of this copy: a reply, a bounce, an out-of-office's return.
    replied_at: Mapped[dt.datetime | None]
    bounced_at: Mapped[dt.datetime | None]
    bounce: Mapped[dict[str, Any] | None]  # {"status", "hard", "diagnostic"}
    away_until: Mapped[dt.date | None] = mapped_column(Date)
    # This recipient's rendering (a template's variables filled in), before tracking.
    subject: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str | None] = mapped_column(Text)


class TrackedLink(Base):
    """A link of one recipient's copy, by its position: a click's token names the delivery
    and this position; the redirect goes only to this row's URL (or file)."""

    __tablename__ = "tracked_link"
    delivery_id: Mapped[int] = mapped_column(ForeignKey("message_delivery.id",
                                                        ondelete="CASCADE"), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str | None] = mapped_column(Text)
    file_id: Mapped[str | None] = mapped_column(String(32))


class TrackedFile(Base):
    """A file uploaded to Tether and linked from messages (downloads are tracked)."""

    __tablename__ = "tracked_file"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))
    membership_id: Mapped[str] = mapped_column(ForeignKey("membership.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TrackingHit(Base):
    """A request to an open, click or download link, stored before it is answered.  The
    tracking processor later judges it (person or machine, with the evidence) and turns it
    into its email.opened|clicked|downloaded event."""

    __tablename__ = "tracking_hit"
    __table_args__ = (Index("ix_hit_unjudged", "judged", "id"),
                      Index("ix_hit_delivery", "delivery_id", "at"))
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(10))  # open | click | download
    link_n: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    method: Mapped[str] = mapped_column(String(8))
    user_agent: Mapped[str] = mapped_column(String(500), default="")
    client_ip: Mapped[str] = mapped_column(String(64), default="")
    judged: Mapped[bool] = mapped_column(Boolean, default=False)
    verdict: Mapped[str | None] = mapped_column(String(10))  # person | machine
    evidence: Mapped[list[Any] | None]
    event_id: Mapped[str | None] = mapped_column(String(200))


class Unsubscribe(Base):
    """An address that asked to hear no more from this workspace: sends to it are refused."""

    __tablename__ = "unsubscribe"
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"),
                                              primary_key=True)
    email_lower: Mapped[str] = mapped_column(String(320), primary_key=True)
    message_pk: Mapped[str | None] = mapped_column(String(32))
    how: Mapped[str] = mapped_column(String(20))  # link | one_click | admin
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class NeverCreate(Base):
    """'Never create a record for this address', remembered per user: not prompted again."""

    __tablename__ = "never_create"
    membership_id: Mapped[str] = mapped_column(ForeignKey("membership.id", ondelete="CASCADE"),
                                               primary_key=True)
    email_lower: Mapped[str] = mapped_column(String(320), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# Sign-in, the workspace chooser and every page's header look a user's memberships up.
Index("ix_membership_user", Membership.user_id)

# The watching tables (mailbox cursors, messages seen, calendars) live in their own module,
# and so do the tasks and sequences.
from tether.store import sequence_models, watch_models  # noqa: E402, F401

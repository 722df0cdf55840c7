"""Watching the mailbox and the calendar: each mailbox's IMAP cursor and lease, the messages
seen in it, what each delivery's recipient did (replied, bounced, away until), and each
user's primary calendar with its objects

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "calendar_connection",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("membership_id", sa.String(length=32), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("username", sa.String(length=320), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("sync_state", sa.JSON(), nullable=True),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("watching_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_change_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["membership_id"], ["membership.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("membership_id"),
    )
    op.create_table(
        "calendar_object",
        sa.Column("connection_id", sa.String(length=32), nullable=False),
        sa.Column("href", sa.String(length=1000), nullable=False),
        sa.Column("etag", sa.String(length=200), nullable=False),
        sa.Column("occurrences", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["calendar_connection.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("connection_id", "href"),
    )
    op.create_table(
        "inbound_message",
        sa.Column("id", _BIGINT, autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("mailbox_id", sa.String(length=32), nullable=False),
        sa.Column("folder", sa.String(length=200), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("from_address", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("delivery_id", sa.BigInteger(), nullable=True),
        sa.Column("recipient", sa.String(length=320), nullable=True),
        sa.Column("return_date", sa.Date(), nullable=True),
        sa.Column("bounce_status", sa.String(length=16), nullable=True),
        sa.Column("bounce_hard", sa.Boolean(), nullable=True),
        sa.Column("event_id", sa.String(length=200), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["mailbox_id"], ["mailbox.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("mailbox_id", "message_id"),
    )
    with op.batch_alter_table("inbound_message", schema=None) as batch_op:
        batch_op.create_index("ix_inbound_delivery", ["delivery_id"], unique=False)
        batch_op.create_index("ix_inbound_seen", ["mailbox_id", "seen_at"], unique=False)

    op.create_table(
        "mailbox_watch",
        sa.Column("mailbox_id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("cursors", sa.JSON(), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("watching_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["mailbox_id"], ["mailbox.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("mailbox_id"),
    )
    for column in (
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("bounced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("bounce", sa.JSON(), nullable=True),
        sa.Column("away_until", sa.Date(), nullable=True),
    ):
        op.add_column("message_delivery", column)


def downgrade() -> None:
    with op.batch_alter_table("message_delivery", schema=None) as batch_op:
        batch_op.drop_column("away_until")
        batch_op.drop_column("bounce")
        batch_op.drop_column("bounced_at")
        batch_op.drop_column("replied_at")

    op.drop_table("mailbox_watch")
    with op.batch_alter_table("inbound_message", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_seen")
        batch_op.drop_index("ix_inbound_delivery")

    op.drop_table("inbound_message")
    op.drop_table("calendar_object")
    op.drop_table("calendar_connection")

"""Activity sync: ingested events, the activity log, planned writes and their links,
and the workspace's API budget, pending window and tie-break

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activity",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("membership_id", sa.String(length=32), nullable=False),
        sa.Column("role_id", sa.String(length=32), nullable=True),
        sa.Column("type", sa.String(length=30), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=True),
        sa.Column("group_key", sa.String(length=250), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("match", sa.JSON(), nullable=True),
        sa.Column("salesforce_ids", sa.JSON(), nullable=False),
        sa.Column("error_code", sa.String(length=80), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pending_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "event_id", "recipient"),
    )
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.create_index(
            "ix_activity_first", ["workspace_id", "message_id", "type", "recipient"], unique=False
        )
        batch_op.create_index(
            "ix_activity_member", ["workspace_id", "membership_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_activity_pending",
            ["status", "recipient"],
            unique=False,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )
        batch_op.create_index(
            "ix_activity_ws_created", ["workspace_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_activity_ws_status", ["workspace_id", "status", "created_at"], unique=False
        )

    op.create_table(
        "activity_write",
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("membership_id", sa.String(length=32), nullable=False),
        sa.Column("sobject", sa.String(length=10), nullable=False),
        sa.Column("op", sa.String(length=10), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("group_key", sa.String(length=250), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sent_version", sa.Integer(), nullable=False),
        sa.Column("sf_id", sa.String(length=18), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claim", sa.String(length=32), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error_code", sa.String(length=80), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_fields", sa.JSON(), nullable=True),
        sa.Column("log", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "key"),
    )
    with op.batch_alter_table("activity_write", schema=None) as batch_op:
        batch_op.create_index("ix_write_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_write_group", ["workspace_id", "group_key"], unique=False)

    op.create_table(
        "event",
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("membership_id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=30), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "id"),
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index("ix_event_state", ["state", "seq"], unique=False)

    op.create_table(
        "activity_write_ref",
        sa.Column("activity_id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(["activity_id"], ["activity.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("activity_id", "key"),
    )
    with op.batch_alter_table("activity_write_ref", schema=None) as batch_op:
        batch_op.create_index("ix_write_ref_key", ["workspace_id", "key"], unique=False)

    with op.batch_alter_table("api_usage", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hours", sa.JSON(), nullable=True))
    with op.batch_alter_table("workspace", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("api_budget_percent", sa.Integer(), nullable=False, server_default="70")
        )
        batch_op.add_column(
            sa.Column("pending_window_hours", sa.Integer(), nullable=False, server_default="24")
        )
        batch_op.add_column(sa.Column("tie_break", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("writes_paused_until", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("writes_paused_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_usage", schema=None) as batch_op:
        batch_op.drop_column("hours")
    with op.batch_alter_table("workspace", schema=None) as batch_op:
        batch_op.drop_column("writes_paused_reason")
        batch_op.drop_column("writes_paused_until")
        batch_op.drop_column("tie_break")
        batch_op.drop_column("pending_window_hours")
        batch_op.drop_column("api_budget_percent")

    with op.batch_alter_table("activity_write_ref", schema=None) as batch_op:
        batch_op.drop_index("ix_write_ref_key")

    op.drop_table("activity_write_ref")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index("ix_event_state")

    op.drop_table("event")
    with op.batch_alter_table("activity_write", schema=None) as batch_op:
        batch_op.drop_index("ix_write_group")
        batch_op.drop_index("ix_write_due")

    op.drop_table("activity_write")
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_ws_status")
        batch_op.drop_index("ix_activity_ws_created")
        batch_op.drop_index(
            "ix_activity_pending",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )
        batch_op.drop_index("ix_activity_member")
        batch_op.drop_index("ix_activity_first")

    op.drop_table("activity")

"""Email from Tether: mailboxes, outbound messages and their per-recipient deliveries,
tracked links and files, tracking hits, unsubscribes, 'never create' addresses, and the
workspace's unsubscribe-links switch

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tracking_hit",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("delivery_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("link_n", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("user_agent", sa.String(length=500), nullable=False),
        sa.Column("client_ip", sa.String(length=64), nullable=False),
        sa.Column("judged", sa.Boolean(), nullable=False),
        sa.Column("verdict", sa.String(length=10), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("event_id", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("tracking_hit", schema=None) as batch_op:
        batch_op.create_index("ix_hit_delivery", ["delivery_id", "at"], unique=False)
        batch_op.create_index("ix_hit_unjudged", ["judged", "id"], unique=False)

    op.create_table(
        "unsubscribe",
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("email_lower", sa.String(length=320), nullable=False),
        sa.Column("message_pk", sa.String(length=32), nullable=True),
        sa.Column("how", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "email_lower"),
    )
    op.create_table(
        "mailbox",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("membership_id", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("smtp", sa.JSON(), nullable=False),
        sa.Column("imap", sa.JSON(), nullable=False),
        sa.Column("smtp_secret", sa.LargeBinary(), nullable=False),
        sa.Column("imap_secret", sa.LargeBinary(), nullable=False),
        sa.Column("sent_folder", sa.String(length=200), nullable=False),
        sa.Column("provider_saves_sent", sa.Boolean(), nullable=False),
        sa.Column("daily_cap", sa.Integer(), nullable=False),
        sa.Column("per_minute", sa.Integer(), nullable=False),
        sa.Column("salesforce_bcc", sa.String(length=320), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["membership_id"], ["membership.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("membership_id"),
    )
    op.create_table(
        "never_create",
        sa.Column("membership_id", sa.String(length=32), nullable=False),
        sa.Column("email_lower", sa.String(length=320), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["membership_id"], ["membership.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("membership_id", "email_lower"),
    )
    op.create_table(
        "tracked_file",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("membership_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["membership_id"], ["membership.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "outbound_message",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("membership_id", sa.String(length=32), nullable=False),
        sa.Column("mailbox_id", sa.String(length=32), nullable=True),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("thread_id", sa.String(length=300), nullable=False),
        sa.Column("in_reply_to", sa.String(length=300), nullable=True),
        sa.Column("references", sa.Text(), nullable=True),
        sa.Column("from_address", sa.String(length=320), nullable=False),
        sa.Column("from_name", sa.String(length=200), nullable=False),
        sa.Column("to", sa.JSON(), nullable=False),
        sa.Column("cc", sa.JSON(), nullable=False),
        sa.Column("bcc", sa.JSON(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=True),
        sa.Column("template_id", sa.String(length=32), nullable=True),
        sa.Column("track_opens", sa.Boolean(), nullable=False),
        sa.Column("track_clicks", sa.Boolean(), nullable=False),
        sa.Column("unsubscribe_link", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("waiting_reason", sa.Text(), nullable=True),
        sa.Column("sent_copy", sa.String(length=12), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["mailbox_id"], ["mailbox.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["membership_id"], ["membership.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    with op.batch_alter_table("outbound_message", schema=None) as batch_op:
        batch_op.create_index("ix_outbound_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(
            "ix_outbound_owner", ["workspace_id", "membership_id", "created_at"], unique=False
        )

    op.create_table(
        "message_delivery",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("message_pk", sa.String(length=32), nullable=False),
        sa.Column("mailbox_id", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("delivery_message_id", sa.String(length=300), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("smtp_reply", sa.Text(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["message_pk"], ["outbound_message.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("delivery_message_id"),
        sa.UniqueConstraint("message_pk", "recipient"),
    )
    with op.batch_alter_table("message_delivery", schema=None) as batch_op:
        batch_op.create_index("ix_delivery_accepted", ["mailbox_id", "accepted_at"], unique=False)

    op.create_table(
        "tracked_link",
        sa.Column("delivery_id", _BIGINT, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("file_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["delivery_id"], ["message_delivery.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("delivery_id", "n"),
    )
    # A plain ADD COLUMN: in batch mode SQLite would copy the workspace table to add a column
    # whose default is an expression.
    op.add_column("workspace", sa.Column("unsubscribe_links", sa.Boolean(),
                                         server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("workspace", schema=None) as batch_op:
        batch_op.drop_column("unsubscribe_links")

    op.drop_table("tracked_link")
    with op.batch_alter_table("message_delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_accepted")

    op.drop_table("message_delivery")
    with op.batch_alter_table("outbound_message", schema=None) as batch_op:
        batch_op.drop_index("ix_outbound_owner")
        batch_op.drop_index("ix_outbound_due")

    op.drop_table("outbound_message")
    op.drop_table("tracked_file")
    op.drop_table("never_create")
    op.drop_table("mailbox")
    op.drop_table("unsubscribe")
    with op.batch_alter_table("tracking_hit", schema=None) as batch_op:
        batch_op.drop_index("ix_hit_unjudged")
        batch_op.drop_index("ix_hit_delivery")

    op.drop_table("tracking_hit")

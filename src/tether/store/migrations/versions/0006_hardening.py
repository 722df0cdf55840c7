"""Hardening: an event that cannot be planned is quarantined (its error kept), and a
workspace chooses what happens to the activity of a member not yet connected to Salesforce
(it waits, with its cause, or the Sync User writes it with the member's OwnerId)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workspace") as batch_op:
        batch_op.add_column(sa.Column("unconnected_activity", sa.String(length=20),
                                      nullable=False, server_default="wait"))
        batch_op.add_column(sa.Column("unconnected_pending_days", sa.Integer(),
                                      nullable=False, server_default="30"))
    with op.batch_alter_table("event") as batch_op:
        batch_op.add_column(sa.Column("error", sa.Text(), nullable=True))
    with op.batch_alter_table("activity") as batch_op:
        batch_op.add_column(sa.Column("pending_cause", sa.String(length=20), nullable=True))
    with op.batch_alter_table("activity_write") as batch_op:
        batch_op.add_column(sa.Column("owner_email", sa.String(length=320), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("activity_write") as batch_op:
        batch_op.drop_column("owner_email")
    with op.batch_alter_table("activity") as batch_op:
        batch_op.drop_column("pending_cause")
    with op.batch_alter_table("event") as batch_op:
        batch_op.drop_column("error")
    with op.batch_alter_table("workspace") as batch_op:
        batch_op.drop_column("unconnected_pending_days")
        batch_op.drop_column("unconnected_activity")

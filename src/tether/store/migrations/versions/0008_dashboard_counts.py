"""Dashboard counts: activity planned for a member without a role of their own carries the
default role (as planning now stamps it), and sync runs count the records they read apart
from those whose mirrored values changed, and how many were Tether's own Task and Event
writes coming back through the real-time webhook

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Until now planning left role_id empty for members in the default role.
    op.execute("UPDATE activity SET role_id = (SELECT workspace.default_role_id FROM workspace "
               "WHERE workspace.id = activity.workspace_id) WHERE role_id IS NULL")
    with op.batch_alter_table("sync_run") as batch:
        batch.add_column(sa.Column("records_read", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("own_writes", sa.Integer(), nullable=False,
                                   server_default="0"))
    # Earlier runs counted what they read as changed: that is what they know.
    op.execute("UPDATE sync_run SET records_read = records_changed")


def downgrade() -> None:
    with op.batch_alter_table("sync_run") as batch:
        batch.drop_column("own_writes")
        batch.drop_column("records_read")

"""Dashboard counts: activity planned for a member without a role of their own carries the
default role (as planning now stamps it)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Until now planning left role_id empty for members in the default role.
    op.execute("UPDATE activity SET role_id = (SELECT workspace.default_role_id FROM workspace "
               "WHERE workspace.id = activity.workspace_id) WHERE role_id IS NULL")


def downgrade() -> None:
    pass  # which activity had no role before is not kept: the default role is theirs

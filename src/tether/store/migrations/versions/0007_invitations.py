"""Invitations: an admin invites an address to a workspace with a single-use link (its
token's hash only); the membership exists once the invitee accepts.  Memberships are looked
up by user (sign-in, the workspace chooser)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invitation",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("access", sa.String(length=10), nullable=False),
        sa.Column("role_id", sa.String(length=32), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("invited_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["role_id"], ["role.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["invited_by"], ["membership.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_invitation_workspace_email", "invitation", ["workspace_id", "email"])
    op.create_index("ix_membership_user", "membership", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_membership_user", table_name="membership")
    op.drop_index("ix_invitation_workspace_email", table_name="invitation")
    op.drop_table("invitation")

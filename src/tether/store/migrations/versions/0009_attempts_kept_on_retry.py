"""A write's attempts are all counted, including those before someone asked to retry it: the
retry keeps the count (the log lists every attempt) and remembers where it stood, so the
writer's budget for transient failures starts again from there

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("activity_write") as batch:
        batch.add_column(sa.Column("attempts_at_retry", sa.Integer(), nullable=False,
                                   server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("activity_write") as batch:
        batch.drop_column("attempts_at_retry")

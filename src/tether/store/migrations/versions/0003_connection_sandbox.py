"""Remember whether a connection is to a sandbox (My Domain hosts do not tell)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("salesforce_connection") as batch:
        batch.add_column(sa.Column("sandbox", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    # Connections made before: the login host was the only hint.
    op.execute("UPDATE salesforce_connection SET sandbox = (login_url LIKE '%/test' OR "
               "login_url LIKE '%test.salesforce.com%')")


def downgrade() -> None:
    with op.batch_alter_table("salesforce_connection") as batch:
        batch.drop_column("sandbox")

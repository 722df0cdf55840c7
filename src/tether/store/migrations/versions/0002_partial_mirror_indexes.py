"""Partial mirror indexes: skip rows without the looked-up key; drop the unused
SystemModstamp index (watermarks come from Salesforce, not from the mirror)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_mirror_email": (["workspace_id", "email_lower"], "email_lower"),
    "ix_mirror_account": (["workspace_id", "sobject", "account_id"], "account_id"),
    "ix_mirror_contact": (["workspace_id", "contact_id"], "contact_id"),
    "ix_mirror_opportunity": (["workspace_id", "opportunity_id"], "opportunity_id"),
}


def upgrade() -> None:
    op.drop_index("ix_mirror_modstamp", table_name="mirror_record")
    for name, (columns, key) in _INDEXES.items():
        op.drop_index(name, table_name="mirror_record")
        where = sa.text(f"{key} IS NOT NULL")
        op.create_index(name, "mirror_record", columns, sqlite_where=where,
                        postgresql_where=where)


def downgrade() -> None:
    for name, (columns, _) in _INDEXES.items():
        op.drop_index(name, table_name="mirror_record")
        op.create_index(name, "mirror_record", columns)
    op.create_index("ix_mirror_modstamp", "mirror_record",
                    ["workspace_id", "sobject", "system_modstamp"])

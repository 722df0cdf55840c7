"""People and records: the mirror's WhoId and search keys (Activity History, people search),
writes by Salesforce id, record claims (one create per address), and email templates

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_KEYS = {"ix_mirror_who": "who_id", "ix_mirror_name": "name_key", "ix_mirror_last": "last_key",
         "ix_mirror_company": "company_key"}


def _field(dialect: str, name: str) -> str:
    return (f"(data ->> '{name}')" if dialect == "postgresql"
            else f"json_extract(data, '$.{name}')")


def _backfill() -> None:
    """The new columns of rows mirrored before, from their data (as mirror.key_columns sets
    them; spaces inside are collapsed by the next copy of the record)."""
    dialect = op.get_bind().dialect.name

    def f(name: str) -> str:
        return _field(dialect, name)
    full = (f"COALESCE({f('Name')}, TRIM(COALESCE({f('FirstName')}, '') || ' ' || "
            f"COALESCE({f('LastName')}, '')))")
    op.execute(f"UPDATE mirror_record SET who_id = {f('WhoId')} "
               "WHERE sobject IN ('Task', 'Event')")
    op.execute(f"UPDATE mirror_record SET name_key = NULLIF(SUBSTR(LOWER(TRIM({full})), 1, 200), "
               f"''), last_key = SUBSTR(LOWER(TRIM({f('LastName')})), 1, 200) "
               "WHERE sobject IN ('Lead', 'Contact', 'Account')")
    op.execute(f"UPDATE mirror_record SET company_key = SUBSTR(LOWER(TRIM({f('Company')})), 1, "
               "200) WHERE sobject = 'Lead'")


def upgrade() -> None:
    with op.batch_alter_table("mirror_record") as batch:
        batch.add_column(sa.Column("who_id", sa.String(18)))
        for column in ("name_key", "last_key", "company_key"):
            batch.add_column(sa.Column(column, sa.String(200)))
    _backfill()
    for name, column in _KEYS.items():
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(name, "mirror_record", ["workspace_id", column], sqlite_where=where,
                        postgresql_where=where)
    where = sa.text("sf_id IS NOT NULL")
    op.create_index("ix_write_sf_id", "activity_write", ["workspace_id", "sf_id"],
                    sqlite_where=where, postgresql_where=where)
    op.create_table(
        "record_claim",
        sa.Column("workspace_id", sa.String(32),
                  sa.ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("email_lower", sa.String(320), primary_key=True),
        sa.Column("sobject", sa.String(10), nullable=False),
        sa.Column("membership_id", sa.String(32), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False))
    op.create_table(
        "email_template",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("workspace_id", sa.String(32),
                  sa.ForeignKey("workspace.id", ondelete="CASCADE"), nullable=False),
        sa.Column("membership_id", sa.String(32),
                  sa.ForeignKey("membership.id", ondelete="CASCADE")),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False))
    op.create_index("ix_template_owner", "email_template", ["workspace_id", "membership_id"])


def downgrade() -> None:
    op.drop_index("ix_template_owner", table_name="email_template")
    op.drop_table("email_template")
    op.drop_table("record_claim")
    op.drop_index("ix_write_sf_id", table_name="activity_write")
    for name in _KEYS:
        op.drop_index(name, table_name="mirror_record")
    with op.batch_alter_table("mirror_record") as batch:
        for column in ("company_key", "last_key", "name_key", "who_id"):
            batch.drop_column(column)

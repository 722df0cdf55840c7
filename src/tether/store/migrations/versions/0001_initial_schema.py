"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28 14:05:50.268587
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "job",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=True),
        sa.Column("lock_key", sa.String(length=80), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index("ix_job_due", ["status", "run_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_job_workspace_id"), ["workspace_id"], unique=False)

    op.create_table(
        "workspace",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("plan", sa.String(length=20), nullable=False),
        sa.Column("default_role_id", sa.String(length=32), nullable=True),
        sa.Column("salesforce_org_id", sa.String(length=18), nullable=True),
        sa.Column("salesforce_instance_url", sa.String(length=300), nullable=True),
        sa.Column("salesforce_is_sandbox", sa.Boolean(), nullable=False),
        sa.Column("sync_user_membership_id", sa.String(length=32), nullable=True),
        sa.Column("realtime_token_hash", sa.String(length=64), nullable=True),
        sa.Column("realtime_token_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_webhook_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("interval_minutes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "api_usage",
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("tether_calls", sa.Integer(), nullable=False),
        sa.Column("org_used", sa.Integer(), nullable=False),
        sa.Column("org_max", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "day"),
    )
    op.create_table(
        "custom_object",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("sobject", sa.String(length=80), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("relationship_fields", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "sobject"),
    )
    with op.batch_alter_table("custom_object", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_custom_object_workspace_id"), ["workspace_id"], unique=False
        )

    op.create_table(
        "exclusion",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "kind", "value"),
    )
    with op.batch_alter_table("exclusion", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exclusion_workspace_id"), ["workspace_id"], unique=False
        )

    op.create_table(
        "field_metadata",
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("sobject", sa.String(length=80), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("layout_required", sa.JSON(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "sobject"),
    )
    op.create_table(
        "mirror_record",
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("sf_id", sa.String(length=18), nullable=False),
        sa.Column("sobject", sa.String(length=80), nullable=False),
        sa.Column("system_modstamp", sa.String(length=28), nullable=False),
        sa.Column("is_deleted", sa.Boolean(), nullable=False),
        sa.Column("email_lower", sa.String(length=320), nullable=True),
        sa.Column("account_id", sa.String(length=18), nullable=True),
        sa.Column("contact_id", sa.String(length=18), nullable=True),
        sa.Column("opportunity_id", sa.String(length=18), nullable=True),
        sa.Column("owner_id", sa.String(length=18), nullable=True),
        sa.Column("converted_contact_id", sa.String(length=18), nullable=True),
        sa.Column("master_record_id", sa.String(length=18), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "sf_id"),
    )
    with op.batch_alter_table("mirror_record", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mirror_account", ["workspace_id", "sobject", "account_id"], unique=False
        )
        batch_op.create_index("ix_mirror_contact", ["workspace_id", "contact_id"], unique=False)
        batch_op.create_index("ix_mirror_email", ["workspace_id", "email_lower"], unique=False)
        batch_op.create_index(
            "ix_mirror_modstamp", ["workspace_id", "sobject", "system_modstamp"], unique=False
        )
        batch_op.create_index(
            "ix_mirror_opportunity", ["workspace_id", "opportunity_id"], unique=False
        )

    op.create_table(
        "role",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("members_manage_own", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "name"),
    )
    with op.batch_alter_table("role", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_role_workspace_id"), ["workspace_id"], unique=False)

    op.create_table(
        "sync_run",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("records_changed", sa.Integer(), nullable=False),
        sa.Column("api_calls", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sync_run", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sync_run_ws_started", ["workspace_id", "started_at"], unique=False
        )

    op.create_table(
        "sync_state",
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("sobject", sa.String(length=80), nullable=False),
        sa.Column("watermark", sa.String(length=28), nullable=True),
        sa.Column("audited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("needs_audit", sa.Boolean(), nullable=False),
        sa.Column("audit_job_id", sa.String(length=18), nullable=True),
        sa.Column("audit_locator", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "sobject"),
    )
    op.create_table(
        "membership",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("access", sa.String(length=10), nullable=False),
        sa.Column("role_id", sa.String(length=32), nullable=True),
        sa.Column("own_settings", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["role_id"], ["role.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "user_id"),
    )
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_membership_workspace_id"), ["workspace_id"], unique=False
        )

    op.create_table(
        "api_key",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("membership_id", sa.String(length=32), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["membership_id"], ["membership.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_key_prefix"), ["prefix"], unique=False)

    op.create_table(
        "oauth_attempt",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("membership_id", sa.String(length=32), nullable=False),
        sa.Column("verifier_enc", sa.LargeBinary(), nullable=False),
        sa.Column("sandbox", sa.Boolean(), nullable=False),
        sa.Column("redirect_uri", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["membership_id"], ["membership.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("state_hash"),
    )
    op.create_table(
        "salesforce_connection",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("membership_id", sa.String(length=32), nullable=False),
        sa.Column("login_url", sa.String(length=300), nullable=False),
        sa.Column("instance_url", sa.String(length=300), nullable=False),
        sa.Column("org_id", sa.String(length=18), nullable=False),
        sa.Column("salesforce_user_id", sa.String(length=18), nullable=False),
        sa.Column("salesforce_username", sa.String(length=320), nullable=False),
        sa.Column("access_token_enc", sa.LargeBinary(), nullable=False),
        sa.Column("refresh_token_enc", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["membership_id"], ["membership.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("membership_id"),
    )
    with op.batch_alter_table("salesforce_connection", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_salesforce_connection_workspace_id"), ["workspace_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("salesforce_connection", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_salesforce_connection_workspace_id"))

    op.drop_table("salesforce_connection")
    op.drop_table("oauth_attempt")
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_key_prefix"))

    op.drop_table("api_key")
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_membership_workspace_id"))

    op.drop_table("membership")
    op.drop_table("sync_state")
    with op.batch_alter_table("sync_run", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_run_ws_started")

    op.drop_table("sync_run")
    with op.batch_alter_table("role", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_role_workspace_id"))

    op.drop_table("role")
    with op.batch_alter_table("mirror_record", schema=None) as batch_op:
        batch_op.drop_index("ix_mirror_opportunity")
        batch_op.drop_index("ix_mirror_modstamp")
        batch_op.drop_index("ix_mirror_email")
        batch_op.drop_index("ix_mirror_contact")
        batch_op.drop_index("ix_mirror_account")

    op.drop_table("mirror_record")
    op.drop_table("field_metadata")
    with op.batch_alter_table("exclusion", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exclusion_workspace_id"))

    op.drop_table("exclusion")
    with op.batch_alter_table("custom_object", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_custom_object_workspace_id"))

    op.drop_table("custom_object")
    op.drop_table("api_usage")
    op.drop_table("workspace")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_workspace_id"))
        batch_op.drop_index("ix_job_due")

    op.drop_table("job")
    op.drop_table("app_user")

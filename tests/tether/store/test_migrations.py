"""Migrations build exactly the models' schema, both ways, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from tether.store.db import make_engine
from tether.store.migrate import downgrade, upgrade
from tether.store.models import Base


def test_upgrade_matches_models_and_downgrade_empties(database_url: str) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                Base.metadata)
        assert diff == []
        tables = set(inspect(conn).get_table_names())
    assert {"workspace", "membership", "role", "mirror_record", "sync_run", "job"} <= tables
    downgrade(database_url)
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    upgrade(database_url)  # and back again
    engine.dispose()

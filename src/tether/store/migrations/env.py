"""Alembic environment: Tether's models, on SQLite (batch mode) or PostgreSQL."""

from __future__ import annotations

from alembic import context

from tether.store.db import make_engine
from tether.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url") or ""
    engine = make_engine(url)
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # Batch mode copies a table to alter it: DROP TABLE with foreign keys on would
            # cascade to every row referencing it (a workspace's activity, say).  The pragma
            # cannot change inside a transaction, so it is set before one begins; the check
            # below then proves no copy left a dangling reference.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite",
                          compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
        if connection.dialect.name == "sqlite":
            dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            if dangling:
                raise RuntimeError(f"migration left rows without their parent: {dangling[:5]}")
    engine.dispose()


run_migrations()

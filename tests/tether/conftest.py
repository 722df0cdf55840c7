"""Database fixtures: every storage and sync test runs on SQLite and on PostgreSQL.

PostgreSQL tests create their own database on 127.0.0.1:5432 (trust auth, user postgres) and
drop it afterwards.  Without a server they fail, naming what is missing; setting
TETHER_TEST_POSTGRES=skip skips them instead, visibly.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

PG_ADMIN_URL = os.environ.get("TETHER_TEST_POSTGRES_URL",
                              "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_database() -> Iterator[str]:
    if os.environ.get("TETHER_TEST_POSTGRES") == "skip":
        pytest.skip("TETHER_TEST_POSTGRES=skip")
    import psycopg
    name = f"tether_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is needed at {PG_ADMIN_URL} ({exc}); start it or set "
                    "TETHER_TEST_POSTGRES=skip")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[str]:
    """An empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'tether.db'}"
    else:
        yield from _pg_database()


@pytest.fixture
def migrated_url(database_url: str) -> str:
    from tether.store.migrate import upgrade
    upgrade(database_url)
    return database_url

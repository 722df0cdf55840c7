"""Engines for SQLite (WAL, busy timeout, foreign keys) and PostgreSQL alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from tether.security import SQLITE_COMPANIONS, create_private_file, make_private_dir, tighten


def make_engine(url: str, **kw: Any) -> Engine:
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:" and not path.startswith("file:"):
            _private_database_file(Path(path))
        # Connections are kept, not opened per request: a new one runs the pragmas below and
        # parses the schema on its first query (the web threadpool has up to 40 threads).
        kw.setdefault("pool_size", 40)
        kw.setdefault("max_overflow", 10)
        engine = create_engine(url, connect_args={"timeout": 30}, **kw)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            # The mirror's indexes are large; SQLite's 2 MB default cache makes every
            # insert into them miss.  64 MB per connection keeps the hot pages in memory.
            cur.execute("PRAGMA cache_size=-65536")
            cur.execute("PRAGMA temp_store=MEMORY")
            # Checkpoint every ~80 MB of WAL rather than 4 MB: index pages rewritten by
            # successive batches are copied into the database once, not once per batch.
            cur.execute("PRAGMA wal_autocheckpoint=20000")
            cur.close()
        return engine
    return create_engine(url, pool_pre_ping=True, **kw)


def _private_database_file(path: Path) -> None:
    """The database readable by its owner only: created 0600 before SQLite opens it (an empty
    file is an empty database), since SQLite gives its -wal, -shm and -journal the main file's
    permissions; existing ones, perhaps from before, are tightened."""
    make_private_dir(path.parent)
    create_private_file(path)
    for companion in SQLITE_COMPANIONS:
        tighten(path.with_name(path.name + companion))


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def insert_ignoring(db: Session, model: Any, *conflict: Any) -> Any:
    """INSERT … ON CONFLICT DO NOTHING in the session's dialect (SQLite and PostgreSQL spell
    it alike, from different modules); ``conflict`` names the unique columns, or any."""
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    return insert(model).on_conflict_do_nothing(index_elements=list(conflict) or None)

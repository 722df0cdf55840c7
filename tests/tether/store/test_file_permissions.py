"""The embedded default's files are its owner's alone: the data directory 0700, the SQLite
database with its -wal and -shm, and the key file 0600, even under a permissive umask; files
left readable by an earlier version are tightened on start; a directory shared with other
files keeps its mode."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tether.config import Settings
from tether.security import secure_data_dir
from tether.services import workspaces as ws
from tether.store.db import make_engine, session_factory
from tether.store.migrate import upgrade
from tether.web.app import create_app

SQLITE_FILES = ("tether.db", "tether.db-wal", "tether.db-shm")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """As on most desktops: without care, new files are 0644 and directories 0755."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def start_embedded(data_dir: Path) -> None:
    """What `tether serve` does on the embedded default, in process: migrate, create the
    first admin, start the app (its key), and write through it."""
    settings = Settings(data_dir=data_dir, database_url=None, secret_key=None)
    upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    try:
        with session_factory(engine)() as db:
            actor = ws.create_workspace(db, name="Acme", admin_email="admin@acme.example",
                                        admin_password="tether-demo")
            key = ws.create_api_key(db, actor)
            db.commit()
        with TestClient(create_app(settings)) as client:
            r = client.post("/api/v1/roles", json={"name": "Reps"},
                            headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 201, r.text
            # The -wal and -shm exist while a connection is open: look now.
            for name in SQLITE_FILES:
                assert mode(data_dir / name) == 0o600, name
    finally:
        engine.dispose()


def test_a_new_data_directory_and_its_files_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "data"
    start_embedded(data_dir)
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "secret.key") == 0o600
    assert mode(data_dir / "tether.db") == 0o600
    for name in os.listdir(data_dir):
        assert mode(data_dir / name) & 0o077 == 0, name


def test_files_an_earlier_version_left_readable_are_tightened_on_start(tmp_path: Path
                                                                      ) -> None:
    data_dir = tmp_path / "data"
    start_embedded(data_dir)
    for path in [data_dir / n for n in (*SQLITE_FILES, "secret.key")]:
        if path.exists():
            path.chmod(0o644)
    data_dir.chmod(0o755)
    (data_dir / "sfemu.db").write_text("")  # the demo's emulator database, made by a child
    secure_data_dir(data_dir)  # what every `tether` command does first
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "secret.key") == mode(data_dir / "sfemu.db") == 0o600
    # Opening the database tightens it and its companions even outside a data directory.
    (data_dir / "tether.db").chmod(0o644)
    engine = make_engine(f"sqlite:///{data_dir / 'tether.db'}")
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        for name in SQLITE_FILES:
            assert mode(data_dir / name) == 0o600, name
    engine.dispose()


def test_a_directory_shared_with_other_files_keeps_its_mode(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    notes = shared / "notes.txt"
    notes.write_text("mine")
    notes.chmod(0o644)
    engine = make_engine(f"sqlite:///{shared / 'tether.db'}")
    with engine.connect() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.commit()
        assert mode(shared / "tether.db") == mode(shared / "tether.db-wal") == 0o600
    engine.dispose()
    secure_data_dir(shared)
    assert mode(shared) == 0o755 and mode(notes) == 0o644


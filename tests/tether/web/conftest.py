"""A Tether app over a migrated database (SQLite and PostgreSQL), with a workspace, an admin
and a member, each with an API key."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tether.config import Settings
from tether.services import workspaces as ws
from tether.store.db import make_engine, session_factory
from tether.web.app import create_app


@dataclass
class World:
    client: TestClient
    workspace_id: str
    admin_key: str
    member_key: str
    member_id: str
    url: str

    def as_admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    def as_member(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.member_key}"}


def make_world(url: str, tmp: Path, name: str = "Acme") -> tuple[World, Settings]:
    settings = Settings(database_url=url, secret_key=Fernet.generate_key().decode(),
                        data_dir=tmp)
    engine = make_engine(url)
    with session_factory(engine)() as db:
        admin = ws.create_workspace(db, name=name, admin_email=f"admin@{name.lower()}.example",
                                    admin_password="tether-demo")
        member = ws.add_member(db, admin.workspace_id, email=f"rep@{name.lower()}.example",
                               password="tether-demo")
        admin_key, member_key = ws.create_api_key(db, admin), ws.create_api_key(db, member)
        db.commit()
    engine.dispose()
    client = TestClient(create_app(settings))
    return World(client, admin.workspace_id, admin_key, member_key, member.membership_id,
                 url), settings


@pytest.fixture
def world(migrated_url: str, tmp_path: Path) -> Iterator[World]:
    w, _ = make_world(migrated_url, tmp_path)
    with w.client:
        yield w


@contextlib.contextmanager
def db_of(world: World) -> Iterator[Session]:
    """A session on the world's database; its engine is disposed after."""
    engine = make_engine(world.url)
    try:
        with session_factory(engine)() as db:
            yield db
    finally:
        engine.dispose()

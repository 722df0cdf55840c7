"""`tether demo` keeps one API key for its admin across restarts: the key it made is kept in
the data directory (encrypted, 0600) and shown again while it works; a new one replaces it
(and the old one is revoked) only when it does not."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from tether.demo import KEY_FILE, demo_api_key
from tether.security import Vault
from tether.services import workspaces as ws
from tether.services.errors import Unauthorized
from tether.services.workspaces import Actor
from tether.store.db import make_engine, session_factory
from tether.store.migrate import upgrade
from tether.store.models import ApiKey


@pytest.fixture
def admin(tmp_path: Path) -> tuple[Session, Actor]:
    url = f"sqlite:///{tmp_path / 'tether.db'}"
    upgrade(url)
    db = session_factory(make_engine(url))()
    actor = ws.create_workspace(db, name="Acme", admin_email="admin@acme.example",
                                admin_password="tether-demo")
    db.commit()
    return db, actor


def active_keys(db: Session, actor: Actor) -> int:
    return len(db.scalars(select(ApiKey).where(ApiKey.membership_id == actor.membership_id,
                                               ApiKey.revoked_at.is_(None))).all())


def test_a_restart_shows_the_same_key_and_adds_none(admin: tuple[Session, Actor],
                                                    tmp_path: Path) -> None:
    db, actor = admin
    vault, path = Vault(Fernet.generate_key().decode()), tmp_path / KEY_FILE
    first = demo_api_key(db, vault, actor, path)
    db.commit()
    assert first not in path.read_text(), "the key is kept encrypted"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for _ in range(3):
        assert demo_api_key(db, vault, actor, path) == first
        db.commit()
    assert active_keys(db, actor) == 1
    assert ws.authenticate_api_key(db, first).membership_id == actor.membership_id


def test_a_revoked_key_is_replaced(admin: tuple[Session, Actor], tmp_path: Path) -> None:
    db, actor = admin
    vault, path = Vault(Fernet.generate_key().decode()), tmp_path / KEY_FILE
    first = demo_api_key(db, vault, actor, path)
    (key_id,) = [k["id"] for k in ws.list_api_keys(db, actor)]
    ws.revoke_api_key(db, actor, key_id)
    db.commit()
    second = demo_api_key(db, vault, actor, path)
    db.commit()
    assert second != first and active_keys(db, actor) == 1
    assert demo_api_key(db, vault, actor, path) == second


def test_a_key_that_cannot_be_read_back_is_revoked_and_replaced(
        admin: tuple[Session, Actor], tmp_path: Path) -> None:
    """Another secret key (TETHER_SECRET_KEY changed) cannot decrypt the kept key: the demo
    revokes it by its id, rather than leave it active and unknown."""
    db, actor = admin
    path = tmp_path / KEY_FILE
    first = demo_api_key(db, Vault(Fernet.generate_key().decode()), actor, path)
    db.commit()
    second = demo_api_key(db, Vault(Fernet.generate_key().decode()), actor, path)
    db.commit()
    assert second != first and active_keys(db, actor) == 1
    with pytest.raises(Unauthorized):
        ws.authenticate_api_key(db, first)
    path.write_text("not json")
    third = demo_api_key(db, Vault(Fernet.generate_key().decode()), actor, path)
    assert third not in (first, second)

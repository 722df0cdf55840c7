"""Shared fixtures: a real sfemu server in a subprocess, over HTTPS with its own CA; and
empty databases, SQLite and PostgreSQL, for every storage and sync test.

PostgreSQL tests create their own database on 127.0.0.1:5432 (trust auth, user postgres) and
drop it afterwards.  Without a server they fail, naming what is missing; setting
TETHER_TEST_POSTGRES=skip skips them instead, visibly.
"""

from __future__ import annotations

import itertools
import os
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from sfemu import launch

_org_numbers = itertools.count(1)


@dataclass
class Sfemu:
    base_url: str
    ca_file: str
    process: subprocess.Popen[str]

    def stop(self) -> None:
        launch.stop(self.process)

    def client(self, **kw: object) -> httpx.Client:
        ctx = ssl.create_default_context(cafile=self.ca_file)
        return httpx.Client(base_url=self.base_url, verify=ctx, timeout=30, **kw)  # type: ignore[arg-type]

    def admin(self, method: str, path: str, **kw: object) -> httpx.Response:
        with self.client() as c:
            return c.request(method, f"/__sfemu__{path}", **kw)  # type: ignore[arg-type]

    def new_org(self, **settings: object) -> dict[str, str]:
        """A fresh org for one test: {name, id, admin, rep} (password tether-demo)."""
        name = f"t{os.getpid()}-{next(_org_numbers)}"
        response = self.admin("POST", "/orgs", json={"name": name, **settings})
        assert response.status_code == 201, response.text
        info = response.json()
        suffix = ".sandbox" if settings.get("sandbox_of") else ""
        return {"name": name, "id": info["id"], "admin": f"admin@{name}.example{suffix}",
                "rep": f"rep@{name}.example{suffix}"}

    def token(self, username: str, password: str = "tether-demo", sandbox: bool = False) -> str:
        prefix = "/test" if sandbox else ""
        with self.client() as c:
            r = c.post(f"{prefix}/services/oauth2/token", data={
                "grant_type": "password", "client_id": "tether",
                "client_secret": "tether-secret", "username": username, "password": password})
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])


def start_sfemu(cert_dir: Path, *extra: str) -> Sfemu:
    proc, base = launch.start("--port", "0", "--tls", "--cert-dir", str(cert_dir), *extra)
    return Sfemu(base, str(cert_dir / "ca.pem"), proc)


@pytest.fixture(scope="session")
def sfemu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sfemu]:
    server = start_sfemu(tmp_path_factory.mktemp("sfemu-certs"))
    yield server
    server.stop()


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop running in the main
    thread until the session ends, and an asyncio.run() in any later test would fail."""
    browser = Path(__file__).parent / "browser"
    items.sort(key=lambda item: browser in item.path.parents)

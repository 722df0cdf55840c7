"""Shared fixtures: a real sfemu server in a subprocess, over HTTPS with its own CA; and
empty databases, SQLite and PostgreSQL, for every storage and sync test.

PostgreSQL tests create their own database on 127.0.0.1:5432 (trust auth, user postgres) and
drop it afterwards.  Without a server they fail, naming what is missing; setting
TETHER_TEST_POSTGRES=skip skips them instead, visibly.
"""

from __future__ import annotations

import itertools
import os
import shutil
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings

from sfemu import launch

# The suite runs six workers on two cores: a property test's time per example, or the time
# its inputs take to draw, says nothing about the code under test there.
settings.register_profile("tether", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("tether")

pytest_plugins = ["tests.mail_fixtures",  # local_mail: a real SMTP and IMAP server
                  "tests.calendar_fixtures"]  # local_calendar: a real CalDAV server

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


def _pg_admin() -> Any:
    if os.environ.get("TETHER_TEST_POSTGRES") == "skip":
        pytest.skip("TETHER_TEST_POSTGRES=skip")
    import psycopg
    try:
        return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is needed at {PG_ADMIN_URL} ({exc}); start it or set "
                    "TETHER_TEST_POSTGRES=skip")


def _pg_url(name: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{name}"


def _pg_database(template: str | None = None) -> Iterator[str]:
    name = f"tether_test_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"'
                      + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield _pg_url(name)
    finally:
        with _pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class MigratedTemplates:
    """One database of each kind migrated to the head revision per test session (per xdist
    worker), made on first use; each test that asks for a migrated database gets a copy
    (CREATE DATABASE … TEMPLATE, or a copied SQLite file), not a migration run of its own."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.sqlite: Path | None = None
        self.postgresql: str | None = None

    def sqlite_copy(self, target: Path) -> str:
        from tether.store.migrate import upgrade
        if self.sqlite is None:
            self.sqlite = self.folder / "template.db"
            upgrade(f"sqlite:///{self.sqlite}")
        shutil.copyfile(self.sqlite, target)
        return f"sqlite:///{target}"

    def postgresql_name(self) -> str:
        from tether.store.migrate import upgrade
        if self.postgresql is None:
            name = f"tether_template_{uuid.uuid4().hex[:12]}"
            with _pg_admin() as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            upgrade(_pg_url(name))
            self.postgresql = name
        return self.postgresql

    def drop(self) -> None:
        if self.postgresql is not None:
            with _pg_admin() as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.postgresql}" WITH (FORCE)')


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedTemplates]:
    templates = MigratedTemplates(tmp_path_factory.mktemp("templates"))
    yield templates
    templates.drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[str]:
    """A database of each kind: empty, or for a test that asks for ``migrated_url``, a copy
    of one migrated to the head revision."""
    migrated = "migrated_url" in request.fixturenames
    templates: MigratedTemplates | None = (
        request.getfixturevalue("migrated_templates") if migrated else None)
    if request.param == "sqlite":
        target = tmp_path_factory.mktemp("db") / "tether.db"
        yield templates.sqlite_copy(target) if templates else f"sqlite:///{target}"
    else:
        yield from _pg_database(templates.postgresql_name() if templates else None)


@pytest.fixture
def migrated_url(database_url: str) -> str:
    """A database of each kind at the head revision (see ``database_url``)."""
    return database_url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop running in the main
    thread until the session ends, and an asyncio.run() in any later test would fail."""
    browser = Path(__file__).parent / "browser"
    items.sort(key=lambda item: browser in item.path.parents)

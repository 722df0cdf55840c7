"""Tether's real HTTP server (uvicorn in a thread) wired to a real sfemu over HTTPS."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography.fernet import Fernet

from tests.conftest import Sfemu
from tether.config import Settings
from tether.demo import LoginForm
from tether.net import listen
from tether.services import workspaces as ws
from tether.store.db import make_engine, session_factory
from tether.web.app import create_app


@dataclass
class Tether:
    base_url: str
    settings: Settings
    sfemu: Sfemu

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=120)

    def new_workspace(self, name: str, admin_email: str) -> tuple[str, str]:
        """A workspace whose admin has the given email; answers (workspace id, API key)."""
        engine = make_engine(self.settings.effective_database_url)
        with session_factory(engine)() as db:
            actor = ws.create_workspace(db, name=name, admin_email=admin_email,
                                        admin_password="tether-demo")
            key = ws.create_api_key(db, actor)
            db.commit()
        engine.dispose()
        return actor.workspace_id, key

    def add_member(self, workspace_id: str, email: str) -> str:
        engine = make_engine(self.settings.effective_database_url)
        with session_factory(engine)() as db:
            actor = ws.add_member(db, workspace_id, email=email, password="tether-demo")
            key = ws.create_api_key(db, actor)
            db.commit()
        engine.dispose()
        return key

    def connect(self, key: str, username: str, *, sandbox: bool = False) -> httpx.Response:
        """What a person does: ask Tether to connect, log in on Salesforce's page, come back."""
        with self.client(key) as c:
            r = c.post("/api/v1/salesforce/connect", json={"sandbox": sandbox})
            assert r.status_code == 200, r.text
            authorize = r.json()["authorize_url"]
        browser = self.sfemu.client(follow_redirects=True)
        with browser:
            page = browser.get(authorize)
            target, data = LoginForm.filled(page.text, str(page.url), username, "tether-demo")
            return browser.post(target, data=data)


def tether_settings(url: str, sfemu: Sfemu, data_dir: Path, port: int, **kw: object
                    ) -> Settings:
    return Settings(database_url=url, secret_key=Fernet.generate_key().decode(),
                    data_dir=data_dir, public_url=f"http://127.0.0.1:{port}",
                    salesforce_login_url=sfemu.base_url,
                    salesforce_sandbox_login_url=f"{sfemu.base_url}/test",
                    salesforce_verify=sfemu.ca_file, schedule_syncs=False,
                    # sfemu shares this machine's clock: no skew to cover
                    interval_overlap_seconds=0, **kw)  # type: ignore[arg-type]


@contextlib.contextmanager
def serve(migrated_url: str, sfemu: Sfemu, data_dir: Path, *, embedded_worker: bool = True,
          **kw: object) -> Iterator[Tether]:
    """Tether's web server in a thread (with its worker, unless told otherwise)."""
    sock = listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    settings = tether_settings(migrated_url, sfemu, data_dir, port, **kw)
    server = uvicorn.Server(uvicorn.Config(create_app(settings, embedded_worker=embedded_worker),
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield Tether(f"http://127.0.0.1:{port}", settings, sfemu)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def tether(migrated_url: str, sfemu: Sfemu, tmp_path: Path) -> Iterator[Tether]:
    with serve(migrated_url, sfemu, tmp_path) as server:
        yield server


# Watching quickly: a lease of 3 s, polls every 2 s, hits judged after 0.2 s.
WATCH = {"watch_lease_seconds": 3.0, "watch_poll_seconds": 2.0, "tracking_settle_seconds": 0.2,
         "watch_retry_max_seconds": 2.0}


@pytest.fixture
def watch_tether(migrated_url: str, sfemu: Sfemu, tmp_path: Path) -> Iterator[Tether]:
    """Tether with its worker, watching mailboxes quickly (WATCH)."""
    with serve(migrated_url, sfemu, tmp_path, **WATCH) as server:
        yield server


class WorkerProcess:
    """`tether worker` in a child process, configured like the web server."""

    def __init__(self, tether: Tether, log: Path, **overrides: str) -> None:
        s = tether.settings
        self.env = {**os.environ, "TETHER_DATABASE_URL": str(s.database_url),
                    "TETHER_SECRET_KEY": str(s.secret_key), "TETHER_DATA_DIR": str(s.data_dir),
                    "TETHER_SALESFORCE_LOGIN_URL": s.salesforce_login_url,
                    "TETHER_SALESFORCE_SANDBOX_LOGIN_URL": s.salesforce_sandbox_login_url,
                    "TETHER_SALESFORCE_VERIFY": str(s.salesforce_verify),
                    "TETHER_SCHEDULE_SYNCS": "false", "PYTHONUNBUFFERED": "1",
                    # sfemu's slow answers take 3 s: the writer gives up after 1.5 s, and the
                    # outcome of those writes is unknown.
                    "TETHER_SALESFORCE_TIMEOUT": "1.5",
                    # A create whose answer was lost is read back 10 s on: sfemu may still
                    # be writing a call of 1,000 records when the writer gives up on it,
                    # and a read-back before it commits would send them again.
                    "TETHER_ACTIVITY_RECONCILE_SECONDS": "10",
                    # A killed worker's sends are recovered 20 s on, not 2 minutes.
                    "TETHER_ACTIVITY_LEASE_SECONDS": "20",
                    "TETHER_QUOTA_PROBE_SECONDS": "1",
                    # Production waits up to 5 minutes between tries; the test cannot.
                    "TETHER_ACTIVITY_RETRY_MAX_SECONDS": "5",
                    # Tracked links point where the web server answers.
                    "TETHER_PUBLIC_URL": tether.base_url, **overrides}
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "tether", "worker"],
                                         env=self.env, stdout=out, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        assert self.proc is not None and self.proc.poll() is None, self.log.read_text()[-3000:]
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stacks(self) -> str:
        """The worker's log after it printed every thread's stack (SIGUSR1): what it was
        waiting for when a test gave up on it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGUSR1)
            time.sleep(1.0)
        return self.log.read_text()[-12000:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def split_tether(migrated_url: str, sfemu: Sfemu, tmp_path: Path) -> Iterator[Tether]:
    with serve(migrated_url, sfemu, tmp_path, embedded_worker=False) as server:
        yield server

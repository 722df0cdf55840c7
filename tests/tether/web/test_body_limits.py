"""Request bodies are bounded before they are read: over real HTTP, `tether serve` in a child
process is sent 100 MB bodies (chunked, and with a Content-Length) and its memory must not
follow; a caller without a valid key or token hears 401 before anything is read, one with a
valid key 413 naming the limit.  The shape of the answers is checked in-process too."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from cryptography.fernet import Fernet

from tests.tether.web.conftest import World
from tether.services import workspaces as ws
from tether.store.db import make_engine, session_factory

MB = 1024 * 1024
CHUNK = b"x" * (64 * 1024)


def _body(size: int = 100 * MB) -> Iterator[bytes]:
    """A body sent in 64 KB chunks from a generator: the client never holds it whole."""
    for _ in range(size // len(CHUNK)):
        yield CHUNK


@dataclass
class Served:
    base: str
    process: psutil.Process
    workspace_id: str
    key: str


@contextmanager
def _serve(url: str, data_dir: Path) -> Iterator[Served]:
    engine = make_engine(url)
    with session_factory(engine)() as db:
        admin = ws.create_workspace(db, name="Acme", admin_email="admin@acme.example",
                                    admin_password="tether-demo")
        key = ws.create_api_key(db, admin)
        db.commit()
    engine.dispose()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tether", "serve", "--port", "0", "--no-worker"],
        env={**os.environ, "TETHER_DATA_DIR": str(data_dir), "TETHER_DATABASE_URL": url,
             "TETHER_SECRET_KEY": Fernet.generate_key().decode(),
             "TETHER_SCHEDULE_SYNCS": "false"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    out = proc.stdout
    try:
        line = ""
        while "listening on" not in line:
            line = out.readline()
            assert line, "tether serve exited before listening"
        threading.Thread(target=lambda: [None for _ in out], daemon=True).start()
        yield Served(line.strip().rsplit(" ", 1)[-1], psutil.Process(proc.pid),
                     admin.workspace_id, key)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class PeakRss:
    """The largest resident set size of a process while the block runs (sampled)."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.peak = process.memory_info().rss
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


def test_large_bodies_are_refused_before_they_are_read(database_url: str,
                                                       tmp_path: Path) -> None:
    from tether.store.migrate import upgrade
    upgrade(database_url)
    with _serve(database_url, tmp_path) as server, \
            httpx.Client(base_url=server.base, timeout=120) as c:
        admin = {"Authorization": f"Bearer {server.key}"}
        token = c.post("/api/v1/salesforce/realtime-token", headers=admin).json()["token"]
        webhook = f"/webhooks/salesforce/{server.workspace_id}"
        # Warm up every path once (imports, connections, caches) before measuring.
        assert c.post("/api/v1/roles", json={"name": "Warm"}, headers=admin).status_code == 201
        assert c.post("/api/v1/events", json={}, headers=admin).status_code == 422
        assert c.post(webhook, json={}, headers={"X-Tether-Token": token}).status_code == 422
        assert c.post("/login", data={"email": "a@b.example"}).status_code in (401, 403)
        sized = {"Content-Length": str(100 * MB)}
        cases = [
            # (path, headers, expected status)
            ("/api/v1/roles", {}, 401),
            ("/api/v1/roles", {"Authorization": "Bearer nope"}, 401),
            ("/api/v1/roles", {"Authorization": "Bearer nope", **sized}, 401),
            ("/api/v1/roles", admin, 413),
            ("/api/v1/roles", {**admin, **sized}, 413),
            ("/api/v1/events", {"Authorization": "Bearer nope"}, 401),
            ("/api/v1/events", {"Authorization": "Bearer nope", **sized}, 401),
            ("/api/v1/events", admin, 413),
            ("/api/v1/events", {**admin, **sized}, 413),
            (webhook, {"X-Tether-Token": "nope"}, 401),
            (webhook, {"X-Tether-Token": "nope", **sized}, 401),
            (webhook, {"X-Tether-Token": token}, 413),
            (webhook, {"X-Tether-Token": token, **sized}, 413),
            ("/login", {"Content-Type": "application/x-www-form-urlencoded"}, 413),
        ]
        before = server.process.memory_info().rss
        with PeakRss(server.process) as rss:
            answers = [(path, headers, c.post(path, content=_body(), headers={
                "Content-Type": "application/json", **headers})) for path, headers, _ in cases]
        grown = (rss.peak - before) / MB
        assert grown < 30, f"the server's memory grew by {grown:.0f} MB"
        for (path, headers, expected), (_, _, r) in zip(cases, answers, strict=True):
            assert r.status_code == expected, (path, headers, r.status_code, r.text[:200])
            if expected == 413:
                assert r.json()["field"] is None and "MB" in r.json()["detail"], r.text
        # Still serving, and nothing was stored.
        roles = c.get("/api/v1/roles", headers=admin).json()
        assert [r["name"] for r in roles] == ["Default", "Warm"]


# -- the answers, in-process ------------------------------------------------------------------
def test_content_length_over_the_limit_is_a_413_naming_it(world: World) -> None:
    c = world.client
    r = c.post("/api/v1/roles", content=b"{" + b" " * MB + b"}", headers={
        **world.as_admin(), "Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json() == {"detail": "the request body is larger than 1 MB (1048576 bytes), "
                                  "the most this endpoint accepts", "code": "too_large",
                        "field": None}
    just_under = {"name": "Padded", "settings": {}, "members_manage_own": False}
    body = httpx.Request("POST", "/", json=just_under).content
    padded = body[:-1] + b" " * (MB - len(body)) + b"}"
    assert len(padded) == MB
    ok = c.post("/api/v1/roles", content=padded, headers={
        **world.as_admin(), "Content-Type": "application/json"})
    assert ok.status_code == 201, ok.text


def test_events_take_16_mb_and_check_the_key_first(world: World) -> None:
    c = world.client
    big = b"{\"events\": [" + b" " * (2 * MB) + b"]}"
    bad_key = c.post("/api/v1/events", content=big, headers={"Authorization": "Bearer nope"})
    assert bad_key.status_code == 401 and bad_key.json()["code"] == "unauthorized"
    no_key = c.post("/api/v1/events", content=big)
    assert no_key.status_code == 401
    # A valid key, 2 MB: read (it is under the events' 16 MB), then refused as events.
    read = c.post("/api/v1/events", content=big, headers=world.as_admin())
    assert read.status_code == 422 and read.json()["field"] == "events"
    too_big = c.post("/api/v1/events", content=b"[" + b" " * (16 * MB) + b"]",
                     headers=world.as_admin())
    assert too_big.status_code == 413 and "16 MB" in too_big.json()["detail"]


def test_streamed_bodies_are_cut_at_the_limit(world: World) -> None:
    """No Content-Length: the body is counted as it arrives, and refused once past the cap
    (with a valid key; without one, 401 before reading)."""
    c = world.client
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(100):
            sent += len(CHUNK)
            yield CHUNK

    headers = {**world.as_admin(), "Content-Type": "application/json"}
    r = c.post("/api/v1/roles", content=body(), headers=headers)
    assert r.status_code == 413 and "1 MB" in r.json()["detail"]
    sent = 0
    r = c.post("/api/v1/roles", content=body())
    assert r.status_code == 401
    assert sent <= 2 * len(CHUNK)  # the test client sends lazily: hardly anything was pulled


def test_webhook_checks_its_token_before_its_8_mb_limit(world: World) -> None:
    c = world.client
    token = c.post("/api/v1/salesforce/realtime-token", headers=world.as_admin()).json()["token"]
    url = f"/webhooks/salesforce/{world.workspace_id}"
    big = b"{" + b" " * (9 * MB) + b"}"
    assert c.post(url, content=big, headers={"X-Tether-Token": "nope"}).status_code == 401
    other = c.post("/webhooks/salesforce/nope", content=big, headers={"X-Tether-Token": token})
    assert other.status_code == 401
    r = c.post(url, content=big, headers={"X-Tether-Token": token})
    assert r.status_code == 413 and "8 MB" in r.json()["detail"]
    # 2 MB is over the 1 MB default but within the webhook's own limit: read, then judged.
    r = c.post(url, content=b"{" + b" " * (2 * MB) + b"}", headers={"X-Tether-Token": token})
    assert r.status_code == 422

"""Shared fixtures: a real sfemu server in a subprocess, over HTTPS with its own CA."""

from __future__ import annotations

import itertools
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

_org_numbers = itertools.count(1)


@dataclass
class Sfemu:
    base_url: str
    ca_file: str
    process: subprocess.Popen[str]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

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
    proc = subprocess.Popen(
        [sys.executable, "-m", "sfemu", "serve", "--port", "0", "--tls", "--cert-dir",
         str(cert_dir), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("sfemu listening on "):
            base = line.split()[-1]
            break
    else:
        raise RuntimeError("sfemu did not start: " + (proc.stdout.read() or ""))
    # Keep draining the pipe so the server never blocks on a full buffer.
    threading.Thread(target=lambda: [None for _ in proc.stdout or []], daemon=True).start()
    return Sfemu(base, str(cert_dir / "ca.pem"), proc)


@pytest.fixture(scope="session")
def sfemu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sfemu]:
    server = start_sfemu(tmp_path_factory.mktemp("sfemu-certs"))
    yield server
    server.stop()

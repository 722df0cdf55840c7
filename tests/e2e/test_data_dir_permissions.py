"""`tether demo` and `tether serve` as a user runs them, from a shell whose umask (022) would
make new files readable by everyone: the data directory is 0700 and every file in it 0600."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from tests.e2e.test_first_admin import _serve
from tether.store.migrate import upgrade


def modes(data_dir: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in data_dir.iterdir()}


def test_tether_demo_keeps_its_data_directory_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tether", "demo", "--port", "0", "--emulator-port", "0",
         "--data-dir", str(data_dir), "--seed", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, umask=0o022)
    output: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        while not any(line.startswith("Sign in to the dashboard") for line in output):
            line = proc.stdout.readline()
            assert line and time.monotonic() < deadline, "".join(output)
            output.append(line)
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        found = modes(data_dir)
        assert {"tether.db", "tether.db-wal", "tether.db-shm", "secret.key",
                "sfemu.db"} <= set(found), found
        # Files 0600; the demo's mail and calendar servers keep theirs in directories 0700.
        assert {name: m for name, m in found.items() if m != 0o600} == {
            "mail": 0o700, "calendar": 0o700}
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_tether_serve_tightens_a_data_directory_left_readable(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    upgrade(f"sqlite:///{data_dir / 'tether.db'}")
    (data_dir / "secret.key").write_text(Fernet.generate_key().decode())
    for path in [data_dir, *data_dir.iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    old = os.umask(0o022)
    try:
        with _serve(data_dir, TETHER_ADMIN_EMAIL="boss@acme.example",
                    TETHER_ADMIN_PASSWORD="a-strong-password") as (base, _):
            assert httpx.get(f"{base}/healthz").status_code == 200  # its database opened
            assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
            found = modes(data_dir)
            assert "tether.db-wal" in found and "secret.key" in found, found
            assert {name: m for name, m in found.items() if m != 0o600} == {}
    finally:
        os.umask(old)

"""`tether serve` on a new install creates the first admin from its options or from
TETHER_ADMIN_EMAIL / TETHER_ADMIN_PASSWORD, who can then sign in to the dashboard; a second
start keeps what exists, and a weak password is refused before anything is created."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from cryptography.fernet import Fernet


@contextmanager
def _serve(data_dir: Path, *args: str, **env: str) -> Iterator[tuple[str, list[str]]]:
    """`tether serve` as a child process: (base url, the lines it printed before listening)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tether", "serve", "--port", "0", "--no-worker", *args],
        env={**os.environ, "TETHER_DATA_DIR": str(data_dir), "TETHER_SCHEDULE_SYNCS": "false",
             **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        while not lines or "listening on" not in lines[-1]:
            line = proc.stdout.readline()
            assert line, f"tether serve exited: {''.join(lines)}"
            lines.append(line.strip())
        yield lines[-1].rsplit(" ", 1)[-1], lines
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _signs_in(base: str, email: str, password: str) -> bool:
    with httpx.Client(base_url=base, follow_redirects=True) as c:
        form = c.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token is not None
        r = c.post("/login", data={"email": email, "password": password,
                                   "csrf_token": token.group(1), "next": "/app/members"})
        return r.status_code == 200 and "Members & Roles" in r.text


def test_first_admin_from_the_environment_then_kept(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    with _serve(tmp_path, TETHER_SECRET_KEY=key, TETHER_ADMIN_EMAIL="Boss@Acme.example",
                TETHER_ADMIN_PASSWORD="s3cret-enough") as (base, lines):
        assert any("created workspace Tether with admin boss@acme.example" in x for x in lines)
        assert _signs_in(base, "boss@acme.example", "s3cret-enough")
        assert not _signs_in(base, "boss@acme.example", "wrong-password")
    with _serve(tmp_path, "--admin-email", "other@acme.example", "--admin-password",
                "another-one", TETHER_SECRET_KEY=key) as (base, lines):
        assert any("existing workspaces kept" in x for x in lines)
        assert not _signs_in(base, "other@acme.example", "another-one")


def test_first_admin_from_options_and_a_weak_password_refused(tmp_path: Path) -> None:
    weak = subprocess.run(
        [sys.executable, "-m", "tether", "serve", "--port", "0", "--admin-email",
         "a@acme.example", "--admin-password", "short"],
        env={**os.environ, "TETHER_DATA_DIR": str(tmp_path)}, capture_output=True, text=True,
        timeout=60)
    assert weak.returncode != 0 and "at least 8 characters" in weak.stdout + weak.stderr
    with _serve(tmp_path, "--admin-email", "a@acme.example", "--admin-password",
                "long-enough") as (base, _):
        assert _signs_in(base, "a@acme.example", "long-enough")

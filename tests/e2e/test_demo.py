"""`tether demo` as a new user runs it: sfemu, Tether, the connected workspace, real time."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx


def _start(data_dir: Path, later: list[str] | None = None
           ) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """`tether demo` on any free ports, once it has printed its three lines; what it prints
    after goes into ``later``."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tether", "demo", "--port", "0", "--emulator-port", "0",
         "--data-dir", str(data_dir), "--seed", "50"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: dict[str, str] = {}
    output: list[str] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        output.append(line)
        key, _, value = line.strip().partition(": ")
        if key in ("Dashboard", "API key", "Salesforce"):
            lines[key] = value
        if len(lines) == 3 or time.monotonic() > deadline:
            break
    if set(lines) != {"Dashboard", "API key", "Salesforce"}:
        _stop(proc)
        raise AssertionError("".join(output))
    rest = later if later is not None else []
    threading.Thread(target=lambda: rest.extend(proc.stdout or []), daemon=True).start()
    return proc, lines


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_demo_runs_everything(tmp_path: Path) -> None:
    later: list[str] = []
    proc, lines = _start(tmp_path / "demo", later)
    try:
        base, key, sf = lines["Dashboard"].rstrip("/"), lines["API key"], lines["Salesforce"]
        auth = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, headers=auth, timeout=60) as c:
            assert c.get("/healthz").status_code == 200
            me = c.get("/api/v1/me").json()
            assert me["email"] == "admin@acme.example" and me["admin"] is True
            conn = c.get("/api/v1/salesforce/connection").json()
            assert conn["connected"] and conn["salesforce_username"] == "admin@acme.example"
            # The first sync (an audit) runs in the background; then the mirror answers.
            email = httpx.get(f"{sf}/__sfemu__/orgs/acme/query", params={
                "q": "SELECT Email FROM Contact LIMIT 1"}).json()["records"][0]["Email"]
            deadline = time.monotonic() + 60
            while not c.get("/api/v1/salesforce/lookup", params={"email": email}).json()[
                    "matches"]:
                assert time.monotonic() < deadline, "the audit did not mirror the contacts"
                time.sleep(0.2)
            # The real-time package is installed: a new Lead arrives by itself.
            httpx.post(f"{sf}/__sfemu__/orgs/acme/records/Lead", json={
                "LastName": "Live", "Company": "Demo", "Email": "live@demo.example"})
            deadline = time.monotonic() + 5
            while not c.get("/api/v1/salesforce/lookup",
                            params={"email": "live@demo.example"}).json()["matches"]:
                assert time.monotonic() < deadline, "real-time sync did not deliver"
                time.sleep(0.1)
            # The admin's mailbox is on the demo's mail server: a send lands in Salesforce.
            assert c.get("/api/v1/mailbox").json()["address"] == "admin@acme.example"
            sent = c.post("/api/v1/messages", json={"to": [email], "subject": "Demo hello",
                                                    "body_html": "<p>Hello</p>"}).json()
            deadline = time.monotonic() + 30
            while not httpx.get(f"{sf}/__sfemu__/orgs/acme/query", params={
                    "q": "SELECT Id FROM Task WHERE Subject = 'Sent (New): Demo hello'"}
                    ).json()["records"]:
                assert time.monotonic() < deadline, c.get(f"/api/v1/messages/{sent['id']}").text
                time.sleep(0.2)
            # The demo shows a reply and a meeting reaching Salesforce by themselves.
            deadline = time.monotonic() + 90
            while len([line for line in later if line.startswith("Watching:")]) < 2:
                assert time.monotonic() < deadline, "".join(later)
                time.sleep(0.5)
            shown = "".join(line for line in later if line.startswith("Watching:"))
            assert '"Replied: Welcome to Tether" in' in shown, shown
            assert '"Meeting Confirmed: Tether demo call" in' in shown, shown
    finally:
        _stop(proc)
    # Started again, the demo shows the same key, and the admin still has that one alone.
    again, lines = _start(tmp_path / "demo")
    try:
        assert lines["API key"] == key
        keys = httpx.get(f"{lines['Dashboard'].rstrip('/')}/api/v1/api-keys", headers=auth,
                         timeout=60).json()
        assert [k["revoked"] for k in keys] == [False], keys
    finally:
        _stop(again)

"""The tether command tells a user's mistakes in one line on stderr, with exit code 2 (what
was asked cannot be) or 1 (it failed), never a traceback: unknown names, ports in use,
databases and emulators out of reach, bad settings, bad directories.  Results are readable,
or JSON with --json; every command and option has a help sentence."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from cryptography.fernet import Fernet
from typer.testing import CliRunner, Result

from sfemu.cli import app as sfemu_app
from tether.cli import app, sync_summary
from tether.services import workspaces as ws
from tether.store.db import make_engine, session_factory
from tether.store.migrate import upgrade


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("TETHER_DATABASE_URL", "TETHER_SECRET_KEY", "TETHER_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TETHER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # no .env of the repository's
    return tmp_path / "data"


@pytest.fixture
def busy_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def told(result: Result, code: int, *words: str) -> str:
    """The one line the command printed on stderr, which says each of ``words``."""
    everything = result.stdout + result.stderr
    assert "Traceback" not in everything, everything
    assert result.exit_code == code, everything
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def tether(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_an_unknown_sync_kind_is_named_with_the_known_ones() -> None:
    """As a user runs it: the real command in a process of its own."""
    run = subprocess.run([sys.executable, "-m", "tether", "sync", "bogus"],
                         capture_output=True, text=True, timeout=120)
    assert "Traceback" not in run.stderr and run.returncode == 2, run.stderr
    assert run.stderr.strip() == ("Error: no sync kind 'bogus': choose one of audit, interval, "
                                  "deletions, fields")


def test_sync_without_a_workspace_or_with_an_unknown_one(data_dir: Path) -> None:
    told(tether("sync", "audit"), 2, "no workspace yet", "tether demo")
    upgrade(f"sqlite:///{data_dir / 'tether.db'}")
    told(tether("sync", "audit"), 2, "no workspace yet")
    sessions = session_factory(make_engine(f"sqlite:///{data_dir / 'tether.db'}"))
    with sessions() as db:
        actor = ws.create_workspace(db, name="Acme", admin_email="admin@acme.example",
                                    admin_password="tether-demo")
        db.commit()
    told(tether("sync", "audit", "--workspace", "nope"), 2, "no workspace nope",
         actor.workspace_id)
    told(tether("sync", "audit"), 2, "no Sync User")


def test_a_busy_port_is_named_with_the_option_that_changes_it(data_dir: Path,
                                                              busy_port: int) -> None:
    told(tether("serve", "--port", str(busy_port)), 1, f"port {busy_port} on 127.0.0.1 is "
         "taken", "--port chooses another")
    told(tether("serve", "--host", "no-such-host.invalid"), 2, "cannot listen on")
    told(tether("demo", "--port", str(busy_port), "--data-dir", str(data_dir)), 1,
         f"port {busy_port}", "--port chooses another")
    told(tether("demo", "--port", "0", "--emulator-port", str(busy_port), "--data-dir",
                str(data_dir)), 1, f"port {busy_port}", "--emulator-port chooses another")


def test_demo_on_a_busy_port_as_a_user_runs_it(tmp_path: Path, busy_port: int) -> None:
    run = subprocess.run([sys.executable, "-m", "tether", "demo", "--port", str(busy_port),
                          "--data-dir", str(tmp_path / "demo")],
                         capture_output=True, text=True, timeout=120)
    assert "Traceback" not in run.stderr and run.returncode == 1, run.stderr
    assert run.stderr.strip() == (f"Error: port {busy_port} on 127.0.0.1 is taken by another "
                                  "program; --port chooses another (0: any free port)")


def test_demo_with_a_bad_data_directory_or_an_unreachable_emulator(data_dir: Path,
                                                                   tmp_path: Path) -> None:
    file = tmp_path / "a-file"
    file.write_text("")
    told(tether("demo", "--port", "0", "--data-dir", str(file)), 1,
         f"cannot use {file} as the data directory")
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{free.getsockname()[1]}"
    told(tether("demo", "--port", "0", "--salesforce-url", nobody, "--data-dir",
                str(tmp_path / "demo")), 1, f"cannot reach the Salesforce emulator at {nobody}")


def test_bad_settings_and_unreachable_databases(data_dir: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TETHER_PORT", "eighty")
    told(tether("migrate"), 2, "TETHER_PORT", "integer")
    monkeypatch.delenv("TETHER_PORT")
    monkeypatch.setenv("TETHER_SECRET_KEY", "not-a-key")
    told(tether("worker"), 2, "TETHER_SECRET_KEY", "Fernet key")
    monkeypatch.setenv("TETHER_SECRET_KEY", Fernet.generate_key().decode())
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    monkeypatch.setenv("TETHER_DATABASE_URL", f"postgresql+psycopg://nobody@127.0.0.1:{port}/x")
    told(tether("migrate"), 1, "the database (TETHER_DATABASE_URL) cannot be used")
    monkeypatch.setenv("TETHER_DATABASE_URL", "nosuchdb://somewhere")
    told(tether("migrate"), 1, "the database", "nosuchdb")
    monkeypatch.delenv("TETHER_DATABASE_URL")
    monkeypatch.setenv("TETHER_DATA_DIR", "/proc/no-such-dir")
    told(tether("migrate"), 1, "cannot use /proc/no-such-dir")


def test_config_reads_as_lines_or_json(data_dir: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TETHER_SECRET_KEY", Fernet.generate_key().decode())
    lines = tether("config")
    assert lines.exit_code == 0 and "port = 8000" in lines.stdout.splitlines()
    assert "secret_key = ***" in lines.stdout.splitlines()
    shown = json.loads(tether("config", "--json").stdout)
    assert shown["port"] == 8000 and shown["secret_key"] == "***"
    assert shown["effective_database_url"].endswith("tether.db")


def test_a_sync_run_reads_as_one_line() -> None:
    assert sync_summary({"kind": "audit", "outcome": "succeeded", "records_read": 1234,
                         "records_changed": 1200, "api_calls": 7}) == (
        "audit succeeded: 1,234 records read, 1,200 changed, 7 API calls")


@pytest.mark.parametrize("cli", [app, sfemu_app], ids=["tether", "sfemu"])
def test_every_command_and_option_has_a_help_sentence(cli: typer.Typer) -> None:
    group = typer.main.get_command(cli)
    commands = getattr(group, "commands", {})
    assert len(commands) >= 6
    for name, command in commands.items():
        texts = {name: command.help or ""}
        for param in command.params:
            if param.name != "help":
                texts[f"{name} {param.name}"] = getattr(param, "help", None) or ""
        for where, text in texts.items():
            first = text.strip()
            assert first[:1].isupper() and first.endswith("."), f"{where}: {text!r}"

"""The ``tether`` command: demo, serve, worker, migrate, sync, config.

A user's mistake (an unknown name, a port in use, a database or Salesforce out of reach, a bad
setting) ends a command with one line on stderr and exit code 2 or 1, never a traceback
(sfemu.clikit); results are lines a person reads, or JSON with ``--json``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import faulthandler
import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import exc as db_errors
from sqlalchemy import inspect, select

from sfemu import launch
from sfemu.clikit import JsonFlag, cannot_listen, commands, fail, print_json
from tether.config import Settings
from tether.jobs.queue import EmbeddedQueue, finish
from tether.net import listen
from tether.security import Vault, make_private_dir, secure_data_dir
from tether.services import accounts
from tether.services import sync as sync_service
from tether.services.errors import Invalid, NotFound, ServiceError
from tether.store.db import make_engine, session_factory
from tether.store.migrate import upgrade
from tether.store.models import Workspace
from tether.sync.pull import KINDS
from tether.worker import build_worker

app = typer.Typer(help="Tether: sales engagement with a two-way Salesforce integration.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
console = Console()


def _explain(exc: Exception) -> tuple[str, int] | None:
    """Words for what Tether's commands expect to go wrong: a refusal, the database, a file
    or directory that cannot be made or read (the data directory, the database's file)."""
    if isinstance(exc, ServiceError):
        return exc.message, 2 if isinstance(exc, Invalid | NotFound) else 1
    if isinstance(exc, db_errors.OperationalError | db_errors.ArgumentError
                  | db_errors.NoSuchModuleError):
        return _database_problem(exc), 1
    if isinstance(exc, OSError) and exc.filename:
        return f"cannot use {exc.filename}: {exc.strerror}", 1
    return None


_command = commands(app, _explain)


def _database_problem(exc: Exception) -> str:
    """The database's own first line, and what to do when the schema is missing."""
    cause = getattr(exc, "orig", None) or exc
    first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    missing_table = "no such table" in first or ("relation" in first
                                                 and "does not exist" in first)
    hint = "; run `tether migrate` first" if missing_table else ""
    return f"the database (TETHER_DATABASE_URL) cannot be used: {first}{hint}"


def _settings(**overrides: Any) -> Settings:
    """The configuration (TETHER_* variables), with the data directory's existing files made
    private (they may come from a version that left them readable by all)."""
    settings = _configuration(**overrides)
    secure_data_dir(settings.data_dir)
    return settings


def _configuration(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "TETHER_" + "_".join(str(p) for p in first["loc"]).upper()
        fail(f"{name}: {first['msg']}", 2)


def _vault(settings: Settings) -> Vault:
    try:
        return Vault(settings.effective_secret_key())
    except ValueError:
        fail("TETHER_SECRET_KEY (or the data directory's secret.key) is not a Fernet key: "
             "32 url-safe base64-encoded bytes", 2)
    except OSError as exc:
        fail(f"cannot read or create the secret key in {settings.data_dir}: {exc.strerror}")


def _listen(host: str, port: int, option: str) -> socket.socket:
    """A listening socket, or a line saying why not and which option chooses another port."""
    try:
        return listen(host, port)
    except OSError as exc:
        cannot_listen(exc, host, port, option)


def _private_dir(path: Path) -> None:
    try:
        make_private_dir(path)
    except OSError as exc:
        fail(f"cannot use {path} as the data directory: {exc.strerror}")
    secure_data_dir(path)


@_command
def migrate() -> None:
    """Bring the database (TETHER_DATABASE_URL) to the current schema."""
    settings = _settings()
    upgrade(settings.effective_database_url)
    console.print(f"migrated {_without_password(settings.effective_database_url)}")


@_command
def serve(host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
          port: Annotated[int | None, typer.Option(
              help="The port to listen on (default TETHER_PORT, 8000; 0: any free port).")
          ] = None,
          worker: Annotated[bool, typer.Option(
              help="Run the job worker in this process too (the embedded default).")] = True,
          admin_email: Annotated[str | None, typer.Option(
              help="On a new install, the first admin's email (or TETHER_ADMIN_EMAIL).")
          ] = None,
          admin_password: Annotated[str | None, typer.Option(
              help="On a new install, the first admin's password (or "
                   "TETHER_ADMIN_PASSWORD).")] = None) -> None:
    """Run Tether's web server (and, by default, its worker), configured by TETHER_*
    variables."""
    from tether.web.app import create_app
    settings = _settings(port=port)
    _vault(settings)  # a bad key is refused before anything starts
    sock = _listen(host, settings.port, "--port")
    upgrade(settings.effective_database_url)
    password = admin_password or (settings.admin_password.get_secret_value()
                                  if settings.admin_password else None)
    engine = make_engine(settings.effective_database_url)
    try:
        with session_factory(engine)() as db:
            console.print(accounts.ensure_first_admin(db, admin_email or settings.admin_email,
                                                      password))
            db.commit()
    finally:
        engine.dispose()
    console.print(f"Tether listening on http://{host}:{sock.getsockname()[1]}")
    # No access log: it is filtered out at "warning" anyway, after costing each request.
    uvicorn.Server(uvicorn.Config(create_app(settings, embedded_worker=worker),
                                  log_level="warning", access_log=False)).run(sockets=[sock])


@_command
def worker() -> None:
    """Run the worker alone (syncs on their schedules, the activity pipeline), for a split
    deployment."""
    settings = _settings()
    sessions = session_factory(make_engine(settings.effective_database_url))
    vault = _vault(settings)
    # `kill -USR1 <pid>` prints every thread's stack: what a stuck worker is waiting for.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    console.print("Tether worker running")
    asyncio.run(build_worker(sessions, vault, settings).run_forever())


@_command
def sync(kind: Annotated[str, typer.Argument(
             help=f"Which sync to run: {', '.join(KINDS)}.", metavar="|".join(KINDS))],
         workspace: Annotated[str | None, typer.Option(
             help="The workspace's id (default: the only one).")] = None,
         as_json: JsonFlag = False) -> None:
    """Run one sync now, with progress; it waits its turn if the workspace is syncing."""
    if kind not in KINDS:
        fail(f"no sync kind '{kind}': choose one of {', '.join(KINDS)}", 2)
    settings = _settings()
    engine = make_engine(settings.effective_database_url)
    if not inspect(engine).has_table(Workspace.__tablename__):
        fail("no workspace yet: `tether demo` or `tether serve` creates one", 2)
    sessions = session_factory(engine)
    vault = _vault(settings)
    with sessions() as db:
        ids = list(db.scalars(select(Workspace.id)))
        if workspace is None and len(ids) != 1:
            fail(f"{len(ids)} workspaces: name one with --workspace" if ids else
                 "no workspace yet: `tether demo` or `tether serve` creates one", 2)
        workspace_id = workspace or ids[0]
        if workspace_id not in ids:
            fail(f"no workspace {workspace_id} (there are: {', '.join(ids)})", 2)
        job_id = sync_service.enqueue_sync(db, workspace_id, kind)
        db.commit()
    result = asyncio.run(_run_claimed(sessions, vault, settings, workspace_id, kind, job_id,
                                      show_progress=not as_json))
    if as_json:
        print_json(result)
    else:
        console.print(sync_summary(result), markup=False)
    if result["outcome"] != "succeeded":
        fail(f"the {kind} sync {result['outcome']}: {result.get('error') or 'no reason given'}")


def sync_summary(run: dict[str, Any]) -> str:
    """A sync run in one line: '{kind} {outcome}: N records read, M changed, K API calls'."""
    return (f"{run['kind']} {run['outcome']}: {run['records_read']:,} records read, "
            f"{run['records_changed']:,} changed, {run['api_calls']:,} API calls")


async def _run_claimed(sessions: Any, vault: Vault, settings: Settings, workspace_id: str,
                       kind: str, job_id: str, *, show_progress: bool) -> dict[str, Any]:
    queue = EmbeddedQueue()
    while True:  # the workspace's lock: wait while another sync runs
        with sessions() as db:
            job = queue.claim(db, dt.timedelta(hours=2), job_id=job_id)
            db.commit()
        if job is not None:
            break
        await asyncio.sleep(1)
    error: str | None = "interrupted"
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, disable=not show_progress) as bar:
            tasks: dict[str, Any] = {}

            def progress(sobject: str, done: int, total: int | None) -> None:
                if sobject not in tasks:
                    tasks[sobject] = bar.add_task(sobject, total=total)
                bar.update(tasks[sobject], completed=done, total=total)
            result = await sync_service.run_sync(sessions, vault, settings, workspace_id,
                                                 kind, progress)
            error = result.get("error")
            return result
    finally:
        # Whatever happened (Ctrl-C included), give the workspace's lock back.
        with sessions() as db:
            finish(db, job_id, error=error, attempt=job.attempts)
            db.commit()


@_command
def demo(port: Annotated[int, typer.Option(
             help="The port of Tether's web server (0: any free port).")] = 8000,
         emulator_port: Annotated[int, typer.Option(
             help="The port of the Salesforce emulator the demo starts (0: any free port).")
         ] = 8765,
         data_dir: Annotated[Path, typer.Option(
             help="Where the demo keeps its databases and keys.")] = Path(".tether"),
         salesforce_url: Annotated[str | None, typer.Option(
             help="A running Salesforce emulator to use instead of starting one.")] = None,
         seed: Annotated[int, typer.Option(
             help="How many Contacts the emulator is seeded with.")] = 500,
         ) -> None:
    """Run everything on the embedded default: sfemu, Tether's web server and worker, and
    the workspace Acme connected to the emulator's acme org with the real-time package."""
    from tether.demo import DemoError, run_demo

    def stop(*_: object) -> None:
        raise KeyboardInterrupt  # SIGTERM ends the demo like Ctrl-C: the emulator goes too
    signal.signal(signal.SIGTERM, stop)
    _private_dir(data_dir)
    sock = _listen("127.0.0.1", port, "--port")  # first: nothing starts if it is taken
    emulator: subprocess.Popen[str] | None = None
    base = salesforce_url
    try:
        if base is None:
            if emulator_port:
                _listen("127.0.0.1", emulator_port, "--emulator-port").close()
            emulator, base = _start_emulator(emulator_port, data_dir, seed)
        asyncio.run(run_demo(base.rstrip("/"), sock, data_dir))
    except KeyboardInterrupt:
        pass
    except DemoError as exc:
        fail(str(exc))
    except httpx.HTTPError as exc:
        fail(f"cannot reach Salesforce at {base}: {exc or type(exc).__name__}")
    finally:
        sock.close()
        if emulator is not None:
            launch.stop(emulator)


def _start_emulator(port: int, data_dir: Path, seed: int) -> tuple[subprocess.Popen[str], str]:
    try:
        return launch.start("--port", str(port), "--db", str(data_dir / "sfemu.db"),
                            "--seed", str(seed))
    except RuntimeError as exc:  # its own last line says why
        fail(f"the Salesforce emulator did not start: {str(exc).strip().splitlines()[-1]}")


@_command
def config(as_json: JsonFlag = False) -> None:
    """Print the effective configuration (from TETHER_* environment variables)."""
    settings = _configuration()
    secret = {"secret_key", "salesforce_client_secret", "admin_password"}
    shown = {name: ("***" if name in secret and value else value)
             for name, value in settings.model_dump(mode="json").items()}
    shown["effective_database_url"] = _without_password(settings.effective_database_url)
    if as_json:
        print_json(shown)
        return
    for name, value in shown.items():
        console.print(f"{name} = {value}", markup=False, highlight=False)


def _without_password(url: str) -> str:
    from sqlalchemy.engine import make_url
    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    # What Tether creates (the database, its key, the demo's emulator database, in a child
    # that inherits this) is its owner's alone, whatever the shell's umask.
    os.umask(0o077)
    app()

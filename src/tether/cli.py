"""The ``tether`` command: demo, serve, worker, migrate, sync."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import select

from sfemu import launch
from tether.config import Settings
from tether.jobs.queue import EmbeddedQueue, finish
from tether.net import listen
from tether.security import Vault, make_private_dir, secure_data_dir
from tether.services import accounts
from tether.services import sync as sync_service
from tether.services.errors import ServiceError
from tether.store.db import make_engine, session_factory
from tether.store.migrate import upgrade
from tether.store.models import Workspace
from tether.worker import build_worker

app = typer.Typer(help="Tether: sales engagement with a two-way Salesforce integration.",
                  no_args_is_help=True)
console = Console()


def _settings(**overrides: Any) -> Settings:
    """The configuration, with the data directory's existing files made private (they may
    come from a version that left them readable by all)."""
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    secure_data_dir(settings.data_dir)
    return settings


@app.command()
def migrate() -> None:
    """Bring the database (TETHER_DATABASE_URL) to the current schema."""
    settings = _settings()
    upgrade(settings.effective_database_url)
    console.print(f"migrated {_without_password(settings.effective_database_url)}")


@app.command()
def serve(host: str = "127.0.0.1", port: Annotated[int | None, typer.Option()] = None,
          worker: Annotated[bool, typer.Option(help="Run the job worker in this process "
                                                     "(the embedded default)")] = True,
          admin_email: Annotated[str | None, typer.Option(
              help="On a new install: the first admin's email (or TETHER_ADMIN_EMAIL)")] = None,
          admin_password: Annotated[str | None, typer.Option(
              help="On a new install: the first admin's password (or TETHER_ADMIN_PASSWORD)"
          )] = None) -> None:
    """Tether's web server (and, by default, its worker), configured by TETHER_* variables."""
    from tether.web.app import create_app
    settings = _settings(port=port)
    upgrade(settings.effective_database_url)
    password = admin_password or (settings.admin_password.get_secret_value()
                                  if settings.admin_password else None)
    engine = make_engine(settings.effective_database_url)
    try:
        with session_factory(engine)() as db:
            console.print(accounts.ensure_first_admin(db, admin_email or settings.admin_email,
                                                      password))
            db.commit()
    except ServiceError as exc:
        raise typer.BadParameter(exc.message) from None
    finally:
        engine.dispose()
    sock = listen(host, settings.port)
    console.print(f"Tether listening on http://{host}:{sock.getsockname()[1]}")
    # No access log: it is filtered out at "warning" anyway, after costing each request.
    uvicorn.Server(uvicorn.Config(create_app(settings, embedded_worker=worker),
                                  log_level="warning", access_log=False)).run(sockets=[sock])


@app.command()
def worker() -> None:
    """The worker alone (syncs on their schedules, the activity pipeline), for a split
    deployment."""
    settings = _settings()
    sessions = session_factory(make_engine(settings.effective_database_url))
    vault = Vault(settings.effective_secret_key())
    console.print("Tether worker running")
    asyncio.run(build_worker(sessions, vault, settings).run_forever())


@app.command()
def sync(kind: Annotated[str, typer.Argument(help="audit | interval | deletions | fields")],
         workspace: Annotated[str | None, typer.Option(help="Workspace id (default: the "
                                                             "only one)")] = None) -> None:
    """Run one sync now, with progress; waits its turn if the workspace is syncing."""
    settings = _settings()
    sessions = session_factory(make_engine(settings.effective_database_url))
    vault = Vault(settings.effective_secret_key())
    with sessions() as db:
        ids = list(db.scalars(select(Workspace.id)))
        if workspace is None and len(ids) != 1:
            raise typer.BadParameter(f"{len(ids)} workspaces: name one with --workspace")
        workspace_id = workspace or ids[0]
        if workspace_id not in ids:
            raise typer.BadParameter(f"no workspace {workspace_id}")
        job_id = sync_service.enqueue_sync(db, workspace_id, kind)
        db.commit()
    result = asyncio.run(_run_claimed(sessions, vault, settings, workspace_id, kind, job_id))
    console.print(result)
    if result["outcome"] != "succeeded":
        raise typer.Exit(1)


async def _run_claimed(sessions: Any, vault: Vault, settings: Settings, workspace_id: str,
                       kind: str, job_id: str) -> dict[str, Any]:
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
                      TimeElapsedColumn(), console=console) as bar:
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


@app.command()
def demo(port: int = 8000, emulator_port: int = 8765,
         data_dir: Annotated[Path, typer.Option()] = Path(".tether"),
         salesforce_url: Annotated[str | None, typer.Option(
             help="A running Salesforce emulator instead of starting one")] = None,
         seed: Annotated[int, typer.Option(help="Contacts the emulator is seeded with")] = 500,
         ) -> None:
    """Everything on the embedded default: sfemu, Tether's web server and worker, the
    workspace Acme connected to the emulator's acme org with the real-time package."""
    from tether.demo import run_demo

    def stop(*_: object) -> None:
        raise KeyboardInterrupt  # SIGTERM ends the demo like Ctrl-C: the emulator goes too
    signal.signal(signal.SIGTERM, stop)
    emulator: subprocess.Popen[str] | None = None
    base = salesforce_url
    make_private_dir(data_dir)
    secure_data_dir(data_dir)
    if base is None:
        try:
            emulator, base = launch.start("--port", str(emulator_port), "--db",
                                          str(data_dir / "sfemu.db"), "--seed", str(seed))
        except RuntimeError as exc:
            console.print(str(exc))
            raise typer.Exit(1) from None
    assert base is not None
    try:
        asyncio.run(run_demo(base.rstrip("/"), port, data_dir))
    except KeyboardInterrupt:
        pass
    finally:
        if emulator is not None:
            launch.stop(emulator)


@app.command()
def config() -> None:
    """Print the effective configuration (from TETHER_* environment variables)."""
    settings = Settings()
    secret = {"secret_key", "salesforce_client_secret"}
    for name, value in settings.model_dump().items():
        console.print(f"{name} = {'***' if name in secret and value else value}")
    url = _without_password(settings.effective_database_url)
    console.print(f"effective_database_url = {url}")


def _without_password(url: str) -> str:
    from sqlalchemy.engine import make_url
    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    # What Tether creates (the database, its key, the demo's emulator database, in a child
    # that inherits this) is its owner's alone, whatever the shell's umask.
    os.umask(0o077)
    app()

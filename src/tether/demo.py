"""`tether demo`: the workspace Acme, connected to the emulator's acme org as
admin@acme.example through the real OAuth web-server flow, with the real-time package.

The admin's API key outlives a restart: the demo keeps the one it made in its data directory
(encrypted with the data directory's secret key, as Salesforce tokens are), and makes a new one
(revoking the one it had) only when that key no longer works."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import httpx
import uvicorn
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tether import demo_watch
from tether.config import Settings
from tether.mail.local_server import LocalMailServer
from tether.security import CALENDAR_DIR, MAIL_DIR, PRIVATE_FILE, Vault, hash_secret
from tether.services import connection, mailboxes, records
from tether.services import sync as sync_service
from tether.services import workspaces as ws
from tether.services.errors import Unauthorized
from tether.services.workspaces import Actor
from tether.store.db import make_engine, session_factory
from tether.store.migrate import upgrade
from tether.store.models import ApiKey, Membership, User, Workspace, utcnow
from tether.web.app import create_app

ADMIN = "admin@acme.example"
PASSWORD = "tether-demo"  # noqa: S105 - the emulator's documented demo password
KEY_FILE = "demo-api-key"  # in the data directory: the key's id and the key, encrypted


class DemoError(Exception):
    """The demo cannot go on; the message says why."""


class LoginForm(HTMLParser):
    """A login page's form as a browser reads it: where it posts and its inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = a.get("action", "")
        elif tag == "input" and "name" in a:
            self.fields[a["name"]] = a.get("value", "")

    @classmethod
    def filled(cls, html: str, page_url: str, username: str, password: str
               ) -> tuple[str, dict[str, str]]:
        """Where to post and what: the form's hidden fields plus the credentials."""
        form = cls()
        form.feed(html)
        form.fields.update(username=username, password=password)
        return urljoin(page_url, form.action or page_url), form.fields


async def _log_in(authorize_url: str) -> str:
    """Do what the admin would do in a browser: fill sfemu's login form and follow back."""
    async with httpx.AsyncClient(follow_redirects=True, timeout=120) as browser:
        page = await browser.get(authorize_url)
        target, data = LoginForm.filled(page.text, str(page.url), ADMIN, PASSWORD)
        done = await browser.post(target, data=data)
        return done.text


def demo_api_key(db: Session, vault: Vault, actor: Actor, path: Path) -> str:
    """The admin's API key the demo made before, while it still works; otherwise a new one,
    kept in ``path``, and the one it replaces revoked (each start used to add a key and
    leave the earlier ones active)."""
    kept_id, kept = _read_key(vault, path)
    if kept is not None:
        try:
            if ws.authenticate_api_key(db, kept).membership_id == actor.membership_id:
                return kept
        except Unauthorized:
            pass  # revoked meanwhile
    if kept_id is not None:
        row = db.get(ApiKey, kept_id)
        if row is not None and row.membership_id == actor.membership_id \
                and row.revoked_at is None:
            row.revoked_at = utcnow()
    key = ws.create_api_key(db, actor)
    key_id = db.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_secret(key)))
    _write_key(vault, path, str(key_id), key)
    return key


def _read_key(vault: Vault, path: Path) -> tuple[str | None, str | None]:
    """(the kept key's id, the key), or Nones for what cannot be read (no file yet; a file
    from another secret key still names its id, so that key can be revoked)."""
    try:
        kept = json.loads(path.read_text())
        key_id = str(kept["id"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, None
    try:
        return key_id, vault.decrypt(str(kept["key"]).encode())
    except (ValueError, KeyError):
        return key_id, None


def _write_key(vault: Vault, path: Path, key_id: str, key: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "w") as f:
        json.dump({"id": key_id, "key": vault.encrypt(key).decode()}, f)


async def run_demo(salesforce_url: str, sock: socket.socket, data_dir: Path) -> None:
    """The demo on a listening socket (bound by the caller, so a port in use is said before
    anything starts), against the emulator at ``salesforce_url``."""
    port = sock.getsockname()[1]
    settings = Settings(data_dir=data_dir, port=port, public_url=f"http://127.0.0.1:{port}",
                        salesforce_login_url=salesforce_url,
                        salesforce_sandbox_login_url=f"{salesforce_url}/test")
    upgrade(settings.effective_database_url)
    sessions = session_factory(make_engine(settings.effective_database_url))
    vault = Vault(settings.effective_secret_key())
    with sessions() as db:
        found = db.execute(select(Workspace.id, Membership.id).join(
            Membership, Membership.workspace_id == Workspace.id).join(
            User, User.id == Membership.user_id).where(
            Workspace.name == "Acme", User.email == ADMIN)).first()
        actor = ws.actor_for_membership(db, found[1]) if found else ws.create_workspace(
            db, name="Acme", admin_email=ADMIN, admin_password=PASSWORD, plan="enterprise")
        key = demo_api_key(db, vault, actor, data_dir / KEY_FILE)
        db.commit()

    await _check_emulator(salesforce_url)
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning",
                                           access_log=False))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        await _connect(sessions, vault, settings, actor, salesforce_url)
    except Exception:
        server.should_exit = True  # a clean stop, then the error is told
        await serving
        raise
    try:
        mail = await asyncio.to_thread(_start_mail, data_dir / MAIL_DIR)
        calendar, calendar_url = await asyncio.to_thread(
            demo_watch.start_calendar, data_dir / CALENDAR_DIR, ADMIN, PASSWORD)
    except Exception:
        server.should_exit = True
        await serving
        raise
    deps = records.Deps(sessions, vault, settings)
    showing: asyncio.Task[None] | None = None
    try:
        await _connect_mailbox(deps, actor, mail)
        await demo_watch.connect_calendar(deps, actor, calendar_url, ADMIN, PASSWORD)
        app.state.tether.nudge_watchers()
        print(f"Dashboard: {settings.base_url}/", flush=True)
        print(f"API key: {key}", flush=True)
        print(f"Salesforce: {salesforce_url}", flush=True)
        print(f"Mail: SMTP {mail.host}:{mail.smtp_port}, IMAP {mail.host}:{mail.imap_port} "
              f"({mail.backend}); every address's mailbox is under {mail.root}", flush=True)
        print(f"Calendar: CalDAV {calendar_url} (Radicale)", flush=True)
        print(f"Sign in to the dashboard as {ADMIN}, password {PASSWORD}; compose at "
              f"{settings.base_url}/app/compose", flush=True)
        showing = asyncio.create_task(demo_watch.show(deps, actor, mail, calendar, ADMIN))
        await serving
    finally:
        if showing is not None:
            showing.cancel()
        server.should_exit = True
        await asyncio.to_thread(mail.stop)
        await asyncio.to_thread(calendar.stop)


def _start_mail(root: Path) -> LocalMailServer:
    """A local mail server for the demo's users: SMTP (aiosmtpd) and IMAP (Dovecot when it
    is installed, else pymap, in pure Python)."""
    mail = LocalMailServer(root=root)
    mail.start()
    mail.add_user(ADMIN, PASSWORD)
    return mail


async def _connect_mailbox(deps: records.Deps, actor: Actor, mail: LocalMailServer) -> None:
    """The admin's mailbox on the local server (its ports change with each start), saved
    through the same check a user's goes through."""
    def server(port: int) -> mailboxes.ServerIn:
        return mailboxes.ServerIn(mail.host, port, "none", ADMIN, PASSWORD)
    await mailboxes.save(deps, actor, mailboxes.MailboxIn(
        address=ADMIN, smtp=server(mail.smtp_port), imap=server(mail.imap_port),
        sent_folder="Sent", display_name="Acme Admin"))


async def _check_emulator(salesforce_url: str) -> None:
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            health = await http.get(f"{salesforce_url}/__sfemu__/health")
    except httpx.HTTPError as exc:
        raise DemoError(f"cannot reach the Salesforce emulator at {salesforce_url}: "
                        f"{exc or type(exc).__name__}") from None
    if health.status_code != 200:
        raise DemoError(f"{salesforce_url} does not answer as sfemu does "
                        f"(GET /__sfemu__/health: HTTP {health.status_code})")


async def _connect(sessions: sessionmaker[Session], vault: Vault, settings: Settings,
                   actor: Actor, salesforce_url: str) -> None:
    """The admin connected through the emulator's login page (once), the real-time package
    installed with a new workspace token, and a first sync queued."""
    with sessions() as db:
        connected = connection.get_connection(db, actor.membership_id)
        url = None if connected else connection.start_connect(db, vault, settings, actor,
                                                               sandbox=False)
        db.commit()
    if url is not None:
        page = await _log_in(url)
        if "Salesforce connected" not in page:
            raise DemoError(f"connecting to the emulator at {salesforce_url} failed: its "
                            "login did not lead back to Tether")
    with sessions() as db:
        token = ws.create_realtime_token(db, actor)
        sync_service.enqueue_sync(db, actor.workspace_id, "interval")  # audits first
        db.commit()
    async with httpx.AsyncClient(timeout=30) as http:
        installed = await http.post(f"{salesforce_url}/__sfemu__/orgs/acme/package", json={
            "webhook_url": f"{settings.base_url}/webhooks/salesforce/{actor.workspace_id}",
            "token": token})
    if installed.status_code >= 400:
        raise DemoError(f"installing the real-time package in {salesforce_url} failed "
                        f"(HTTP {installed.status_code}): does it have the org acme?")

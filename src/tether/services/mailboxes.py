"""Mailboxes (CONTRACTS: PUT|GET|DELETE /api/v1/mailbox): a member's SMTP submission and
IMAP servers, checked by logging in to both before anything is saved, their password or
OAuth2 access token encrypted at rest and never answered."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from tether.domain.events import is_email
from tether.mail import MailCheckError, imap, smtp
from tether.security import Vault
from tether.services import inbound
from tether.services.errors import Invalid, NotFound
from tether.services.records import Deps
from tether.services.workspaces import Actor
from tether.store.models import Mailbox, iso, utcnow

Security = Literal["starttls", "tls", "none"]
Auth = Literal["password", "xoauth2"]
DEFAULT_DAILY_CAP, DEFAULT_PER_MINUTE = 500, 20


@dataclass(frozen=True)
class ServerIn:
    host: str
    port: int
    security: Security
    username: str
    password: str | None  # the password, or the OAuth2 access token; None: keep the saved one
    auth: Auth = "password"

    def settings(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "security": self.security,
                "username": self.username, "auth": self.auth}


@dataclass(frozen=True)
class MailboxIn:
    address: str
    smtp: ServerIn
    imap: ServerIn
    sent_folder: str = "Sent"
    provider_saves_sent: bool = False
    display_name: str = ""
    daily_cap: int = DEFAULT_DAILY_CAP
    per_minute: int = DEFAULT_PER_MINUTE
    salesforce_bcc: str | None = None


def mailbox_of(db: Session, actor: Actor) -> Mailbox | None:
    return db.scalar(select(Mailbox).where(Mailbox.workspace_id == actor.workspace_id,
                                           Mailbox.membership_id == actor.membership_id))


def mailbox_json(row: Mailbox) -> dict[str, Any]:
    """What GET answers: everything but the secrets."""
    return {"address": row.address, "display_name": row.display_name,
            "smtp": dict(row.smtp), "imap": dict(row.imap), "sent_folder": row.sent_folder,
            "provider_saves_sent": row.provider_saves_sent, "daily_cap": row.daily_cap,
            "per_minute": row.per_minute, "salesforce_bcc": row.salesforce_bcc,
            "checked_at": iso(row.checked_at), "updated_at": iso(row.updated_at)}


def get(db: Session, actor: Actor) -> dict[str, Any]:
    row = mailbox_of(db, actor)
    if row is None:
        raise NotFound("no mailbox is connected: PUT /api/v1/mailbox, or the Mailbox page")
    return {**mailbox_json(row), "watch": inbound.watch_status(db, row.id)}


def delete(db: Session, actor: Actor) -> None:
    row = mailbox_of(db, actor)
    if row is None:
        raise NotFound("no mailbox is connected")
    db.delete(row)


def endpoint(settings: dict[str, Any], secret: str, timeout: float,
             ca_file: str | None) -> smtp.Server:
    return smtp.Server(host=str(settings["host"]), port=int(settings["port"]),
                       security=settings["security"], username=str(settings["username"]),
                       secret=secret, auth=settings.get("auth", "password"), timeout=timeout,
                       ca_file=ca_file)


def servers(vault: Vault, row: Mailbox, timeout: float, ca_file: str | None
            ) -> tuple[smtp.Server, imap.Server]:
    """The mailbox's SMTP and IMAP servers, secrets decrypted, for one use."""
    out = endpoint(row.smtp, vault.decrypt(row.smtp_secret), timeout, ca_file)
    inbox = endpoint(row.imap, vault.decrypt(row.imap_secret), timeout, ca_file)
    return out, imap.Server(**vars(inbox))


def _check_fields(data: MailboxIn) -> None:
    if not is_email(data.address):
        raise Invalid(f"'{data.address}' is not an email address", "address")
    if data.salesforce_bcc and not is_email(data.salesforce_bcc):
        raise Invalid(f"'{data.salesforce_bcc}' is not an email address", "salesforce_bcc")
    for name, server in (("smtp", data.smtp), ("imap", data.imap)):
        if not server.host.strip() or any(c.isspace() for c in server.host.strip()):
            raise Invalid(f"{name}.host: a host name such as smtp.example.com", f"{name}.host")
        if not 0 < server.port < 65536:
            raise Invalid(f"{name}.port: from 1 to 65535", f"{name}.port")
    if not data.sent_folder.strip():
        raise Invalid("sent_folder: the folder where sent mail is kept, such as Sent",
                      "sent_folder")


def _secret(name: str, server: ServerIn, saved: Mailbox | None, vault: Vault) -> str:
    """The secret given, or the saved one when the server is unchanged (a form that leaves
    the password empty keeps it)."""
    if server.password:
        return server.password
    if saved is not None:
        before = getattr(saved, name)
        if before.get("host") == server.host and before.get("username") == server.username:
            return vault.decrypt(getattr(saved, f"{name}_secret"))
    raise Invalid(f"{name}.password: the password (or, with auth xoauth2, the access token)",
                  f"{name}.password")


async def save(deps: Deps, actor: Actor, data: MailboxIn) -> dict[str, Any]:
    """Log in to both servers, then store: 422 names which failed and why (name resolution,
    connection, TLS, authentication, the Sent folder), and nothing is saved."""
    _check_fields(data)
    with deps.sessions() as db:
        saved = mailbox_of(db, actor)
        smtp_secret = _secret("smtp", data.smtp, saved, deps.vault)
        imap_secret = _secret("imap", data.imap, saved, deps.vault)
    timeout, ca = deps.settings.smtp_timeout, deps.settings.mail_tls_verify
    out = endpoint(data.smtp.settings(), smtp_secret, timeout, ca)
    inbox = imap.Server(**vars(endpoint(data.imap.settings(), imap_secret, timeout, ca)))
    results = await asyncio.gather(smtp.check_login(out),
                                   imap.acheck_login(inbox, data.sent_folder.strip()),
                                   return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, MailCheckError):
            raise result
    failures = [(name, exc) for name, exc in zip(("smtp", "imap"), results, strict=True)
                if isinstance(exc, MailCheckError)]
    if failures:
        words = "; ".join(str(exc) for _, exc in failures)
        raise Invalid(words, failures[0][0], extra={"failed": [
            {"service": name, "stage": exc.stage, "detail": exc.detail}
            for name, exc in failures]})
    now = utcnow()
    with deps.sessions() as db:
        row = mailbox_of(db, actor)
        if row is None:
            row = Mailbox(workspace_id=actor.workspace_id, membership_id=actor.membership_id,
                          created_at=now)
            db.add(row)
        row.address = data.address.strip().lower()
        row.display_name = data.display_name.strip()
        row.smtp, row.imap = data.smtp.settings(), data.imap.settings()
        row.smtp_secret = deps.vault.encrypt(smtp_secret)
        row.imap_secret = deps.vault.encrypt(imap_secret)
        row.sent_folder = data.sent_folder.strip()
        row.provider_saves_sent = data.provider_saves_sent
        row.daily_cap, row.per_minute = data.daily_cap, data.per_minute
        row.salesforce_bcc = data.salesforce_bcc.strip().lower() if data.salesforce_bcc \
            else None
        row.checked_at = row.updated_at = now
        db.commit()
        return mailbox_json(row)

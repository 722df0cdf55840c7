"""What the email tests share: a connected workspace (activity_env) whose admin's mailbox is
on a real local mail server (aiosmtpd for SMTP, Dovecot or pymap for IMAP)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx

from tests.e2e.activity_env import Env
from tether.mail.local_server import LocalMailServer

PASSWORD = "mail-secret-1"


@dataclass
class Mail:
    env: Env
    server: LocalMailServer
    address: str

    def request(self, method: str, path: str, key: str | None = None,
                **kw: Any) -> httpx.Response:
        with self.env.tether.client(key or self.env.key) as c:
            return c.request(method, path, **kw)

    def send(self, key: str | None = None, **body: Any) -> dict[str, Any]:
        body.setdefault("to", ["jane@globex.example"])
        body.setdefault("subject", "Intro")
        body.setdefault("body_html", "<p>Hello Jane</p>")
        r = self.request("POST", "/api/v1/messages", key, json=body)
        assert r.status_code == 202, r.text
        return dict(r.json())

    def message(self, message_pk: str, key: str | None = None) -> dict[str, Any]:
        r = self.request("GET", f"/api/v1/messages/{message_pk}", key)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def wait(self, message_pk: str, status: str = "sent", timeout: float = 30.0,
             key: str | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.message(message_pk, key)
            if found["status"] == status:
                return found
            assert found["status"] not in ("failed", "cancelled") or status in (
                "failed", "cancelled"), found
            assert time.monotonic() < deadline, f"still {found['status']}: {found}"
            time.sleep(0.1)

    def inbox(self, address: str) -> list[EmailMessage]:
        return self.server.messages(address)

    def sent_folder(self) -> list[EmailMessage]:
        return self.server.messages(self.address, "Sent")


def mailbox_body(server: LocalMailServer, address: str, password: str = PASSWORD,
                 **extra: Any) -> dict[str, Any]:
    def endpoint(port: int) -> dict[str, Any]:
        return {"host": server.host, "port": port, "security": "none", "username": address,
                "password": password}
    return {"address": address, "smtp": endpoint(server.smtp_port),
            "imap": endpoint(server.imap_port), "sent_folder": "Sent",
            "daily_cap": 100_000, "per_minute": 10_000, **extra}


def connect_mailbox(env: Env, server: LocalMailServer, address: str | None = None, *,
                    key: str | None = None, saves_sent: bool = False, **extra: Any) -> Mail:
    """The user's mailbox on the local server, saved through the API (which logs in)."""
    address = address or env.org["admin"]
    server.add_user(address, PASSWORD, saves_sent=saves_sent)
    with env.tether.client(key or env.key) as c:
        r = c.put("/api/v1/mailbox", json=mailbox_body(
            server, address, provider_saves_sent=saves_sent, **extra))
    assert r.status_code == 200, r.text
    return Mail(env, server, address)


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]

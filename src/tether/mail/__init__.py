"""Mail adapters: MIME building and parsing, SMTP submission, IMAP append and search, and a
local mail server for the demo and the tests.

What SMTP and IMAP share lives here: where a mailbox's server is (`Endpoint`), and one
classification of what went wrong when connecting and logging in (`MailCheckError`), so that a
person setting up a mailbox reads the same words for the same trouble on either protocol.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Literal

from tether.net import network_failure

Security = Literal["starttls", "tls", "none"]
Auth = Literal["password", "xoauth2"]
Stage = Literal["name resolution", "connection", "TLS", "authentication", "timeout", "folder"]


@dataclass(frozen=True)
class Endpoint:
    """A mail server and the login to it; `secret` is a password or an OAuth2 access token.
    TLS is verified against the system's CAs, or against `ca_file` when given."""

    host: str
    port: int
    security: Security
    username: str
    secret: str
    auth: Auth = "password"
    timeout: float = 30.0
    ca_file: str | None = None

    def __repr__(self) -> str:
        # The secret stays out of logs and tracebacks.
        return (f"{type(self).__name__}(host={self.host!r}, port={self.port}, "
                f"security={self.security!r}, username={self.username!r}, auth={self.auth!r})")


class MailCheckError(Exception):
    """A mailbox's server could not be used, at one stage, said in words a person reads."""

    def __init__(self, service: str, stage: Stage, detail: str) -> None:
        super().__init__(f"{service} {stage} failed: {detail}")
        self.service = service
        self.stage: Stage = stage
        self.detail = detail


def tls_context(endpoint: Endpoint) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=endpoint.ca_file)


def classify(service: str, endpoint: Endpoint, exc: BaseException) -> MailCheckError | None:
    """The network-level stage at which `exc` (or what caused it) failed, or None when it is
    not a network failure (net.network_failure)."""
    found = network_failure(exc, endpoint.host, f"{endpoint.host}:{endpoint.port}",
                            endpoint.timeout)
    return MailCheckError(service, *found) if found is not None else None

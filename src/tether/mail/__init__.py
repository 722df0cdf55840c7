"""Mail adapters: MIME building and parsing, SMTP submission, IMAP append and search, and a
local mail server for the demo and the tests.

What SMTP and IMAP share lives here: where a mailbox's server is (`Endpoint`), and one
classification of what went wrong when connecting and logging in (`MailCheckError`), so that a
person setting up a mailbox reads the same words for the same trouble on either protocol.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

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


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def classify(service: str, endpoint: Endpoint, exc: BaseException) -> MailCheckError | None:
    """The network-level stage at which `exc` (or what caused it) failed, or None when it is
    not a network failure.  Libraries wrap the socket's error in their own, so the whole chain
    is searched, most specific cause first."""
    where = f"{endpoint.host}:{endpoint.port}"
    chain = list(_chain(exc))
    for e in chain:
        if isinstance(e, socket.gaierror):
            return MailCheckError(service, "name resolution",
                                  f"{endpoint.host} could not be found ({e.strerror})")
    for e in chain:
        if isinstance(e, ssl.SSLCertVerificationError):
            return MailCheckError(service, "TLS", f"the certificate of {where} is not trusted "
                                  f"({e.verify_message})")
        if isinstance(e, ssl.SSLError):
            return MailCheckError(service, "TLS", f"no TLS session with {where} "
                                  f"({e.reason or e.strerror or e})")
    for e in chain:
        if isinstance(e, TimeoutError):
            return MailCheckError(service, "timeout",
                                  f"{where} did not answer within {endpoint.timeout:g} s")
    for e in chain:
        if isinstance(e, ConnectionRefusedError):
            return MailCheckError(service, "connection", f"nothing is listening at {where}")
        if isinstance(e, OSError):
            reason = e.strerror or str(e) or type(e).__name__
            return MailCheckError(service, "connection", f"{where}: {reason}")
    return None

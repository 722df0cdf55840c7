"""Listening sockets for uvicorn, and a network failure said in words (the stage at which a
connection to a mail or calendar server failed)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from typing import Literal

NetStage = Literal["name resolution", "TLS", "timeout", "connection"]


def listen(host: str, port: int) -> socket.socket:
    """A listening socket; accepted connections inherit TCP_NODELAY, without which a response
    written in two parts waits ~40 ms for a delayed ACK.  It listens at once, so connections
    made as soon as "listening on" is printed wait in the backlog instead of being refused
    while the app starts."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, then what caused it, and so on (each once)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def network_failure(exc: BaseException, host: str, where: str, timeout: float, *,
                    timeouts: tuple[type[BaseException], ...] = (TimeoutError,)
                    ) -> tuple[NetStage, str] | None:
    """The network-level stage at which `exc` (or what caused it) failed, with why, or None
    when it is not a network failure.  Libraries wrap the socket's error in their own, so the
    whole chain is searched, most specific cause first."""
    chain = list(causes(exc))
    for e in chain:
        if isinstance(e, socket.gaierror):
            return "name resolution", f"{host} could not be found ({e.strerror})"
    for e in chain:
        if isinstance(e, ssl.SSLCertVerificationError):
            return "TLS", f"the certificate of {where} is not trusted ({e.verify_message})"
        if isinstance(e, ssl.SSLError):
            return "TLS", f"no TLS session with {where} ({e.reason or e.strerror or e})"
    for e in chain:
        if isinstance(e, timeouts):
            return "timeout", f"{where} did not answer within {timeout:g} s"
    for e in chain:
        if isinstance(e, ConnectionRefusedError):
            return "connection", f"nothing is listening at {where}"
        if isinstance(e, OSError):
            return "connection", f"{where}: {e.strerror or str(e) or type(e).__name__}"
    return None

"""SMTP submission over aiosmtplib: checking a mailbox's login, and delivering one message to
one recipient per transaction with an outcome that says whether a retry is safe.

The DATA step is driven by hand (the DATA command, then the message written and its reply
read) because what matters is *where* a failure happens: before the final "." is written the
message cannot have been delivered, so a retry is safe ("transient"); after it, the server may
have taken it ("unknown").
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

import aiosmtplib
from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings

from tether.mail import Auth, Endpoint, MailCheckError, Security, classify, tls_context

__all__ = ["Auth", "MailCheckError", "Outcome", "Security", "Server", "Session", "check_login"]

SERVICE = "SMTP"


@dataclass(frozen=True, repr=False)
class Server(Endpoint):
    pass


@dataclass(frozen=True)
class Outcome:
    status: Literal["accepted", "refused", "transient", "unknown"]
    reply: str  # the server's reply, or what happened to the connection


def _reply(code: int, message: str) -> str:
    return " ".join(f"{code} {message}".split())


def _check_error(server: Server, exc: BaseException) -> MailCheckError:
    if isinstance(exc, MailCheckError):
        return exc
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return MailCheckError(SERVICE, "authentication", _reply(exc.code, exc.message))
    network = classify(SERVICE, server, exc)
    if network is not None:
        return network
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return MailCheckError(SERVICE, "connection", _reply(exc.code, exc.message))
    return MailCheckError(SERVICE, "connection", str(exc) or type(exc).__name__)


async def _login(server: Server) -> aiosmtplib.SMTP:
    client = aiosmtplib.SMTP(hostname=server.host, port=server.port,
                             use_tls=server.security == "tls", start_tls=False,
                             timeout=server.timeout, tls_context=tls_context(server))
    try:
        await client.connect()
        await client.ehlo()
        if server.security == "starttls":
            if not client.supports_extension("starttls"):
                raise MailCheckError(SERVICE, "TLS", f"{server.host}:{server.port} does not "
                                     "offer STARTTLS")
            await client.starttls()
            await client.ehlo()
        if server.auth == "xoauth2":
            if "xoauth2" not in client.server_auth_methods:
                raise MailCheckError(SERVICE, "authentication", "the server does not offer "
                                     "XOAUTH2")
            await client.auth_xoauth2(server.username, server.secret)
        else:
            if not client.supports_extension("auth"):
                raise MailCheckError(SERVICE, "authentication", "the server offers no login "
                                     "(no AUTH after EHLO)")
            await client.login(server.username, server.secret)
    except BaseException as exc:
        client.close()
        if isinstance(exc, asyncio.CancelledError):
            raise
        raise _check_error(server, exc) from exc
    return client


async def check_login(server: Server) -> None:
    """Connect, secure the connection as configured, EHLO and log in; MailCheckError says at
    which stage that failed."""
    client = await _login(server)
    try:
        await client.quit()
    except aiosmtplib.SMTPException:
        client.close()


def _refusal(code: int, message: str) -> Outcome:
    return Outcome("refused" if 500 <= code < 600 else "transient", _reply(code, message))


class Session:
    """One authenticated connection kept for several deliveries (`async with
    Session(server) as s`); after a failure the next delivery connects again."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self._client: aiosmtplib.SMTP | None = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            await client.quit(timeout=min(self.server.timeout, 5.0))
        except (aiosmtplib.SMTPException, OSError):
            client.close()

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def deliver(self, sender: str, recipient: str, message: bytes) -> Outcome:
        """One transaction: MAIL FROM, RCPT TO (this one recipient), DATA.  Never raises for
        what the server answers or for the connection."""
        async with self._lock:
            reused = self._client is not None and self._client.is_connected
            outcome = await self._attempt(sender, recipient, message)
            if reused and outcome.status == "transient" and self._client is None \
                    and outcome.reply.startswith("connection"):
                # A kept connection the server closed while idle: one fresh try.
                outcome = await self._attempt(sender, recipient, message)
            return outcome

    async def _attempt(self, sender: str, recipient: str, message: bytes) -> Outcome:
        if self._client is None or not self._client.is_connected:
            self._drop()
            try:
                self._client = await _login(self.server)
            except MailCheckError as exc:
                status: Literal["refused", "transient"] = (
                    "refused" if exc.stage == "authentication" else "transient")
                return Outcome(status, str(exc))
        client = self._client
        try:
            await client.mail(sender)
            await client.rcpt(recipient)
            start = await client.execute_command(b"DATA")
            if start.code != 354:
                await self._reset(start.code)
                return _refusal(start.code, start.message)
        except aiosmtplib.SMTPResponseException as exc:
            await self._reset(exc.code)
            return _refusal(exc.code, exc.message)
        except (aiosmtplib.SMTPException, OSError) as exc:
            self._drop()
            return Outcome("transient", f"connection failed before the message was sent: "
                           f"{_describe(self.server, exc)}")
        return await self._send_data(client, message)

    async def _send_data(self, client: aiosmtplib.SMTP, message: bytes) -> Outcome:
        payload = PERIOD_REGEX.sub(b"..", normalize_message_line_endings(message)) + b".\r\n"
        protocol = client.protocol
        if protocol is None:
            self._drop()
            return Outcome("transient", "connection dropped before the message was sent")
        try:
            protocol.write(payload)
        except (aiosmtplib.SMTPException, OSError) as exc:
            self._drop()
            return Outcome("unknown", f"connection failed while the message was being sent: "
                           f"{_describe(self.server, exc)}")
        try:
            reply = await protocol.read_response(timeout=self.server.timeout)
        except aiosmtplib.SMTPTimeoutError:
            self._drop()
            return Outcome("unknown", f"no reply within {self.server.timeout:g} s after the "
                           "message was sent")
        except (aiosmtplib.SMTPException, OSError):
            self._drop()
            return Outcome("unknown", "connection dropped after the message was sent")
        if reply.code == 250:
            return Outcome("accepted", _reply(reply.code, reply.message))
        await self._reset(reply.code)
        return _refusal(reply.code, reply.message)

    async def _reset(self, code: int) -> None:
        """After a refused transaction: RSET keeps the connection for the next one, except
        after 421, with which the server closes it."""
        if code == 421 or self._client is None:
            self._drop()
            return
        try:
            await self._client.rset()
        except (aiosmtplib.SMTPException, OSError):
            self._drop()


def _describe(server: Server, exc: BaseException) -> str:
    network = classify(SERVICE, server, exc)
    return network.detail if network is not None else (str(exc) or type(exc).__name__)

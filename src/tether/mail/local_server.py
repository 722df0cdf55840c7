"""A real mail server on this machine, for `tether demo` and the tests: SMTP submission
(aiosmtpd, AUTH PLAIN, LOGIN and XOAUTH2) delivering into Maildirs, and IMAP over the same
Maildirs, served by Dovecot when it is installed or by pymap (pure Python) otherwise.

Maildirs live at root/<address>/Maildir in the Maildir++ layout (subfolders as .Name) that
both Dovecot and pymap read.  Every address mail is sent to gets a Maildir, user or not, so a
test can read what any recipient received.  Faults can be injected into SMTP to exercise a
sender's handling of refusals, temporary failures, dropped connections and slow replies.

Dovecot runs unprivileged from a generated configuration.  Its mail processes refuse to run as
root, so when we are root the Maildir tree is handed to the `mail` user (and the directories
above it get search permission for others): that is Dovecot's own rule, not a choice here.
The "auto" backend therefore picks pymap as root when a directory above the Maildirs is closed
to others (`tether demo`'s private data directory), rather than opening it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import email.message
import grp
import itertools
import logging
import math
import os
import pwd
import random
import re
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import tempfile
import threading
import time
import warnings
from argparse import Namespace
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword
from aiosmtpd.smtp import Session as SMTPSession
from proxyprotocol.reader import ProxyProtocolReader
from pymap.backend.maildir import Config as MaildirConfig
from pymap.backend.maildir import Identity as MaildirIdentity
from pymap.backend.maildir import Login as MaildirLogin
from pymap.exceptions import InvalidAuth
from pymap.imap import IMAPServer
from pysasl import SASLAuth
from pysasl.creds.external import ExternalCredentials, ExternalVerificationRequired
from pysasl.creds.server import ServerCredentials
from pysasl.identity import ClearIdentity
from pysasl.mechanism.login import LoginMechanism
from pysasl.mechanism.oauth import OAuth2Mechanism
from pysasl.mechanism.plain import PlainMechanism

from sfemu.tls import ensure_certificates
from tether.mail import mime
from tether.net import listen

__all__ = ["Faults", "LocalMailServer", "dovecot_binary"]

_T = TypeVar("_T")
_XOAUTH2 = re.compile(rb"^user=(.*?)\x01auth=[Bb]earer (.*?)\x01\x01$")
_names = itertools.count(1)


class _QuietAiosmtpd(logging.Filter):
    """Drops two aiosmtpd warnings that say nothing here: AUTH without TLS is this local
    server's plain mode, and aiosmtpd's own AUTH sets its deprecated Session.login_data."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("auth_required == True but auth_require_tls")
                    or message.startswith("Session.login_data is deprecated"))


logging.getLogger("mail.log").addFilter(_QuietAiosmtpd())


def dovecot_binary() -> str | None:
    found = shutil.which("dovecot")
    if found:
        return found
    return "/usr/sbin/dovecot" if os.access("/usr/sbin/dovecot", os.X_OK) else None


@dataclass
class Faults:
    """What the SMTP server does wrong, on purpose; all off by default.  Rates are chances
    per transaction, drawn from a seeded generator so a run can be repeated."""

    temp_fail_rate: float = 0.0  # 421 at MAIL FROM, then the connection closes
    data_fail_rate: float = 0.0  # 451 after DATA, nothing stored
    refuse: dict[str, str] = field(default_factory=dict)  # address -> "550 5.1.1 ..." at RCPT
    drop_after_data_rate: float = 0.0  # stored and delivered, then closed without a reply
    delay_seconds: float = 0.0  # before answering DATA (after storing)
    seed: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def roll(self, rate: float) -> bool:
        return rate > 0 and self._rng.random() < rate

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1


@dataclass
class _User:
    password: str
    saves_sent: bool


class _Loop:
    """An event loop in a thread of its own, so the servers run under sync callers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="local-mail",
                                        daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, _T], timeout: float = 30.0) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.run(cancel_all())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class _SMTP(SMTP):
    """aiosmtpd's SMTP, able to close the connection after a reply or instead of one."""

    after_reply: Literal["close", "drop"] | None = None

    async def push(self, status: Any) -> None:
        if self.after_reply == "drop" and self.transport is not None:
            self.after_reply = None
            self.transport.abort()  # type: ignore[attr-defined]
            return
        await super().push(status)
        if self.after_reply == "close" and self.transport is not None:
            self.after_reply = None
            self.transport.close()


class _Handler:
    def __init__(self, mail: LocalMailServer) -> None:
        self.mail = mail

    def authenticate(self, server: SMTP, session: SMTPSession, envelope: Envelope,
                     mechanism: str, auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        ok = self.mail.check_password(auth_data.login.decode("utf-8", "replace"),
                                      auth_data.password.decode("utf-8", "replace"))
        # handled=False: aiosmtpd then answers a failure with 535 itself.
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        if len(args) == 1:
            answer = await server.challenge_auth("")
            if not isinstance(answer, bytes):
                return AuthResult(success=False, handled=True)
            blob = answer
        else:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except binascii.Error:
                return AuthResult(success=False, handled=False)
        match = _XOAUTH2.match(blob)
        if match is None:
            return AuthResult(success=False, handled=False)
        user, token = match.groups()
        assert server.session is not None and server.envelope is not None
        return self.authenticate(server, server.session, server.envelope, "XOAUTH2",
                                 LoginPassword(user, token))

    async def handle_MAIL(self, server: _SMTP, session: SMTPSession,
                          envelope: Envelope, address: str, mail_options: list[str]) -> str:
        faults = self.mail.faults
        if faults.roll(faults.temp_fail_rate):
            faults.count("temp_fail")
            server.after_reply = "close"
            return "421 4.3.2 Service not available, closing transmission channel"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server: _SMTP, session: SMTPSession,
                          envelope: Envelope, address: str, rcpt_options: list[str]) -> str:
        refusal = {k.lower(): v for k, v in self.mail.faults.refuse.items()}.get(address.lower())
        if refusal is not None:
            self.mail.faults.count("refused")
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: _SMTP, session: SMTPSession,
                          envelope: Envelope) -> str:
        faults = self.mail.faults
        if faults.roll(faults.data_fail_rate):
            faults.count("data_fail")
            return "451 4.3.0 Temporary failure, message not accepted"
        raw = envelope.original_content or b""
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else b""
        self.mail.store_submission(login.decode("utf-8", "replace"), envelope.rcpt_tos, raw)
        faults.count("accepted")
        if faults.roll(faults.drop_after_data_rate):
            faults.count("dropped")
            server.after_reply = "drop"
        elif faults.delay_seconds > 0:
            faults.count("delayed")
            await asyncio.sleep(faults.delay_seconds)
        return "250 2.0.0 OK: queued"


class _PymapConfig(MaildirConfig):
    @property
    def tls_auth(self) -> SASLAuth:
        return SASLAuth([PlainMechanism(), LoginMechanism(), OAuth2Mechanism()])


class _PymapLogin(MaildirLogin):
    """Passwords (and the same strings as XOAUTH2 bearer tokens) from LocalMailServer."""

    def __init__(self, config: MaildirConfig, mail: LocalMailServer) -> None:
        super().__init__(config)
        self.mail = mail

    async def authenticate(self, credentials: ServerCredentials) -> MaildirIdentity:
        if isinstance(credentials, ExternalCredentials):
            name = credentials.authzid
            try:
                credentials.verify(None)
                token = None
            except ExternalVerificationRequired as exc:
                token = exc.token
            ok = token is not None and self.mail.check_password(name, token)
        else:
            name = credentials.authcid
            password = self.mail.password(name)
            ok = password is not None and credentials.verify(ClearIdentity(name, password))
        if not ok:
            raise InvalidAuth()
        return MaildirIdentity(self.config, self.tokens, name.lower(), None, frozenset())


@dataclass
class LocalMailServer:
    root: Path
    host: str = "127.0.0.1"
    imap_backend: Literal["auto", "dovecot", "pymap"] = "auto"
    tls: bool = False
    faults: Faults = field(default_factory=Faults)
    smtp_port: int = field(init=False, default=0)
    imap_port: int = field(init=False, default=0)
    ca_file: str | None = field(init=False, default=None)
    backend: Literal["dovecot", "pymap"] | None = field(init=False, default=None)
    _users: dict[str, _User] = field(init=False, repr=False, default_factory=dict)
    _loop: _Loop | None = field(init=False, repr=False, default=None)
    _state: Path | None = field(init=False, repr=False, default=None)
    _cert: tuple[Path, Path] | None = field(init=False, repr=False, default=None)
    _owner: tuple[int, int] | None = field(init=False, repr=False, default=None)
    _smtp: asyncio.Server | None = field(init=False, repr=False, default=None)
    _pymap: asyncio.Server | None = field(init=False, repr=False, default=None)
    _pymap_writers: set[asyncio.StreamWriter] = field(init=False, repr=False,
                                                      default_factory=set)
    _dovecot: subprocess.Popen[bytes] | None = field(init=False, repr=False, default=None)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> LocalMailServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        if self._loop is not None:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        self.backend = self._resolve_backend()
        self._state = Path(tempfile.mkdtemp(prefix="tether-mail-"))
        if self.tls:
            self._cert = ensure_certificates(self._state / "certs", [self.host, "127.0.0.1",
                                                                     "localhost"])
            self.ca_file = str(self._state / "certs" / "ca.pem")
        if self.backend == "dovecot" and os.geteuid() == 0:
            self._hand_tree_to_mail_user()
        for address in self._users:
            self._folder(address, "INBOX")
        self._loop = _Loop()
        try:
            self.smtp_port = self._loop.run(self._start_smtp())
            self.start_imap()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self.stop_imap()
        if self._loop is not None:
            if self._smtp is not None:
                self._smtp.close()
                self._smtp = None
            self._loop.close()
            self._loop = None
        if self._state is not None:
            shutil.rmtree(self._state, ignore_errors=True)
            self._state = None

    def start_imap(self) -> None:
        """(Re)start IMAP, on the port it had before if it ran already."""
        if self.backend == "dovecot":
            if self._dovecot is None:
                self._start_dovecot()
        elif self._pymap is None:
            assert self._loop is not None
            self._pymap = self._loop.run(self._start_pymap())
            self.imap_port = self._pymap.sockets[0].getsockname()[1]

    def stop_imap(self) -> None:
        """Stop IMAP and drop its connections (the Maildirs stay)."""
        if self._dovecot is not None:
            process, self._dovecot = self._dovecot, None
            # The whole group at once: Dovecot's master alone takes a second to wind its
            # children down.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._pymap is not None and self._loop is not None:
            self._loop.run(self._stop_pymap())

    def imap_log(self) -> str:
        """The end of Dovecot's log (pymap logs through `logging`), for a failing test."""
        log = self._state / "dovecot.log" if self._state else None
        return log.read_text(errors="replace")[-4000:] if log and log.exists() else ""

    def _resolve_backend(self) -> Literal["dovecot", "pymap"]:
        if self.imap_backend == "auto":
            # As root, Dovecot would need search permission opened on the directories above
            # the Maildirs (a private data directory among them); pymap needs nothing.
            usable = dovecot_binary() and (os.geteuid() != 0 or not self._closed_parents())
            return "dovecot" if usable else "pymap"
        if self.imap_backend == "dovecot" and not dovecot_binary():
            raise RuntimeError("Dovecot is not installed (no dovecot on PATH or in /usr/sbin)")
        return self.imap_backend

    # -- users and Maildirs ----------------------------------------------------------------

    def add_user(self, address: str, password: str, *, saves_sent: bool = False) -> None:
        """A mailbox with INBOX and Sent; the password is also accepted as an XOAUTH2 bearer
        token.  With saves_sent, SMTP files a copy of what this user submits into their Sent
        folder, as Gmail does."""
        if re.search(r"[:\s]", address + password):
            raise ValueError("addresses and passwords here cannot hold ':' or white space")
        with self._lock:
            self._users[address.lower()] = _User(password, saves_sent)
        self._folder(address, "INBOX")
        self._folder(address, "Sent")
        if self._state is not None:
            self._write_passwords()
            if self._dovecot is not None:
                # Dovecot looks at its passwd-file at most once a second (it compares the
                # file's stamp only when its clock's second has moved on): a login in the
                # second of the write could miss the user.  Past that second, it cannot.
                written = time.time()
                time.sleep(math.floor(written) + 1.02 - written)

    def password(self, address: str) -> str | None:
        user = self._users.get(address.lower())
        return user.password if user else None

    def check_password(self, address: str, secret: str) -> bool:
        return self.password(address) == secret

    def maildir(self, address: str, folder: str = "INBOX") -> Path:
        base = self.root / address.lower() / "Maildir"
        return base if folder.upper() == "INBOX" else base / f".{folder}"

    def messages(self, address: str, folder: str = "INBOX") -> list[email.message.EmailMessage]:
        """What the folder holds, read straight from its Maildir, oldest first."""
        path = self.maildir(address, folder)
        for _ in range(5):
            files = sorted((p for sub in ("new", "cur") if (path / sub).is_dir()
                            for p in (path / sub).iterdir() if p.is_file()),
                           key=lambda p: p.name)
            try:
                return [mime.parse(p.read_bytes()) for p in files]
            except FileNotFoundError:
                continue  # IMAP moved one from new/ to cur/ meanwhile: read again
        raise RuntimeError(f"{path} kept changing while being read")

    def store_submission(self, login: str, recipients: list[str], raw: bytes) -> None:
        for recipient in recipients:
            self.store(recipient, "INBOX", raw, seen=False)
        user = self._users.get(login.lower())
        if user is not None and user.saves_sent:
            self.store(login, "Sent", raw, seen=True)

    def store(self, address: str, folder: str, raw: bytes, *, seen: bool) -> None:
        """Into the folder atomically: written to tmp/, then renamed into new/ (or cur/)."""
        path = self._folder(address, folder)
        now = time.time()
        name = f"{int(now)}.M{int(now * 1e6) % 1_000_000}P{os.getpid()}Q{next(_names)}.tether"
        tmp = path / "tmp" / name
        # As received, CRLF (Dovecot reads either ending).
        tmp.write_bytes(raw)
        self._own(tmp)
        os.rename(tmp, path / "cur" / f"{name}:2,S" if seen else path / "new" / name)

    def _folder(self, address: str, folder: str) -> Path:
        path = self.maildir(address, folder)
        for directory in (path.parent.parent, path.parent, path, path / "cur", path / "new",
                          path / "tmp"):
            if not directory.is_dir():
                directory.mkdir(parents=True, exist_ok=True)
                self._own(directory)
        if path.name.startswith(".") and not (path / "maildirfolder").exists():
            (path / "maildirfolder").touch()
            self._own(path / "maildirfolder")
        return path

    def _own(self, path: Path) -> None:
        if self._owner is not None:
            os.chown(path, *self._owner)

    def _closed_parents(self) -> list[Path]:
        return [parent for parent in self.root.resolve().parents
                if not parent.stat().st_mode & stat.S_IXOTH]

    def _hand_tree_to_mail_user(self) -> None:
        entry = _system_user("mail", "nobody")
        self._owner = (entry.pw_uid, entry.pw_gid)
        for parent in self._closed_parents():
            parent.chmod(parent.stat().st_mode | stat.S_IXOTH)
        self._own(self.root)
        for dirpath, dirnames, filenames in os.walk(self.root):
            for name in dirnames + filenames:
                self._own(Path(dirpath) / name)

    def _write_passwords(self) -> None:
        assert self._state is not None
        with self._lock:
            users = dict(self._users)
        if self.backend == "dovecot":
            lines = "".join(f"{a}:{{PLAIN}}{u.password}::::::\n" for a, u in users.items())
            _write_private(self._state / "passwd", lines, _dovecot_users()[1])
        else:
            lines = "".join(f"{a}:x::::{self.maildir(a)}:\n" for a in users)
            _write_private(self._state / "pymap-etc-passwd", lines, None)

    # -- servers ---------------------------------------------------------------------------

    def _server_tls(self) -> ssl.SSLContext | None:
        if self._cert is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*self._cert)
        return context

    async def _start_smtp(self) -> int:
        handler = _Handler(self)
        context = self._server_tls()

        def factory() -> _SMTP:
            with warnings.catch_warnings():
                # Its warning about AUTH without TLS: on this local server that is the point.
                warnings.simplefilter("ignore", UserWarning)
                return _SMTP(handler, hostname="localhost", ident="Tether local mail",
                             tls_context=context, auth_required=True,
                             auth_require_tls=context is not None,
                             authenticator=handler.authenticate)

        sock = listen(self.host, 0)
        self._smtp = await asyncio.get_running_loop().create_server(factory, sock=sock)
        port: int = sock.getsockname()[1]
        return port

    async def _start_pymap(self) -> asyncio.Server:
        assert self._state is not None
        self._write_passwords()
        context = self._server_tls()
        args = Namespace(passlib_cfg=None, proxy_protocol=None, debug=False,
                         inherited_sockets=None)
        config = _PymapConfig(args, base_dir=str(self._state), layout="++", colon=None,
                              host=self.host, port=self.imap_port, ssl_context=context,
                              tls_enabled=context is not None, reject_dnsbl=False,
                              invalid_user_sleep=0.0)
        # pymap finds its IO subsystem in a context variable, which the connection tasks
        # inherit from the task that starts the server: this one.
        config.apply_context()
        imap = ProxyProtocolReader(config.proxy_protocol).get_callback(
            IMAPServer(_PymapLogin(config, self), config))

        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._pymap_writers.add(writer)
            try:
                await imap(reader, writer)
            finally:
                self._pymap_writers.discard(writer)

        return await asyncio.start_server(tracked, sock=listen(self.host, self.imap_port))

    async def _stop_pymap(self) -> None:
        server, self._pymap = self._pymap, None
        if server is not None:
            server.close()
        for writer in list(self._pymap_writers):
            writer.close()

    def _start_dovecot(self) -> None:
        assert self._state is not None
        binary = dovecot_binary()
        assert binary is not None
        if not self.imap_port:
            self.imap_port = _free_port(self.host)
        run = self._state / "run"
        run.mkdir(exist_ok=True)
        for path in (self._state, run):
            path.chmod(0o755)  # Dovecot's login and auth processes reach their sockets here
        self._write_passwords()
        conf = self._state / "dovecot.conf"
        conf.write_text(self._dovecot_conf(run))
        log = self._state / "dovecot.log"
        with open(self._state / "dovecot.out", "wb") as out:
            self._dovecot = subprocess.Popen([binary, "-F", "-c", str(conf)],  # noqa: S603
                                             stdout=out, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL,
                                             start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._dovecot.poll() is not None:
                break
            if _imap_greets(self.host, self.imap_port):
                return
            time.sleep(0.05)
        self.stop_imap()
        logs = [p.read_text(errors="replace") for p in (self._state / "dovecot.out", log)
                if p.exists()]
        raise RuntimeError("Dovecot did not start:\n" + "\n".join(logs)[-3000:])

    def _dovecot_conf(self, run: Path) -> str:
        assert self._state is not None
        login_user, internal_user = _dovecot_users()
        lines = [
            f'base_dir = "{run}"',
            f'state_dir = "{run}"',
            f'log_path = "{self._state / "dovecot.log"}"',
            "protocols = imap",
            f"listen = {self.host}",
            "disable_plaintext_auth = no",
            "auth_mechanisms = plain login xoauth2",
            "auth_username_format = %Lu",
            "auth_failure_delay = 0",  # a wrong password in a test answers at once
            f"default_login_user = {login_user.pw_name}",
            f"default_internal_user = {internal_user.pw_name}",
            # Its unix sockets are given to this group, which an unprivileged Dovecot must
            # be in.
            f"default_internal_group = {grp.getgrgid(internal_user.pw_gid).gr_name}",
            f'mail_location = "maildir:{self.root}/%u/Maildir"',
            "mail_fsync = never",
        ]
        if self._owner is not None:
            uid, gid = self._owner
            lines += [f"mail_uid = {uid}", f"mail_gid = {gid}", f"first_valid_uid = {uid}",
                      f"first_valid_gid = {gid}"]
        else:
            lines += [f"first_valid_uid = {os.getuid()}", f"first_valid_gid = {os.getgid()}"]
        if self._cert is not None:
            cert, key = self._cert
            lines += ["ssl = yes", f"ssl_cert = <{cert}", f"ssl_key = <{key}"]
        else:
            lines.append("ssl = no")
        lines += [
            "service imap-login {",
            "  chroot =",
            "  inet_listener imap {",
            f"    address = {self.host}",
            f"    port = {self.imap_port}",
            "  }",
            "  inet_listener imaps {",
            "    port = 0",
            "  }",
            "}",
            "service anvil {",
            "  chroot =",
            "}",
            # The password is also what XOAUTH2 checks: Dovecot verifies the bearer token
            # against the passdb as it would a password.
            "passdb {",
            "  driver = passwd-file",
            f'  args = scheme=PLAIN {self._state / "passwd"}',
            "}",
            "userdb {",
            "  driver = static",
            f'  args = home={self.root}/%u',
            "}",
        ]
        return "\n".join(lines) + "\n"


def _system_user(*names: str) -> pwd.struct_passwd:
    for name in names:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError(f"none of the users {', '.join(names)} exists")


def _dovecot_users() -> tuple[pwd.struct_passwd, pwd.struct_passwd]:
    """Dovecot's login and internal users: its own accounts when we are root (it refuses
    root for them), otherwise whoever we are, since an unprivileged Dovecot cannot switch."""
    if os.geteuid() == 0:
        return _system_user("dovenull", "nobody"), _system_user("dovecot", "nobody")
    me = pwd.getpwuid(os.geteuid())
    return me, me


def _write_private(path: Path, text: str, owner: pwd.struct_passwd | None) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.chmod(0o600)
    if owner is not None and os.geteuid() == 0:
        os.chown(tmp, owner.pw_uid, owner.pw_gid)
    os.replace(tmp, path)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _imap_greets(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            return sock.recv(64).startswith(b"* OK")
    except OSError:
        return False

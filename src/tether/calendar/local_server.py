"""A real CalDAV server on this machine, for `tether demo` and the tests: Radicale, served in
this process from a thread, with its collections in a folder.

In-process rather than `python -m radicale`: the server binds port 0 itself, so there is no
free port to guess (and lose to another process), it is up as soon as `start()` returns (a
few milliseconds once Radicale is imported), and `stop()` ends it without signals.  Radicale's
WSGI application is thread-safe (its own server runs each request in a thread too); it is
served here by the standard library's WSGI server with a thread per connection.

Logins are checked against an htpasswd file of plain passwords, rewritten as users are added
(Radicale reads it at each login), and each user owns the collections under /<user>/ and
nothing else.  A user may be an email address: Radicale keeps "@" in the path.  Failed logins
answer at once (Radicale's delay is off), so a test of a wrong password takes no second.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import socket
import socketserver
import ssl
import sys
import tempfile
import threading
import wsgiref.simple_server
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

import httpx
from radicale import config as radicale_config
from radicale.app import Application
from radicale.server import RequestHandler

from sfemu.tls import ensure_certificates

__all__ = ["LocalCalendarServer"]

log = logging.getLogger("tether.calendar")

_UNSAFE_USER = re.compile(r"[:/\\\s]")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9@._+-]+")


class _Handler(RequestHandler):
    """Radicale's request handler; over TLS, the handshake is made here, in the connection's
    own thread, rather than in the thread that accepts connections."""

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()
        super().setup()


class _WSGIServer(socketserver.ThreadingMixIn, wsgiref.simple_server.WSGIServer):
    daemon_threads = True
    block_on_close = True  # stop() waits for requests being answered
    tls: ssl.SSLContext | None = None

    def __init__(self, host: str, tls: ssl.SSLContext | None) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.tls = tls
        super().__init__((host, 0), _Handler)

    def server_bind(self) -> None:
        # Not HTTPServer's, which looks the host's name up (seconds, on some networks).
        socketserver.TCPServer.server_bind(self)
        host, port = self.socket.getsockname()[:2]
        self.server_name, self.server_port = host, port
        self.setup_environ()

    def get_request(self) -> tuple[Any, Any]:
        sock, address = super().get_request()
        # A response written in two parts would otherwise wait ~40 ms for a delayed ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(10)
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            return  # a client that went away, timed out or failed TLS: not the server's fault
        log.error("local calendar server: request from %s failed", client_address,
                  exc_info=True)


class LocalCalendarServer:
    """Radicale at `url`, its collections under root/collections (root: a temporary folder,
    removed at stop, when not given).  Users and calendars are added once it runs; on a
    root kept from an earlier run, adding them again finds their calendars there."""

    def __init__(self, root: Path | None = None, *, host: str = "127.0.0.1",
                 tls: bool = False) -> None:
        self._own_root = root is None
        self.root = Path(root) if root is not None else Path(
            tempfile.mkdtemp(prefix="tether-caldav-"))
        self.host = host
        self.tls = tls
        self.port = 0
        self.ca_file: str | None = None
        self._users: dict[str, str] = {}
        self._lock = threading.Lock()
        self._server: _WSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- running ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server's base URL, without a trailing slash."""
        if self._server is None:
            raise RuntimeError("the local calendar server is not running")
        scheme = "https" if self.tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        if self._server is not None:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        # Made here, so that Radicale does not warn that it is creating them.
        (self.collections / "collection-root").mkdir(parents=True, exist_ok=True)
        self._write_passwords()
        context: ssl.SSLContext | None = None
        if self.tls:
            cert, key = ensure_certificates(self.root / "certs",
                                            [self.host, "127.0.0.1", "localhost"])
            self.ca_file = str(self.root / "certs" / "ca.pem")
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
        radicale_log = logging.getLogger("radicale")
        if radicale_log.level == logging.NOTSET:
            # Radicale says a great deal at INFO about its settings as it starts.
            radicale_log.setLevel(logging.WARNING)
        server = _WSGIServer(self.host, context)
        server.set_app(Application(self._configuration()))
        self._server = server
        self.port = server.server_port
        self._thread = threading.Thread(target=server.serve_forever, kwargs={
            "poll_interval": 0.05}, name="local-caldav", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LocalCalendarServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    @property
    def collections(self) -> Path:
        return self.root / "collections"

    def _configuration(self) -> radicale_config.Configuration:
        configuration = radicale_config.load([])
        configuration.update({
            "server": {"delay_on_error": "0"},
            "auth": {"type": "htpasswd", "htpasswd_filename": str(self._passwords),
                     "htpasswd_encryption": "plain", "delay": "0"},
            "rights": {"type": "owner_only"},
            "storage": {"filesystem_folder": str(self.collections),
                        # Nothing here outlives a power cut that matters.
                        "_filesystem_fsync": "False"},
            "web": {"type": "none"},
        }, "tether local calendar server", privileged=True)
        return configuration

    # -- users and calendars ---------------------------------------------------------------

    def add_user(self, username: str, password: str, *, calendar: str = "calendar",
                 display_name: str = "Calendar") -> str:
        """A login owning one calendar of events, whose URL this answers (the server must
        be running)."""
        if _UNSAFE_USER.search(username) or not username or re.search(r"[:\s]", password):
            raise ValueError("user names here cannot hold ':', '/', '\\' or white space, nor "
                             "passwords ':' or white space")
        with self._lock:
            self._users[username] = password
        self._write_passwords()
        return self.add_calendar(username, calendar, display_name=display_name)

    def add_calendar(self, username: str, name: str, *, display_name: str | None = None,
                     components: Sequence[str] = ("VEVENT",)) -> str:
        """Another collection of the user's, of the given iCalendar components (("VTODO",):
        a task list); its URL."""
        if username not in self._users:
            raise KeyError(f"no user {username!r} on the local calendar server")
        if not _PLAIN_NAME.fullmatch(name):
            raise ValueError(f"a calendar name here is letters, digits and @._+- ({name!r})")
        self._make_calendar(username, name, display_name or name, tuple(components))
        return self.calendar_url(username, name)

    def calendar_url(self, username: str, name: str = "calendar") -> str:
        return f"{self.url}/{quote(username, safe='@')}/{name}/"

    def principal_url(self, username: str) -> str:
        return f"{self.url}/{quote(username, safe='@')}/"

    def password(self, username: str) -> str:
        return self._users[username]

    def _make_calendar(self, username: str, name: str, display_name: str,
                       components: tuple[str, ...]) -> None:
        comps = "".join(f'<C:comp name="{escape(c)}"/>' for c in components)
        body = ('<?xml version="1.0" encoding="utf-8"?>'
                '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
                f"<D:set><D:prop><D:displayname>{escape(display_name)}</D:displayname>"
                f"<C:supported-calendar-component-set>{comps}"
                "</C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>")
        url = self.calendar_url(username, name)
        with self._client(username) as client:
            response = client.request("MKCALENDAR", url, content=body.encode(),
                                      headers={"Content-Type": "application/xml"})
            if (response.status_code in (405, 409)  # there already, from an earlier run
                    and client.request("PROPFIND", url,
                                       headers={"Depth": "0"}).status_code == 207):
                return
            if response.status_code != 201:
                raise RuntimeError(f"MKCALENDAR {url} answered {response.status_code}: "
                                   f"{response.text[:300]}")

    def _client(self, username: str) -> httpx.Client:
        verify: ssl.SSLContext | bool = (ssl.create_default_context(cafile=self.ca_file)
                                         if self.ca_file else True)
        return httpx.Client(auth=(username, self._users[username]), timeout=10,
                            verify=verify)

    @property
    def _passwords(self) -> Path:
        return self.root / "htpasswd"

    def _write_passwords(self) -> None:
        with self._lock:
            lines = "".join(f"{user}:{password}\n" for user, password in self._users.items())
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self._passwords.with_suffix(".tmp")
        tmp.write_text(lines)
        tmp.chmod(0o600)
        tmp.replace(self._passwords)

    # -- events, for the tests and the demo ------------------------------------------------

    def put_event(self, username: str, uid: str, ics_text: str, *,
                  calendar: str = "calendar") -> None:
        """Create or replace the object holding the event (or series) `uid`, over CalDAV as
        a client would, so that its ETag and sync token change as they would."""
        url = self._event_url(username, uid, calendar)
        with self._client(username) as client:
            response = client.put(url, content=ics_text.encode(),
                                  headers={"Content-Type": "text/calendar; charset=utf-8"})
        if response.status_code not in (201, 204):
            raise RuntimeError(f"PUT {url} answered {response.status_code}: "
                               f"{response.text[:300]}")

    def delete_event(self, username: str, uid: str, *, calendar: str = "calendar") -> None:
        url = self._event_url(username, uid, calendar)
        with self._client(username) as client:
            response = client.delete(url)
        if response.status_code not in (200, 204):
            raise RuntimeError(f"DELETE {url} answered {response.status_code}")

    def events(self, username: str, calendar: str = "calendar") -> list[str]:
        """The iCalendar text of each object in the calendar, read from Radicale's folder
        (as Radicale stored it, which is not byte for byte what was put), by file name."""
        folder = self.collections / "collection-root" / username / calendar
        return [p.read_text() for p in sorted(folder.glob("*.ics"))]

    def event_href(self, username: str, uid: str, calendar: str = "calendar") -> str:
        """The path of the object put for `uid`, as the server names it in its answers."""
        return f"/{quote(username, safe='')}/{calendar}/{quote(self._event_name(uid), safe='')}"

    def expire_sync_tokens(self, username: str, calendar: str = "calendar") -> None:
        """Forget the calendar's sync tokens, as Radicale does with any unused for 30 days
        (max_sync_token_age): a client's next sync with one is refused."""
        folder = (self.collections / "collection-root" / username / calendar
                  / ".Radicale.cache" / "sync-token")
        shutil.rmtree(folder, ignore_errors=True)

    def _event_url(self, username: str, uid: str, calendar: str) -> str:
        return f"{self.calendar_url(username, calendar)}{quote(self._event_name(uid), safe='')}"

    @staticmethod
    def _event_name(uid: str) -> str:
        # Radicale keeps each object in a file named by its href: a UID that would not make
        # a file name (a slash, say) is named by its hash instead.
        name = uid if _PLAIN_NAME.fullmatch(uid) else hashlib.sha256(uid.encode()).hexdigest()
        return f"{name}.ics"

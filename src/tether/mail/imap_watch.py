"""IMAP for watching a mailbox: one logged-in connection that reads a folder's state
(UIDVALIDITY, UIDNEXT), fetches the messages after a UID, and waits for new mail with IDLE
(RFC 2177) where the server offers it.  imapclient is synchronous: a watcher runs it in its
own thread.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from imapclient import IMAPClient  # type: ignore[import-untyped]

from tether.mail import MailCheckError
from tether.mail.imap import Server, check_error, missing_folder, session

# A message is read up to this many bytes: enough for headers, the text and a bounce's
# report; an attachment beyond it is not needed to tell a reply from a bounce.
MAX_BYTES = 256 * 1024
FETCH_BATCH = 50
IDLE_RENEW_SECONDS = 25 * 60  # RFC 2177: re-issue IDLE at least every 29 minutes
_PARTIAL = f"BODY.PEEK[]<0.{MAX_BYTES}>"


@dataclass(frozen=True)
class FolderState:
    validity: int
    uidnext: int  # the UID the next message will get (one more than the last, at least)


@dataclass(frozen=True)
class Fetched:
    uid: int
    raw: bytes


class Connection:
    """A watcher's connection.  Every IMAP failure surfaces as MailCheckError in words."""

    def __init__(self, server: Server, client: IMAPClient) -> None:
        self.server = server
        self.client = client
        self.idle = bool(client.has_capability("IDLE"))
        self._selected: str | None = None

    def state(self, folder: str) -> FolderState:
        """Selects the folder (read-only: watching marks nothing seen) and answers its state."""
        try:
            if not self.client.folder_exists(folder):
                raise missing_folder(self.client, folder)
            info = self.client.select_folder(folder, readonly=True)
            self._selected = folder
            if b"UIDNEXT" not in info or b"UIDVALIDITY" not in info:  # optional in SELECT
                info = {**info, **self.client.folder_status(folder, ["UIDVALIDITY",
                                                                     "UIDNEXT"])}
        except MailCheckError:
            raise
        except Exception as exc:
            raise check_error(self.server, exc) from exc
        return FolderState(int(info[b"UIDVALIDITY"]), int(info[b"UIDNEXT"]))

    def after(self, folder: str, uid: int, limit: int = FETCH_BATCH) -> list[Fetched]:
        """The folder's messages with a UID above ``uid``, oldest first, at most ``limit``."""
        try:
            if self._selected != folder:
                self.state(folder)
            # "n:*" always names the last message, even when its UID is below n.
            uids = sorted(u for u in self.client.search(["UID", f"{uid + 1}:*"]) if u > uid)
            wanted = uids[:limit]
            if not wanted:
                return []
            data = self.client.fetch(wanted, [_PARTIAL])
        except MailCheckError:
            raise
        except Exception as exc:
            raise check_error(self.server, exc) from exc
        found = []
        for got in wanted:
            item = data.get(got, {})
            raw = next((bytes(v) for k, v in item.items() if k.startswith(b"BODY[]")), b"")
            found.append(Fetched(got, raw))
        return found

    def first_since(self, folder: str, day: dt.date) -> int | None:
        """The lowest UID of the messages the folder received on or after ``day``."""
        try:
            if self._selected != folder:
                self.state(folder)
            uids = self.client.search(["SINCE", day])
        except MailCheckError:
            raise
        except Exception as exc:
            raise check_error(self.server, exc) from exc
        return min(uids) if uids else None

    def wait(self, folder: str, seconds: float, stop: threading.Event) -> bool:
        """Waits up to ``seconds`` for new mail in ``folder``: IDLE where offered, else
        sleeps; answers whether the server announced something.  ``stop`` ends it early."""
        deadline = time.monotonic() + seconds
        if not self.idle:
            stop.wait(seconds)
            return False
        try:
            if self._selected != folder:
                self.state(folder)
            self.client.idle()
            while not stop.is_set() and time.monotonic() < deadline:
                responses = self.client.idle_check(timeout=min(1.0, seconds))
                bye = next((r for r in responses if r and r[0] == b"BYE"), None)
                if bye is not None:
                    # The connection is over (a restart, a logout).  The server may keep the
                    # socket open without answering: DONE or LOGOUT would wait for their
                    # timeout, so the socket is closed here and then.
                    with contextlib.suppress(OSError):
                        self.client.shutdown()
                    words = b" ".join(x for x in bye[1:] if isinstance(x, bytes))
                    raise MailCheckError("IMAP", "connection", "the server ended the "
                                         f"connection: {words.decode(errors='replace')}")
                if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                    self.client.idle_done()
                    return True
            self.client.idle_done()
            return False
        except MailCheckError:
            raise
        except Exception as exc:
            raise check_error(self.server, exc) from exc


@contextlib.contextmanager
def connect(server: Server) -> Iterator[Connection]:
    with session(server) as client:
        yield Connection(server, client)

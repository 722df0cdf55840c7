"""IMAP over imapclient: checking a mailbox's login and Sent folder, appending a message to a
folder, and finding which Message-IDs a folder holds.  imapclient is synchronous; the `a…`
functions run it in a worker thread."""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import default as default_policy

from imapclient import SEEN, IMAPClient  # type: ignore[import-untyped]
from imapclient.exceptions import LoginError  # type: ignore[import-untyped]

from tether.mail import Endpoint, MailCheckError, classify, tls_context

__all__ = ["MailCheckError", "Server", "aappend", "aappend_all", "acheck_login",
           "afind_message_ids", "append", "append_all", "check_login", "find_message_ids"]

SERVICE = "IMAP"


@dataclass(frozen=True, repr=False)
class Server(Endpoint):
    pass


def _text(value: object) -> str:
    """An IMAP error in words: imaplib's carry the server's bytes, which imapclient's
    LoginError then turns into their repr."""
    if isinstance(value, BaseException) and len(value.args) == 1:
        value = value.args[0]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    text = str(value)
    quoted = re.fullmatch(r"b(['\"])(.*)\1", text)
    return quoted.group(2) if quoted else text


def check_error(server: Server, exc: BaseException) -> MailCheckError:
    if isinstance(exc, MailCheckError):
        return exc
    network = classify(SERVICE, server, exc)
    if network is not None:
        return network
    if isinstance(exc, LoginError):
        return MailCheckError(SERVICE, "authentication",
                              " ".join(_text(exc).split()) or "the login was refused")
    return MailCheckError(SERVICE, "connection", _text(exc) or type(exc).__name__)


@contextmanager
def session(server: Server) -> Iterator[IMAPClient]:
    """A logged-in client, logged out afterwards; failures to connect or log in as
    MailCheckError."""
    context = tls_context(server)
    try:
        client = IMAPClient(server.host, port=server.port, ssl=server.security == "tls",
                            ssl_context=context, timeout=server.timeout)
    except Exception as exc:
        raise check_error(server, exc) from exc
    try:
        try:
            if server.security == "starttls":
                if not client.has_capability("STARTTLS"):
                    raise MailCheckError(SERVICE, "TLS", f"{server.host}:{server.port} does not "
                                         "offer STARTTLS")
                client.starttls(context)
            if server.auth == "xoauth2":
                client.oauth2_login(server.username, server.secret)
            else:
                client.login(server.username, server.secret)
        except Exception as exc:
            raise check_error(server, exc) from exc
        yield client
    finally:
        try:
            client.logout()
        except (imaplib.IMAP4.error, OSError):
            # The connection is gone already (or going): nothing left to say to it.
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                client.shutdown()


def select(server: Server, client: IMAPClient, folder: str, *, readonly: bool) -> None:
    if not client.folder_exists(folder):
        raise missing_folder(client, folder)
    client.select_folder(folder, readonly=readonly)


def missing_folder(client: IMAPClient, folder: str) -> MailCheckError:
    names = [name for _flags, _delimiter, name in client.list_folders()]
    there = ", ".join(f'"{n}"' for n in names) or "none"
    return MailCheckError(SERVICE, "folder", f'there is no folder "{folder}" '
                          f"(folders there: {there})")


def check_login(server: Server, sent_folder: str) -> None:
    """Connect, secure, log in, and see that the Sent folder exists."""
    with session(server) as client:
        try:
            exists = client.folder_exists(sent_folder)
        except Exception as exc:
            raise check_error(server, exc) from exc
        if not exists:
            raise missing_folder(client, sent_folder)


def append(server: Server, folder: str, raw: bytes, *, seen: bool = True) -> None:
    append_all(server, folder, [raw], seen=seen)


def append_all(server: Server, folder: str, raws: Sequence[bytes], *,
               seen: bool = True) -> None:
    """Each message appended to the folder, in order, over one login."""
    with session(server) as client:
        try:
            if not client.folder_exists(folder):
                raise missing_folder(client, folder)
            for raw in raws:
                client.append(folder, raw, flags=[SEEN] if seen else [])
        except MailCheckError:
            raise
        except Exception as exc:
            raise check_error(server, exc) from exc


def normalize_message_id(message_id: str) -> str:
    """Without surrounding white space, with its angle brackets."""
    value = "".join(message_id.split())
    return value if value.startswith("<") else f"<{value.strip('<>')}>"


def find_message_ids(server: Server, folder: str, message_ids: Iterable[str]) -> set[str]:
    """Which of `message_ids` the folder holds (as given), one login for all.  SEARCH HEADER
    matches substrings, so each hit's Message-ID is fetched and compared whole."""
    wanted: dict[str, list[str]] = {}
    for given in message_ids:
        wanted.setdefault(normalize_message_id(given), []).append(given)
    found: set[str] = set()
    if not wanted:
        return found
    parser = BytesHeaderParser(policy=default_policy)
    with session(server) as client:
        try:
            select(server, client, folder, readonly=True)
            for normalized, givens in wanted.items():
                uids = client.search(["HEADER", "Message-ID", normalized])
                if not uids:
                    continue
                key = b"BODY[HEADER.FIELDS (MESSAGE-ID)]"
                fetched = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
                for data in fetched.values():
                    header = parser.parsebytes(bytes(data.get(key, b"")))
                    value = header.get("Message-ID")
                    if value is not None and normalize_message_id(str(value)) == normalized:
                        found.update(givens)
                        break
        except MailCheckError:
            raise
        except Exception as exc:
            raise check_error(server, exc) from exc
    return found


async def acheck_login(server: Server, sent_folder: str) -> None:
    await asyncio.to_thread(check_login, server, sent_folder)


async def aappend(server: Server, folder: str, raw: bytes, *, seen: bool = True) -> None:
    await asyncio.to_thread(append, server, folder, raw, seen=seen)


async def aappend_all(server: Server, folder: str, raws: Sequence[bytes], *,
                      seen: bool = True) -> None:
    await asyncio.to_thread(append_all, server, folder, list(raws), seen=seen)


async def afind_message_ids(server: Server, folder: str,
                            message_ids: Iterable[str]) -> set[str]:
    return await asyncio.to_thread(find_message_ids, server, folder, list(message_ids))

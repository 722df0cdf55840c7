"""Mail fixtures: a real local mail server (SMTP into Maildirs, IMAP by Dovecot or pymap)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import pytest

from tether.mail.local_server import LocalMailServer, dovecot_binary

Backend = Literal["auto", "dovecot", "pymap"]
MakeLocalMail = Callable[..., LocalMailServer]


@pytest.fixture
def make_local_mail() -> Iterator[MakeLocalMail]:
    """Starts LocalMailServers (each on its own Maildir tree), stopped after the test.
    imap_backend="dovecot" skips the test when Dovecot is not installed."""
    started: list[LocalMailServer] = []
    roots: list[Path] = []

    def make(imap_backend: Backend = "auto", *, tls: bool = False) -> LocalMailServer:
        if imap_backend == "dovecot" and dovecot_binary() is None:
            pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd)")
        # Not under pytest's temp tree: as root, Dovecot reads the Maildirs as the mail user,
        # and another pytest run on the machine makes /tmp/pytest-of-root 0700 again.
        root = Path(tempfile.mkdtemp(prefix="tether-mail-"))
        # Its own tree, so opening it to the mail user (Dovecot as root) shows no one else's.
        root.chmod(0o711)
        roots.append(root)
        server = LocalMailServer(root / "mail", imap_backend=imap_backend,
                                 tls=tls)
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
    for root in roots:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def local_mail(make_local_mail: MakeLocalMail) -> LocalMailServer:
    """A started LocalMailServer on a fresh Maildir tree (IMAP: Dovecot when installed)."""
    return make_local_mail()

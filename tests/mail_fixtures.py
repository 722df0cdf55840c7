"""Mail fixtures: a real local mail server (SMTP into Maildirs, IMAP by Dovecot or pymap)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import pytest

from tether.mail.local_server import LocalMailServer, dovecot_binary

Backend = Literal["auto", "dovecot", "pymap"]
MakeLocalMail = Callable[..., LocalMailServer]


@pytest.fixture
def make_local_mail(tmp_path: Path) -> Iterator[MakeLocalMail]:
    """Starts LocalMailServers (each on its own Maildir tree), stopped after the test.
    imap_backend="dovecot" skips the test when Dovecot is not installed."""
    started: list[LocalMailServer] = []

    def make(imap_backend: Backend = "auto", *, tls: bool = False) -> LocalMailServer:
        if imap_backend == "dovecot" and dovecot_binary() is None:
            pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd)")
        server = LocalMailServer(tmp_path / f"mail{len(started)}", imap_backend=imap_backend,
                                 tls=tls)
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def local_mail(make_local_mail: MakeLocalMail) -> LocalMailServer:
    """A started LocalMailServer on this test's tmp_path (IMAP: Dovecot when installed)."""
    return make_local_mail()

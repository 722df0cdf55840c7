"""What the mail benches (watch_bench, sequence_bench) set up alike: a migrated database of
either kind, and a local Dovecot mail server.  Imported after the bench has put the
repository on sys.path."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import _pg_database

from tether.mail.local_server import LocalMailServer
from tether.store.migrate import upgrade


@contextlib.contextmanager
def database(kind: str, work: Path, name: str) -> Iterator[str]:
    """A migrated SQLite file in ``work``, or a fresh PostgreSQL database (dropped after)."""
    if kind == "sqlite":
        url = f"sqlite:///{work / f'{name}.db'}"
        upgrade(url)
        yield url
    else:
        with contextlib.contextmanager(_pg_database)() as url:
            upgrade(url)
            yield url


@contextlib.contextmanager
def mail_server() -> Iterator[LocalMailServer]:
    """Dovecot on Maildirs of its own (as tests/mail_fixtures.py: a tree the mail user can
    reach when we are root)."""
    root = Path(tempfile.mkdtemp(prefix="tether-mail-"))
    root.chmod(0o711)
    server = LocalMailServer(root / "mail", imap_backend="dovecot")
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)

"""Tether's server over real HTTP (uvicorn in a thread) on a migrated SQLite database, with
the workspace of :func:`tests.tether.web.conftest.make_world`."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from tests.tether.web.conftest import World, make_world
from tether.net import listen
from tether.store.migrate import upgrade
from tether.web.app import create_app


@contextlib.contextmanager
def serving(tmp: Path) -> Iterator[tuple[World, str]]:
    """The workspace and the server's base URL, until the block ends."""
    url = f"sqlite:///{tmp / 'tether.db'}"
    upgrade(url)
    world, settings = make_world(url, tmp)
    sock = listen("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield world, f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)

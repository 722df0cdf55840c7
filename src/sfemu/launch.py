"""Starting an sfemu server in a child process (the demo, the tests and the benchmarks)."""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import IO


def start(*args: str) -> tuple[subprocess.Popen[str], str]:
    """``sfemu serve`` with these arguments; answers the process and its base URL once it
    accepts requests.  Its output keeps being drained so the server never blocks on it."""
    proc = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
        [sys.executable, "-m", "sfemu", "serve", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    stream = proc.stdout
    seen: list[str] = []
    for line in stream:
        if line.startswith("sfemu listening on "):
            threading.Thread(target=_drain, args=(stream,), daemon=True).start()
            return proc, line.split()[-1]
        seen.append(line)
    proc.wait()
    raise RuntimeError("sfemu did not start:\n" + "".join(seen[-20:]))


def _drain(stream: IO[str]) -> None:
    for _ in stream:
        pass


def stop(proc: subprocess.Popen[str], timeout: float = 10.0) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)

"""`tether serve` as a child process for the benchmarks."""

from __future__ import annotations

import subprocess
import sys
import threading


def start_serve(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """`tether serve --port 0 <args>`: the process and its base URL, once it listens (its
    output is drained from then on)."""
    proc = subprocess.Popen([sys.executable, "-m", "tether", "serve", "--port", "0", *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    assert proc.stdout is not None
    line = ""
    while "listening on" not in line:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("tether serve exited before listening")
    out = proc.stdout
    threading.Thread(target=lambda: [None for _ in out], daemon=True).start()
    return proc, line.strip().rsplit(" ", 1)[-1]

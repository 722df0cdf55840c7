"""What the two command lines (``sfemu`` and ``tether``) share: a user's mistake ends a
command with one line on stderr, ``Error: ...``, and exit code 2 (what was asked cannot be)
or 1 (it failed), never a traceback; a result is printed for a person, or as JSON."""

from __future__ import annotations

import errno
import functools
import json
import socket
from collections.abc import Callable
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

F = TypeVar("F", bound=Callable[..., Any])
Explain = Callable[[Exception], "tuple[str, int] | None"]

ERRORS = Console(stderr=True, highlight=False, soft_wrap=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


class Failed(Exception):
    """A command cannot go on: ``message`` for the user, and the exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message, self.code = message, code


def fail(message: str, code: int = 1) -> NoReturn:
    raise Failed(message, code)


def commands(app: typer.Typer, explain: Explain | None = None) -> Callable[[F], F]:
    """A decorator that registers a command on ``app`` whose :class:`Failed` (and the
    exceptions ``explain`` has words for) end in one line on stderr."""
    def register(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Failed as exc:
                message, code = exc.message, exc.code
            except Exception as exc:
                told = explain(exc) if explain is not None else None
                if told is None:
                    raise
                message, code = told
            ERRORS.print(f"Error: {message}", markup=False)
            raise typer.Exit(code)
        return app.command()(run)  # type: ignore[return-value]
    return register


def cannot_listen(exc: OSError, host: str, port: int, option: str) -> NoReturn:
    """Why binding ``host:port`` failed, and which option chooses another port."""
    if isinstance(exc, socket.gaierror):
        fail(f"cannot listen on {host}: {exc.strerror}", 2)
    if exc.errno == errno.EADDRINUSE:
        fail(f"port {port} on {host} is taken by another program; {option} chooses another "
             "(0: any free port)")
    fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}; {option} chooses another "
         "port")


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2))

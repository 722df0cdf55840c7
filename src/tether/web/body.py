"""Request bodies, bounded before they are read: a pure ASGI middleware that never buffers (it
looks at the headers, then counts the bytes as the app reads them).

- A Content-Length over the path's limit is refused (413, naming the limit) before anything
  is read.  A body without one (chunked) is counted as it arrives and refused as soon as it
  passes the limit; the rest is never read into memory (the server discards it).
- Paths that authenticate their caller (the API's bearer key, the webhook's token) check it
  first when the body is large (over the default limit) or of unknown length: a stranger's
  100 MB hears 401 and is not read.  A small body keeps FastAPI's order (read, then the
  route's dependencies check the key): its cost is bounded by the limit anyway.
- NUL, which PostgreSQL's text cannot hold, is refused (422) in the URL and in form bodies
  as they stream past; JSON bodies are checked where they are parsed (tether/web/strict.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tether.services.errors import ServiceError
from tether.web.deps import AppState, actor
from tether.web.errors import error_json, service_error_json

# Answers None to let the request on, or the refusal to send instead.
Gate = Callable[[Scope], Awaitable[Response | None]]
MB = 1024 * 1024
# What spells NUL in each form encoding (a multipart part carries raw bytes).
NUL_IN_FORMS = {b"application/x-www-form-urlencoded": (b"\x00", b"%00"),
                b"multipart/form-data": (b"\x00",)}


@dataclass(frozen=True)
class Rule:
    """The limit for requests whose path starts with ``prefix`` (of ``method``, if given), and
    who must be let in before a large body is read."""

    prefix: str
    limit: int
    method: str | None = None
    gate: Gate | None = None

    def matches(self, method: str, path: str) -> bool:
        return path.startswith(self.prefix) and self.method in (None, method)


def bearer_gate(state: AppState) -> Gate:
    """The API key, checked exactly as the routes' dependency checks it."""
    async def gate(scope: Scope) -> Response | None:
        try:
            await run_in_threadpool(actor, state, Headers(scope=scope).get("authorization"))
        except ServiceError as exc:
            return service_error_json(exc)
        return None
    return gate


def too_large(limit: int) -> Response:
    size = f"{limit // MB} MB ({limit} bytes)" if limit % MB == 0 else f"{limit} bytes"
    return error_json(413, f"the request body is larger than {size}, the most this endpoint "
                      "accepts", code="too_large")


def _nul(where: str) -> Response:
    return error_json(422, f"the {where} contains a NUL character (%00), which cannot be "
                      "stored", code="invalid", field=where)


class _BodyRefused(HTTPException):
    """Raised into the app when its read crosses a line; FastAPI passes HTTPException through
    its body reading, and the middleware then answers in the app's place."""

    def __init__(self, answer: Response) -> None:
        super().__init__(status_code=answer.status_code)
        self.answer = answer


class BodyLimit:
    def __init__(self, app: ASGIApp, *, rules: Sequence[Rule], default: int) -> None:
        self.app = app
        self.rules = tuple(rules)
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rule = next((r for r in self.rules if r.matches(scope["method"], scope["path"])), None)
        answer = await self._refusal(scope, rule)
        if answer is not None:
            await answer(scope, receive, send)
            return
        await _Counted(self.app, rule.limit if rule else self.default,
                       _nul_spellings(scope))(scope, receive, send)

    async def _refusal(self, scope: Scope, rule: Rule | None) -> Response | None:
        """What to answer before reading anything, if the request cannot go on."""
        if "\x00" in scope["path"]:
            return _nul("path")
        if b"%00" in scope["query_string"] or b"\x00" in scope["query_string"]:
            return _nul("query")
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        length = int(declared) if declared and declared.isascii() and declared.isdigit() \
            else None
        if declared is not None and length is None:
            return error_json(400, "Content-Length is not a number of bytes", code="invalid")
        streamed = length is None and "transfer-encoding" in headers
        limit = rule.limit if rule else self.default
        if rule is not None and rule.gate is not None and (
                streamed or (length is not None and length > self.default)):
            refused = await rule.gate(scope)
            if refused is not None:
                return refused
        return too_large(limit) if length is not None and length > limit else None


def _nul_spellings(scope: Scope) -> tuple[bytes, ...]:
    content_type = Headers(scope=scope).get("content-type", "").encode("latin-1")
    return NUL_IN_FORMS.get(content_type.split(b";")[0].strip().lower(), ())


class _Counted:
    """One request: its body counted (and, for a form, scanned for NUL) as the app reads it;
    past a line, the app's read raises and this answers in its place."""

    def __init__(self, app: ASGIApp, limit: int, nul: tuple[bytes, ...]) -> None:
        self.app, self.limit, self.nul = app, limit, nul
        self.total = 0
        self.tail = b""  # a form's last two bytes: "%00" may straddle two chunks
        self.answer: Response | None = None
        self.started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self._check(message.get("body", b""))
            return message

        async def guarded_send(message: Message) -> None:
            if self.answer is not None and not self.started:
                return  # the app's own answer to the refused read; ours goes out below
            if message["type"] == "http.response.start":
                self.started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if self.answer is None or self.started:
                raise
        if self.answer is not None and not self.started:
            await self.answer(scope, receive, send)

    def _check(self, chunk: bytes) -> None:
        self.total += len(chunk)
        if self.total > self.limit:
            self.answer = too_large(self.limit)
        elif self.nul:
            window = self.tail + chunk
            if any(spelling in window for spelling in self.nul):
                self.answer = _nul("form")
            self.tail = window[-2:]
        if self.answer is not None:
            raise _BodyRefused(self.answer)

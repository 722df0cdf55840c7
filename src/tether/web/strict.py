"""Every JSON body is parsed here, strictly: text that cannot be stored never gets past it.

Starlette parses with the standard library, which accepts a lone surrogate (``"\\udfff"``, or
the raw bytes ``ED A0 80``) into a str that later fails to encode (a 500 from the database or
from the 422 that echoes it), and raises RecursionError (not a JSON error) on deep nesting.
orjson refuses all of these as JSON errors: lone surrogates, invalid UTF-8, NaN, and nesting
deeper than 1024 levels (at once, for 100,000 ``[`` too).  NUL (``\\u0000``) is valid JSON but
PostgreSQL's text cannot hold it, so it is refused here as well, naming where it is.

Routers whose routes take JSON bodies use :class:`StrictRoute`; the webhook and
``POST /api/v1/events`` read their bodies themselves and call :func:`loads`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute

from tether.domain.paths import join, nul_at
from tether.services.errors import Invalid

NUL_ESCAPE = b"\\u0000"


def loads(body: bytes, field: str | None = None) -> Any:
    """The JSON value of a body, or Invalid naming what is wrong (``field`` for the body as a
    whole; a NUL names its own place, e.g. ``settings.name``)."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Invalid(f"the body is not valid JSON: {exc}", field) from None
    if NUL_ESCAPE in body:  # cheap: only then look for where (the escape may be "\\u0000")
        loc = nul_at(value)
        if loc is not None:
            where = join("", loc)
            name = where or "the body"
            raise Invalid(f"{name}: contains a NUL character (\\u0000), which cannot be stored",
                          where or field)
    return value


class _Refused(HTTPException):
    """Carries an Invalid out of FastAPI's body reading, which passes HTTPException through
    untouched (any other error there becomes a bare 400)."""

    def __init__(self, error: Invalid) -> None:
        super().__init__(status_code=error.status, detail=error.message)
        self.error = error


class StrictRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = loads(await self.body())
            except Invalid as exc:
                raise _Refused(exc) from None
        return self._json


class StrictRoute(APIRoute):
    """A route whose JSON body is read by :func:`loads`; a refusal is a ServiceError again,
    answered by the app's handler like any other (422, ``detail`` and ``field``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            try:
                return await handler(StrictRequest(request.scope, request.receive))
            except _Refused as exc:
                raise exc.error from None
        return strict

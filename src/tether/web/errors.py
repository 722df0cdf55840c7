"""The JSON shape of every refusal: ``{"detail": "...", "code": "...", "field": ...}``.

One place for it, because refusals come from two layers: the app's exception handler (a
ServiceError raised by a route or a service) and the pure ASGI middlewares, which answer
before any route runs and so outside FastAPI's exception handling.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from tether.services.errors import ServiceError


def error_json(status: int, detail: str, *, code: str, field: str | None = None,
               extra: dict[str, Any] | None = None) -> JSONResponse:
    return JSONResponse({**(extra or {}), "detail": detail, "code": code, "field": field},
                        status_code=status)


def service_error_json(exc: ServiceError) -> JSONResponse:
    return error_json(exc.status, exc.message, code=exc.code, field=exc.field, extra=exc.extra)

"""The FastAPI application."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from sqlalchemy import text

from tether.config import Settings
from tether.domain.paths import join
from tether.jobs.rounds import from_any_thread
from tether.salesforce.errors import SalesforceError
from tether.security import Vault
from tether.services.errors import ServiceError
from tether.store.db import make_engine, session_factory
from tether.web import oauth_callback, ui, webhooks
from tether.web import tracking as tracking_web
from tether.web.api import (
    activity,
    calendar,
    event_schema,
    mail,
    people,
    salesforce,
    templates,
    workspace,
)
from tether.web.api import sequences as sequences_api
from tether.web.body import BodyLimit, Rule, bearer_gate
from tether.web.deps import AppState
from tether.web.errors import error_json, service_error_json
from tether.web.event_sink import EventSink
from tether.web.headers import SecurityHeaders
from tether.worker import build_worker

# The interactive API docs, whose Swagger UI and ReDoc assets fastapi-offline serves from
# its own package (under DOCS_ASSETS): they work on a machine without Internet access.
DOCS_URL, REDOC_URL, DOCS_ASSETS = "/docs", "/redoc", "/static-offline-docs"


def create_app(settings: Settings, *, embedded_worker: bool = True) -> FastAPI:
    """The web app; with ``embedded_worker`` it also runs the job worker in its event loop
    (the embedded default: one process does everything)."""
    engine = make_engine(settings.effective_database_url)
    sessions = session_factory(engine)
    vault = Vault(settings.effective_secret_key())
    state = AppState(settings=settings, sessions=sessions, vault=vault,
                     event_sink=EventSink(sessions, settings.date_window))
    worker = build_worker(sessions, vault, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(worker.run_forever()) if embedded_worker else None
        if embedded_worker:
            # Through the loop: sync routes call these from the threadpool, and an
            # asyncio.Event set from another thread may not wake its waiter.
            state.wake = from_any_thread(worker.runner.wakeup.set)
            state.wake_activity = from_any_thread(worker.pipeline.wakeup.set)
            state.wake_sender = from_any_thread(worker.sender.wakeup.set)
            state.wake_sequencer = from_any_thread(worker.sequencer.wakeup.set)

            def wake_watchers() -> None:
                worker.watchers.wakeup.set()
                worker.calendars.wakeup.set()
            state.wake_watchers = from_any_thread(wake_watchers)
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await asyncio.to_thread(state.event_sink.close)
            await asyncio.to_thread(tracking_web.close, app)
            engine.dispose()

    app = FastAPIOffline(title="Tether", version="1", lifespan=lifespan, docs_url=DOCS_URL,
                         redoc_url=REDOC_URL, static_url=DOCS_ASSETS)
    app.state.tether = state
    _with_event_schemas(app)

    @app.exception_handler(SalesforceError)
    async def salesforce_error(request: Request, exc: SalesforceError) -> JSONResponse:
        return JSONResponse({"detail": f"Salesforce answered {exc.error_code}: {exc.message}",
                             "code": "salesforce_" + exc.kind.value,
                             "salesforce_error": exc.error_code}, status_code=502)

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> Response:
        if ui.is_page(request):  # the dashboard answers in HTML, with the same status
            return ui.error_page(request, exc)
        return service_error_json(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        """A body or parameter that does not fit: 422 with the words and the field (the
        contract's shape), not FastAPI's list of pydantic errors."""
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        loc = [p for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        where = join("", loc) or None
        detail = f"{where}: {first['msg']}" if where else str(first["msg"])
        return error_json(422, detail, code="invalid", field=where,
                          extra={"errors": jsonable_encoder(exc.errors())})

    @app.exception_handler(ui.SignInRequired)
    async def sign_in_required(request: Request, exc: ui.SignInRequired) -> Response:
        target = f"/login?next={quote(exc.next_path)}"
        if exc.htmx:
            return Response(status_code=200, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.get("/")
    def home() -> RedirectResponse:
        return RedirectResponse("/app", status_code=303)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok"}

    app.mount("/static", StaticFiles(directory=ui.HERE / "static"), name="static")
    # Downloads and unsubscribes first too: each router passed costs ~20 µs.
    app.include_router(tracking_web.router)
    for router in ui.ROUTERS:
        app.include_router(router)
    app.include_router(workspace.router)
    app.include_router(activity.router)
    app.include_router(salesforce.router)
    app.include_router(people.router)
    app.include_router(templates.router)
    app.include_router(mail.router)
    app.include_router(calendar.router)
    app.include_router(sequences_api.router)
    app.include_router(webhooks.router)
    app.include_router(oauth_callback.router)
    # Pure ASGI middlewares; the last added runs first (outermost).
    api_key = bearer_gate(state)
    app.add_middleware(BodyLimit, default=settings.max_body_bytes, rules=[
        Rule("/api/v1/events", settings.max_events_body_bytes, "POST", api_key),
        Rule(webhooks.PREFIX, webhooks.MAX_BODY, "POST", webhooks.token_gate(state)),
        Rule(mail.FILES_PREFIX, settings.max_upload_bytes + 64 * 1024, "POST", api_key),
        # A CSV of recipients (10,000 rows with their variables).
        Rule("/api/v1/sequences/", sequences_api.MAX_CSV_BYTES + 64 * 1024, "POST", api_key),
        Rule("/api/v1/", settings.max_body_bytes, gate=api_key)])
    app.add_middleware(SecurityHeaders, frame_ancestors=settings.frame_ancestors,
                       docs_paths=[p for p in (DOCS_URL, REDOC_URL,
                                               app.swagger_ui_oauth2_redirect_url) if p])
    app.add_middleware(tracking_web.HotPaths)  # outermost: opens and clicks
    return app


def _with_event_schemas(app: FastAPI) -> None:
    """The OpenAPI document with the event format's schemas, which POST /api/v1/events
    refers to (its route reads its body itself, so FastAPI does not collect them)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            document.setdefault("components", {}).setdefault("schemas", {}).update(
                event_schema.COMPONENTS)
        return app.openapi_schema or {}
    app.openapi = openapi  # type: ignore[method-assign]

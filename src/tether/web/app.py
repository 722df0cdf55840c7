"""The FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from tether.config import Settings
from tether.security import Vault
from tether.services.errors import ServiceError
from tether.store.db import make_engine, session_factory
from tether.web import webhooks
from tether.web.api import salesforce, workspace
from tether.web.deps import AppState


def create_app(settings: Settings) -> FastAPI:
    engine = make_engine(settings.effective_database_url)
    app = FastAPI(title="Tether", version="1")
    app.state.tether = AppState(settings=settings, sessions=session_factory(engine),
                                vault=Vault(settings.effective_secret_key()))

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse({"detail": exc.message, "code": exc.code, "field": exc.field},
                            status_code=exc.status)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok"}

    app.include_router(workspace.router)
    app.include_router(salesforce.router)
    app.include_router(webhooks.router)
    return app

"""The ASGI application: OAuth and SOAP on both login hosts, REST, Bulk 2.0, the admin API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import tempfile
from collections.abc import AsyncIterator
from typing import IO, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

import sfemu.api.bulk
import sfemu.api.composite
import sfemu.api.layouts
import sfemu.api.listviews
import sfemu.api.query
import sfemu.api.recent
import sfemu.api.rest
import sfemu.api.search  # noqa: F401  (these modules register the REST routes)
from sfemu.api import oauth, soap
from sfemu.api.admin import Admin
from sfemu.api.bulk import resume_jobs
from sfemu.api.rest import SUPPORTED_VERSIONS, versions_list
from sfemu.api.routing import ROUTER, ApiRequest, Reply
from sfemu.behaviour import faults as faults_mod
from sfemu.behaviour.faults import Faults
from sfemu.behaviour.realtime import RealtimePackage
from sfemu.core import Emulator
from sfemu.errors import ApiError, method_not_allowed, not_found

log = logging.getLogger("sfemu")


def _error(exc: ApiError, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


def _render(reply: Reply, headers: dict[str, str], head: bool = False) -> Response:
    all_headers = {**reply.headers, **headers}
    if head:  # HEAD: the GET's status and headers, no body
        return Response(status_code=reply.status, headers=all_headers,
                        media_type=reply.media_type)
    if reply.stream is not None:
        return StreamingResponse(reply.stream() if callable(reply.stream) else reply.stream,
                                 status_code=reply.status, headers=all_headers,
                                 media_type=reply.media_type)
    if reply.status == 204 or (reply.body is None and reply.status in (201, 200)):
        return Response(status_code=reply.status, headers=all_headers)
    return Response(json.dumps(reply.body), status_code=reply.status, headers=all_headers,
                    media_type=reply.media_type)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404s and 405s (a path no route serves, on any host path; a method a
    route does not take) in Salesforce's JSON shape, never plain text."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        error = not_found()
    elif exc.status_code == 405:
        allow = (exc.headers or {}).get("Allow", "")
        error = method_not_allowed(request.method, [m.strip() for m in allow.split(",")])
    else:
        error = ApiError("UNKNOWN_EXCEPTION", str(exc.detail), status=exc.status_code)
    return _error(error, error.headers)


class CollapseSlashes:
    """``https://host//services/data/…`` names the same resource as with one slash, as on
    Salesforce (``sf org login access-token`` sends it when the instance URL ends in ``/``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "//" in scope["path"]:
            scope = {**scope, "path": re.sub("/{2,}", "/", scope["path"])}
            if scope.get("raw_path"):
                scope["raw_path"] = re.sub(b"/{2,}", b"/", scope["raw_path"])
        await self.app(scope, receive, send)


async def _read_body(request: Request) -> tuple[bytes, IO[bytes] | None]:
    """JSON bodies are small and read whole; uploads (PUT: Bulk CSV) are spooled to disk past
    a megabyte so a large upload never sits in memory."""
    if request.method != "PUT":
        return await request.body(), None
    spool = tempfile.SpooledTemporaryFile(max_size=1 << 20)  # noqa: SIM115 - closed by rest()
    async for chunk in request.stream():
        spool.write(chunk)
    spool.seek(0)
    return b"", spool


def create_app(emu: Emulator) -> Starlette:
    realtime = RealtimePackage(emu)
    faults = Faults()
    for org in emu.orgs():
        if org.faults:
            faults.configure(org.id, org.faults)
    admin = Admin(emu, realtime, faults)

    async def rest(request: Request) -> Response:
        version = request.path_params["version"]
        if version not in SUPPORTED_VERSIONS:
            return _error(not_found())
        try:
            session = emu.session_from_bearer(oauth.bearer(request))
        except ApiError as exc:
            return _error(exc)
        org = session.org
        if not org.api_enabled or not session.profile.api_enabled:
            return _error(ApiError("API_DISABLED_FOR_ORG", "The REST API is not enabled for "
                                   f"this Organization ({org.edition} Edition). The API is "
                                   "included in Enterprise, Unlimited, Developer and "
                                   "Performance Editions.", status=403))
        if org.faults.get("exhaust_daily_limit") or (
                org.usage_today(emu.now()) >= org.daily_limit):
            return _error(ApiError("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."))
        plan = faults.plan(org.id, org.faults, request.method)
        if plan.unavailable:
            return _error(faults_mod.unavailable())
        used, maximum = emu.count_call(session)
        limit_header = {"Sforce-Limit-Info": f"api-usage={used}/{maximum}"}
        if plan.lock:
            return _error(faults_mod.lock_error(), limit_header)
        body, body_file = await _read_body(request)
        req = ApiRequest(emu, session, version, request.method,
                         request.path_params["path"].strip("/"), dict(request.query_params),
                         {k.lower(): v for k, v in request.headers.items()}, body,
                         body_file=body_file, origin=oauth.base_url(request))
        try:
            reply = ROUTER.dispatch(req)
        except ApiError as exc:
            reply = Reply(exc.status, exc.body(), dict(exc.headers))
        except Exception:
            log.exception("unexpected error in %s %s", request.method, request.url.path)
            reply = Reply(500, [{"errorCode": "UNKNOWN_EXCEPTION", "message": "An unexpected "
                                 "error occurred. Please include this ErrorId if you contact "
                                 "support: sfemu", "fields": []}])
        finally:
            if body_file is not None:
                body_file.close()
        if plan.timeout_seconds:
            await asyncio.sleep(plan.timeout_seconds)
        return _render(reply, limit_header, head=request.method == "HEAD")

    async def versions(request: Request) -> Response:
        return JSONResponse(versions_list())

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "orgs": len(emu.orgs())})

    def login_routes(prefix: str, sandbox: bool) -> list[Route]:
        async def authorize(request: Request) -> Response:
            return await oauth.authorize(request, emu, sandbox)

        async def token(request: Request) -> Response:
            return await oauth.token(request, emu, sandbox)

        async def revoke(request: Request) -> Response:
            return await oauth.revoke(request, emu)

        async def soap_endpoint(request: Request) -> Response:
            return await soap.endpoint(request, emu, sandbox)

        async def identity(request: Request) -> Response:
            return await oauth.identity(request, emu, sandbox)

        async def userinfo(request: Request) -> Response:
            return await oauth.userinfo(request, emu, sandbox)
        return [
            Route(f"{prefix}/services/oauth2/authorize", authorize, methods=["GET", "POST"]),
            Route(f"{prefix}/services/oauth2/token", token, methods=["POST"]),
            Route(f"{prefix}/services/oauth2/revoke", revoke, methods=["GET", "POST"]),
            Route(f"{prefix}/services/oauth2/userinfo", userinfo, methods=["GET", "POST"]),
            Route(f"{prefix}/id/{{org_id}}/{{user_id}}", identity, methods=["GET", "POST"]),
            # The partner endpoint, and serverUrl (which names the org) for calls after login.
            Route(f"{prefix}/services/Soap/u/{{version}}", soap_endpoint, methods=["POST"]),
            Route(f"{prefix}/services/Soap/u/{{version}}/{{org_id}}", soap_endpoint,
                  methods=["POST"]),
        ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(realtime.run())
        resume_jobs(emu)
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    routes = [
        Route("/__sfemu__/health", health),
        *admin.routes(),
        Route("/services/data", versions),
        Route("/services/data/", versions),
        Route("/services/data/v{version}/{path:path}", rest,
              methods=["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD"]),
        Route("/services/data/v{version}", rest_root(rest),
              methods=["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD"]),
        *login_routes("", False),
        *login_routes("/test", True),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(CollapseSlashes)],
                    exception_handlers={HTTPException: _http_error})
    app.state.emu = emu
    app.state.realtime = realtime
    return app


def rest_root(rest: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        request.path_params["path"] = ""
        return await rest(request)  # type: ignore[no-any-return]
    return endpoint

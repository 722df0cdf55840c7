"""GET /oauth/salesforce/callback: where Salesforce sends the browser back after login."""

from __future__ import annotations

import html

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from tether.salesforce.errors import SalesforceError
from tether.services.connection import finish_connect
from tether.services.errors import ServiceError
from tether.web.deps import State

router = APIRouter()


def _page(title: str, message: str, status: int) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}"
        f"</title></head><body><main><h1>{html.escape(title)}</h1><p role=status>"
        f"{html.escape(message)}</p></main></body></html>", status_code=status)


@router.get("/oauth/salesforce/callback")
async def callback(app: State, state: str = "", code: str = "", error: str = "",
                   error_description: str = "") -> HTMLResponse:
    if error:
        return _page("Salesforce connection refused",
                     f"Salesforce answered {error}: {error_description or 'no detail'}", 400)
    if not code:
        return _page("Salesforce connection failed", "The callback carried no code.", 400)
    try:
        result = await finish_connect(app.sessions, app.vault, app.settings, state, code)
    except ServiceError as exc:
        return _page("Salesforce connection refused", exc.message, exc.status)
    except SalesforceError as exc:
        return _page("Salesforce connection failed",
                     f"Salesforce answered {exc.error_code}: {exc.message}", 502)
    where = "sandbox" if result["sandbox"] else "production"
    return _page("Salesforce connected", f"Connected as {result['salesforce_username']} "
                 f"to {where} org {result['org_id']}.", 200)

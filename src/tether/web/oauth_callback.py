"""GET /oauth/salesforce/callback: where Salesforce sends the browser back after login."""

from __future__ import annotations

import html

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from tether.salesforce.errors import SalesforceError
from tether.services import accounts
from tether.services.connection import finish_connect
from tether.services.errors import ServiceError
from tether.web.deps import State
from tether.web.ui.common import COOKIE

router = APIRouter()


def _page(title: str, message: str, status: int) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}"
        f"</title><link rel=stylesheet href=/static/app.css></head><body><main class=login>"
        f"<div class=card><h1>{html.escape(title)}</h1><p role=status>{html.escape(message)}"
        f"</p><p><a href=/app/integrations>Back to Integrations</a></p></div></main></body>"
        f"</html>", status_code=status)


@router.get("/oauth/salesforce/callback", response_model=None)
async def callback(request: Request, app: State, state: str = "", code: str = "",
                   error: str = "", error_description: str = ""
                   ) -> HTMLResponse | RedirectResponse:
    if error:
        return _page("Salesforce connection refused",
                     f"Salesforce answered {error}: {error_description or 'no detail'}", 400)
    if not code:
        return _page("Salesforce connection failed", "The callback carried no code.", 400)
    session = request.cookies.get(COOKIE)
    signed_in = None
    if session:
        with app.sessions() as db:
            actor = accounts.session_actor(db, session)
        signed_in = actor.membership_id if actor else None
    try:
        result = await finish_connect(app.sessions, app.vault, app.settings, state, code,
                                      signed_in)
    except ServiceError as exc:
        return _page("Salesforce connection refused", exc.message, exc.status)
    except SalesforceError as exc:
        return _page("Salesforce connection failed",
                     f"Salesforce answered {exc.error_code}: {exc.message}", 502)
    if signed_in is not None:  # started from the dashboard: back to it
        return RedirectResponse("/app/integrations?notice=connect_done", status_code=303)
    where = "sandbox" if result["sandbox"] else "production"
    return _page("Salesforce connected", f"Connected as {result['salesforce_username']} "
                 f"to {where} org {result['org_id']}.", 200)

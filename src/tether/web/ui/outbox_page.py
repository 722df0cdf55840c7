"""The outbox (/app/outbox): the member's messages, newest first, with their status, what they
wait for and what went wrong, in words; a queued or scheduled one can be cancelled.  A
message's page shows each recipient's state and their opens, clicks and downloads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from tether.services import messages
from tether.services.errors import ServiceError
from tether.web.ui.common import Page, PageOf, redirect

router = APIRouter(prefix="/app/outbox")
LIST, ONE = "outbox.html", "outbox_message.html"
ACTIVE = ("queued", "scheduled", "sending")  # the list refreshes itself while any is
CANCELLABLE = ("queued", "scheduled")
STATES = {"queued": "Waiting to be sent", "sending": "Being handed to your server",
          "accepted": "Accepted by your mail server", "unknown": "Unknown: the answer was lost",
          "failed": "Failed"}


def _flash(page: Page) -> dict[str, Any] | None:
    """What the page says after a send or a cancel: the message, as it now stands."""
    params = page.request.query_params
    message_pk = params.get("sent") or params.get("cancelled")
    if not message_pk:
        return None
    try:
        with page.app.sessions() as db:
            found = messages.get(db, page.actor, message_pk)
    except ServiceError:
        return None
    return {"message": found, "cancelled": "cancelled" in params}


def _list(page: Page) -> dict[str, Any]:
    with page.app.sessions() as db:
        queue = messages.queue(db, page.actor)
    active = any(i["status"] in ACTIVE for i in queue["items"])
    return {**queue, "active": active, "cancellable": CANCELLABLE, "flash": _flash(page)}


@router.get("", response_class=HTMLResponse)
def outbox(page: PageOf) -> HTMLResponse:
    return page.render(LIST, **_list(page))


@router.get("/{message_pk}", response_class=HTMLResponse)
def message_page(page: PageOf, message_pk: str) -> HTMLResponse:
    with page.app.sessions() as db:
        found = messages.get(db, page.actor, message_pk)
    return page.render(ONE, m=found, cancellable=CANCELLABLE, states=STATES,
                       active=found["status"] in ACTIVE)


@router.post("/{message_pk}/cancel", response_class=HTMLResponse)
def cancel(page: PageOf, message_pk: str) -> Response:
    try:
        with page.app.sessions() as db:
            messages.cancel(db, page.actor, message_pk)
            db.commit()
    except ServiceError as exc:
        return page.error(LIST, exc, **_list(page))
    return redirect(f"/app/outbox?cancelled={message_pk}")

"""The Mailbox page (/app/mailbox): the member's own SMTP and IMAP servers, which Tether sends
through.  Saving logs in to both first (services.mailboxes.save); a server that refused is
named beside its own settings, in the server's words, and nothing is saved.  A saved
password is never shown: the field is empty, and left empty it keeps the saved one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from tether.services import calendars, mailboxes
from tether.services.errors import Invalid, ServiceError
from tether.services.records import Deps
from tether.web.api.mail import MailboxIn, mailbox_of
from tether.web.ui.common import Page, PageOf, redirect

router = APIRouter(prefix="/app/mailbox")
TEMPLATE = "mailbox.html"
SERVERS = ("smtp", "imap")
DEFAULTS: dict[str, Any] = {
    "smtp": {"host": "", "port": 587, "security": "starttls", "username": "",
             "auth": "password"},
    "imap": {"host": "", "port": 993, "security": "tls", "username": "", "auth": "password"},
    "address": "", "display_name": "", "sent_folder": "Sent", "provider_saves_sent": False,
    "daily_cap": mailboxes.DEFAULT_DAILY_CAP, "per_minute": mailboxes.DEFAULT_PER_MINUTE,
    "salesforce_bcc": ""}
LABELS = {"address": "Email address", "display_name": "Display name", "host": "server",
          "port": "port", "security": "security", "username": "username",
          "password": "password", "auth": "sign-in", "sent_folder": "Sent folder",
          "daily_cap": "Daily cap", "per_minute": "Per-minute rate",
          "salesforce_bcc": "Email-to-Salesforce address"}
FLASHES = {"saved": "Mailbox saved: Tether logged in to both servers.",
           "disconnected": "Mailbox disconnected: its passwords are deleted.",
           "calendar": "Calendar saved: Tether read it, and logs the meetings you organize.",
           "calendar_gone": "Calendar disconnected: its password is deleted."}


def _deps(page: Page) -> Deps:
    return Deps(page.app.sessions, page.app.vault, page.app.settings)


def _saved(page: Page) -> dict[str, Any] | None:
    with page.app.sessions() as db:
        row = mailboxes.mailbox_of(db, page.actor)
        return mailboxes.get(db, page.actor) if row is not None else None


def _calendar(page: Page) -> dict[str, Any] | None:
    with page.app.sessions() as db:
        row = calendars.connection_of(db, page.actor)
        return calendars.calendar_json(row) if row is not None else None


def _context(page: Page, typed: dict[str, Any] | None = None,
             calendar_typed: dict[str, Any] | None = None) -> dict[str, Any]:
    saved = _saved(page)
    calendar = _calendar(page)
    flash = FLASHES.get(page.request.query_params.get("done", ""))
    return {"saved": saved, "typed": typed or saved or DEFAULTS, "flash": flash,
            "failed": {}, "calendar": calendar,
            "calendar_typed": calendar_typed or calendar or {"url": "", "username": ""}}


def _typed(form: FormData) -> dict[str, Any]:
    """The form's fields in the API's shape (so its model checks them), as typed."""
    def text(name: str) -> str:
        return str(form.get(name) or "").strip()

    def server(name: str) -> dict[str, Any]:
        return {"host": text(f"{name}_host"), "port": text(f"{name}_port"),
                "security": text(f"{name}_security"), "username": text(f"{name}_username"),
                "password": str(form.get(f"{name}_password") or "") or None,
                "auth": text(f"{name}_auth") or "password"}
    return {"address": text("address"), "display_name": text("display_name"),
            "smtp": server("smtp"), "imap": server("imap"),
            "sent_folder": text("sent_folder"),
            "provider_saves_sent": form.get("provider_saves_sent") == "on",
            "daily_cap": text("daily_cap"), "per_minute": text("per_minute"),
            "salesforce_bcc": text("salesforce_bcc") or None}


def refusal(exc: ValidationError) -> Invalid:
    """The model's first complaint, in the form's words ("SMTP port: …")."""
    first = exc.errors()[0]
    loc = [str(part) for part in first["loc"]]
    name = LABELS.get(loc[-1], loc[-1])
    where = f"{loc[0].upper()} {name}" if loc[0] in SERVERS else name
    return Invalid(f"{where}: {first['msg']}", ".".join(loc))


def _failures(exc: ServiceError) -> dict[str, str]:
    """Each server that refused, in words: "SMTP authentication failed: 535 …"."""
    return {f["service"]: f"{f['service'].upper()} {f['stage']} failed: {f['detail']}"
            for f in exc.extra.get("failed", [])}


@router.get("", response_class=HTMLResponse)
def mailbox_page(page: PageOf) -> HTMLResponse:
    return page.render(TEMPLATE, **_context(page))


@router.post("", response_class=HTMLResponse)
async def save(page: PageOf) -> Response:
    assert page.form is not None
    typed = _typed(page.form)
    try:
        try:
            body = MailboxIn.model_validate(typed)
        except ValidationError as exc:
            raise refusal(exc) from None
        await mailboxes.save(_deps(page), page.actor, mailbox_of(body))
        page.app.nudge_watchers()
    except ServiceError as exc:
        failed = _failures(exc)
        message = ("Not saved: Tether could not log in to "
                   f"{' and '.join(s.upper() for s in failed)} (the reason is beside it "
                   "below)." if failed else exc.message)
        return page.render(TEMPLATE, status_code=exc.status, **{
            **_context(page, typed), "failed": failed}, error=message,
            error_field=exc.field)
    return redirect("/app/mailbox?done=saved")


@router.post("/disconnect", response_class=HTMLResponse)
def disconnect(page: PageOf) -> Response:
    return page.act(lambda db: mailboxes.delete(db, page.actor),
                    done="/app/mailbox?done=disconnected", notice="", template=TEMPLATE,
                    context=_context)


@router.post("/calendar", response_class=HTMLResponse)
async def save_calendar(page: PageOf) -> Response:
    """The primary calendar, checked by a PROPFIND before it is saved."""
    assert page.form is not None
    typed = {k: str(page.form.get(k) or "").strip() for k in ("url", "username")}
    password = str(page.form.get("password") or "") or None
    try:
        await calendars.save(_deps(page), page.actor,
                             calendars.CalendarIn(typed["url"], typed["username"], password))
        page.app.nudge_watchers()
    except ServiceError as exc:
        return page.render(TEMPLATE, status_code=exc.status,
                           **_context(page, calendar_typed=typed),
                           error=f"Calendar not saved: {exc.message}",
                           error_field=f"calendar_{exc.field}")
    return redirect("/app/mailbox?done=calendar#calendar")


@router.post("/calendar/disconnect", response_class=HTMLResponse)
def disconnect_calendar(page: PageOf) -> Response:
    return page.act(lambda db: calendars.delete(db, page.actor),
                    done="/app/mailbox?done=calendar_gone", notice="", template=TEMPLATE,
                    context=_context)

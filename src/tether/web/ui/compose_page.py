"""The compose page (/app/compose): To, Cc and Bcc with each address's Salesforce record shown
as it is typed, a template picker, a preview for the first To recipient, tracking, now or at
a time, and a file for tracked downloads.  Sending goes through services.messages.send, as
the API's does; when the role prompts to create records, its 409 is the Auto-Create dialog
(compose_autocreate), which keeps the whole message in hidden inputs.  Queued, the page
redirects to the outbox."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from tether.services import autocreate, files, mailboxes, messages, people
from tether.services import templates as templates_service
from tether.services.autocreate import Decision
from tether.services.errors import Conflict, NotFound, ServiceError
from tether.services.records import Deps
from tether.sync.mirror_view import display_name
from tether.web.ui import compose_autocreate as dialog
from tether.web.ui.common import Page, PageOf, redirect
from tether.web.ui.compose_draft import Draft, addresses, as_html
from tether.web.ui.sidebar import INPUT_TYPES

router = APIRouter(prefix="/app/compose")
COMPOSE, DIALOG = "compose.html", "compose_autocreate.html"
KINDS = ("to", "cc", "bcc")


def _deps(page: Page) -> Deps:
    return Deps(page.app.sessions, page.app.vault, page.app.settings)


def _context(page: Page, draft: Draft) -> dict[str, Any]:
    with page.app.sessions() as db:
        return {"draft": draft, "templates": templates_service.list_templates(db, page.actor),
                "has_mailbox": mailboxes.mailbox_of(db, page.actor) is not None,
                "attached": files.described(db, page.actor, draft.file_ids),
                "max_upload": page.app.settings.max_upload_bytes}


def _reply_draft(page: Page, to: str, in_reply_to: str) -> Draft:
    """A reply to a message sent with Tether starts with its subject and recipients; to any
    other Message-ID, only the threading."""
    draft = Draft(to=to, in_reply_to=in_reply_to)
    if not in_reply_to:
        return draft
    try:
        with page.app.sessions() as db:
            parent = messages.get(db, page.actor, in_reply_to)
    except NotFound:
        return draft
    subject = str(parent["subject"])
    return Draft(to=to or ", ".join(parent["to"]), in_reply_to=in_reply_to,
                 subject=subject if subject.lower().startswith("re:") else f"Re: {subject}")


@router.get("", response_class=HTMLResponse)
def compose_page(page: PageOf, to: str = Query("", max_length=4000),
                 in_reply_to: str = Query("", max_length=300)) -> HTMLResponse:
    return page.render(COMPOSE, **_context(page, _reply_draft(page, to, in_reply_to)))


async def _with_upload(page: Page, draft: Draft) -> Draft:
    """The file chosen, if any, kept for tracked downloads; its id rides with the draft (so
    a retry from the dialog does not upload it again)."""
    assert page.form is not None
    upload = page.form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return draft
    limit = page.app.settings.max_upload_bytes
    data = await upload.read(limit + 1)
    with page.app.sessions() as db:
        made = files.store(db, page.actor, filename=upload.filename,
                           content_type=upload.content_type, data=data, limit=limit)
        db.commit()
    return draft.with_file(str(made["id"]))


def _dialog(page: Page, draft: Draft, needs: list[dict[str, Any]], status: int = 409,
            problem: dict[str, Any] | None = None, error: str | None = None) -> HTMLResponse:
    asked = dialog.asked(page, needs, page.form, problem)
    beside = any(a.error for a in asked)  # said beside its recipient, not again on top
    return page.render(DIALOG, status_code=status, draft=draft, asked=asked,
                       input_types=INPUT_TYPES, error=None if beside else error)


def _still_needed(page: Page, draft: Draft) -> list[dict[str, Any]]:
    with page.app.sessions() as db:
        return autocreate.needs(db, page.actor, draft.visible(), {}, False)


@router.post("", response_class=HTMLResponse)
async def send(page: PageOf) -> Response:
    assert page.form is not None
    draft = Draft.of(page.form)
    action = str(page.form.get("action") or "send")
    if action == "back":
        return page.render(COMPOSE, **_context(page, draft))
    from_dialog = action in ("create", "never", "without")
    records: dict[str, Decision] = dialog.decisions(page.form, action) if from_dialog else {}
    try:
        draft = await _with_upload(page, draft)
        out = await messages.send(_deps(page), page.actor,
                                  draft.compose(records, without_creating=action == "without"))
    except Conflict as exc:
        if "needs_records" in exc.extra:
            return _dialog(page, draft, exc.extra["needs_records"])
        return page.error(COMPOSE, exc, **_context(page, draft))
    except ServiceError as exc:
        if from_dialog and (exc.field or "").startswith("records."):
            problem = {**exc.extra, "message": exc.message}
            return _dialog(page, draft, _still_needed(page, draft), exc.status, problem,
                           exc.message)
        return page.error(COMPOSE, exc, **_context(page, draft))
    page.app.nudge_sender()
    return redirect(f"/app/outbox?sent={out['id']}")


# -- htmx fragments ----------------------------------------------------------------------------
@router.post("/lookup", response_class=HTMLResponse)
def lookup(page: PageOf, field: str = Query("to")) -> HTMLResponse:
    """Each address of one of To, Cc or Bcc, and whether Salesforce has a record for it."""
    assert page.form is not None
    kind = field if field in KINDS else "to"
    found: list[dict[str, Any]] = []
    with page.app.sessions() as db:
        for address in addresses(str(page.form.get(kind) or ""))[:messages.MAX_RECIPIENTS]:
            try:
                people_, _ = people.candidates(db, page.actor, address)
            except ServiceError:
                found.append({"email": address, "kind": "bad"})
                continue
            first = people_[0] if people_ else None
            found.append({"email": address.lower(), "kind": first.sobject if first else None,
                          "name": first.name if first else "", "more": len(people_) - 1})
    return page.render("compose_badges.html", found=found, kind=kind)


@router.post("/template", response_class=HTMLResponse)
def use_template(page: PageOf) -> Response:
    """The subject and body fields, filled with the chosen template's text (its variables
    too: they are filled in per recipient when it is sent)."""
    assert page.form is not None
    draft = Draft(subject=str(page.form.get("subject") or ""),
                  body=str(page.form.get("body") or ""),
                  template_id=str(page.form.get("template_id") or ""))
    if draft.template_id:
        with page.app.sessions() as db:
            chosen = templates_service.get_template(db, page.actor, draft.template_id)
        draft = Draft(subject=chosen["subject"], body=chosen["body"],
                      template_id=draft.template_id)
    response = page.render("compose_content.html", draft=draft)
    # After the swap: the preview reads the new subject and body.
    response.headers["HX-Trigger-After-Settle"] = "compose-changed"
    return response


@router.post("/preview", response_class=HTMLResponse)
def preview(page: PageOf) -> HTMLResponse:
    """The message as its first To recipient will get it (sandboxed: see compose_preview)."""
    assert page.form is not None
    to = addresses(str(page.form.get("to") or ""))
    subject, body = str(page.form.get("subject") or ""), str(page.form.get("body") or "")
    context: dict[str, Any] = {"to": to[0] if to else "", "shown": None}
    if to and (subject.strip() or body.strip()):
        try:
            with page.app.sessions() as db:
                shown = templates_service.render_for(db, page.actor, subject, as_html(body),
                                                     to[0])
            context["shown"] = shown
            if shown.record is not None:
                context["record"] = (f"{shown.record.sobject} · "
                                     f"{display_name(shown.record.data)}")
        except ServiceError as exc:
            context["problem"] = exc.message
    return page.render("compose_preview.html", **context)

"""Sequences (/app/sequences): the member's sequences with their counts, the editor (stages,
send window, settings; Activate, Pause and Resume by status), and each sequence's recipients
(added by hand or by CSV, each paused, resumed or stopped).  Every change is the service's
(services.sequences), as the JSON API makes it; a refusal is said beside the form, with what
was typed kept."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from tether.domain import sequences as domain
from tether.services import sequences, templates
from tether.services.errors import Invalid, ServiceError
from tether.services.records import Deps
from tether.store.sequence_models import SequenceRecipient
from tether.web.ui import sequence_form as form
from tether.web.ui.common import Page, PageOf, redirect

router = APIRouter(prefix="/app/sequences")
LIST, EDITOR, RECIPIENTS = "sequences.html", "sequence.html", "sequence_recipients.html"
MAX_CSV_BYTES = 1024 * 1024  # the dashboard's form limit (the API takes 4 MB)
STATUS = {"draft": "Draft", "active": "Active", "paused": "Paused"}
FLASHES = {"created": "Sequence created. Add recipients, then activate it.",
           "saved": "Sequence saved.", "activated": "Sequence activated: its recipients start.",
           "paused": "Sequence paused: no stage goes out until it is resumed.",
           "resumed": "Sequence resumed."}
RECIPIENT_FLASHES = {"pause": "Paused {email}.", "resume": "Resumed {email}.",
                     "stop": "Stopped {email}: nothing more goes to them from this sequence."}
WAITING = {"completed": "until it is completed", "deferred": "until it is deferred",
           "overdue": "until its due date passes undone"}
TASK_KIND = {"todo": "To-do", "call": "Call", "email": "Email task", "linkedin": "LinkedIn"}
# A list's complaint names the item (recipients[2].email); the page says the line.
_ITEM = re.compile(r"recipients\[(\d+)\](?:\.email)?")


def _deps(page: Page) -> Deps:
    return Deps(page.app.sessions, page.app.vault, page.app.settings)


def _flash(page: Page, table: dict[str, str]) -> str | None:
    return table.get(page.request.query_params.get("done", ""))


# -- the list ----------------------------------------------------------------------------------
@router.get("", response_class=HTMLResponse)
def list_page(page: PageOf) -> HTMLResponse:
    with page.app.sessions() as db:
        items = [sequences.sequence_json(db, s) for s in sequences.listing(db, page.actor)]
    return page.render(LIST, items=items, status_names=STATUS)


# -- the editor --------------------------------------------------------------------------------
def _editor(page: Page, typed: dict[str, Any], seq: dict[str, Any] | None, status: int = 200,
            exc: ServiceError | None = None) -> HTMLResponse:
    with page.app.sessions() as db:
        choices = templates.list_templates(db, page.actor)
    field = exc.field or "" if exc else ""
    found = re.match(r"stages\[(\d+)\]", field)
    where = (int(found.group(1)) if found else "window" if field.startswith("send_window")
             else "top") if exc else None
    return page.render(EDITOR, status_code=status, typed=typed, seq=seq, templates=choices,
                       zones=form.zones(), weekdays=form.WEEKDAYS, task_kinds=form.TASK_KINDS,
                       next_when=form.NEXT_WHEN, create_records=form.CREATE_RECORDS,
                       status_names=STATUS, max_stages=domain.MAX_STAGES,
                       flash=_flash(page, FLASHES), problem=exc.message if exc else None,
                       problem_field=field, problem_at=where)


def _saved(page: Page, sequence_id: str) -> dict[str, Any]:
    with page.app.sessions() as db:
        return sequences.sequence_json(db, sequences.owned(db, page.actor, sequence_id))


@router.get("/new", response_class=HTMLResponse)
def new_page(page: PageOf) -> HTMLResponse:
    return _editor(page, form.blank(), None)


@router.post("/new", response_class=HTMLResponse)
def create(page: PageOf) -> Response:
    assert page.form is not None
    typed = form.typed_from(page.form)
    if form.apply_op(typed, str(page.form.get("op") or "")):
        return _editor(page, typed, None)
    try:
        with page.app.sessions() as db:
            made = sequences.create(db, page.actor, form.data_of(typed))
            db.commit()
    except ServiceError as exc:
        return _editor(page, typed, None, exc.status, exc)
    return redirect(f"/app/sequences/{made.id}?done=created")


@router.get("/{sequence_id}", response_class=HTMLResponse)
def edit_page(page: PageOf, sequence_id: str) -> HTMLResponse:
    seq = _saved(page, sequence_id)
    return _editor(page, form.typed_of(seq), seq)


@router.post("/{sequence_id}", response_class=HTMLResponse)
def save(page: PageOf, sequence_id: str) -> Response:
    assert page.form is not None
    seq = _saved(page, sequence_id)
    typed = form.typed_from(page.form)
    if form.apply_op(typed, str(page.form.get("op") or "")):
        return _editor(page, typed, seq)
    try:
        with page.app.sessions() as db:
            sequences.edit(db, page.actor, sequence_id, form.data_of(typed))
            db.commit()
    except ServiceError as exc:
        return _editor(page, typed, seq, exc.status, exc)
    page.app.nudge_sequencer()
    return redirect(f"/app/sequences/{sequence_id}?done=saved")


# -- recipients (before /{id}/{action}: "recipients" is not an action) --------------------------
def _stage_words(stage: dict[str, Any]) -> str:
    if stage["kind"] == "email":
        return f"Email: {stage['subject']}" if stage.get("subject") else \
            "Email (a reply in the thread)"
    return f"{TASK_KIND.get(stage.get('task_kind') or '', 'Task')} task: {stage['subject']}"


def _row(r: SequenceRecipient, stages: list[dict[str, Any]]) -> dict[str, Any]:
    """A recipient as the table shows them: where they are and what comes next."""
    n = len(stages)
    waiting_on_task = r.task_id is not None
    at = max(1, min(r.stage - 1 if waiting_on_task else r.stage, n))
    row = {**sequences.recipient_json(r), "position": f"Stage {at} of {n}", "next": None}
    if r.state == "finished":
        row["position"] = f"All {n} stages done"
    elif r.state == "stopped":
        row["next"] = None
    elif waiting_on_task:
        until = WAITING.get(stages[at - 1].get("next_when") or "", "")
        row["next"] = f"Waiting on its task (stage {at}) {until}".strip()
    elif r.stage <= n:
        row["next"] = _stage_words(stages[r.stage - 1])
        if r.state == "pending":
            row["next"] += " · when the sequence is activated"
    return row


def _recipients(page: Page, sequence_id: str) -> dict[str, Any]:
    with page.app.sessions() as db:
        seq = sequences.owned(db, page.actor, sequence_id)
        info = sequences.sequence_json(db, seq)
        rows = [_row(r, seq.stages)
                for r in sequences.recipients_of(db, page.actor, sequence_id)]
    params = page.request.query_params
    flash = None
    if "added" in params:
        flash = f"Added {params['added']}."
        if params.get("already", "0") != "0":
            flash += f" {params['already']} already in this sequence (not added again)."
        if params.get("created", "0") != "0":
            flash += f" {params['created']} Salesforce records created."
    elif params.get("done") in RECIPIENT_FLASHES:
        flash = RECIPIENT_FLASHES[params["done"]].format(email=params.get("email", ""))
    return {"seq": info, "rows": rows, "flash": flash, "status_names": STATUS,
            "typed": {"addresses": ""}, "problems": []}


@router.get("/{sequence_id}/recipients", response_class=HTMLResponse)
def recipients_page(page: PageOf, sequence_id: str) -> HTMLResponse:
    return page.render(RECIPIENTS, **_recipients(page, sequence_id))


def _lines(text: str) -> list[tuple[int, str]]:
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1)
            if line.strip()]


def _in_lines(message: str, lines: list[tuple[int, str]]) -> str:
    """recipients[2].email → line 3 (the textarea's own line, blank lines counted)."""
    def line(found: re.Match[str]) -> str:
        i = int(found.group(1))
        return f"line {lines[i][0]}" if i < len(lines) else found.group(0)
    return _ITEM.sub(line, message)


@router.post("/{sequence_id}/recipients", response_class=HTMLResponse)
async def add_recipients(page: PageOf, sequence_id: str) -> Response:
    assert page.form is not None
    addresses = str(page.form.get("addresses") or "")
    upload = page.form.get("csv")
    lines = _lines(addresses)
    try:
        csv_text: str | None = None
        if isinstance(upload, UploadFile) and upload.filename:
            raw = await upload.read(MAX_CSV_BYTES + 1)
            if len(raw) > MAX_CSV_BYTES:
                raise Invalid("the CSV is over 1 MB: split it, or send it to the API "
                              "(POST /api/v1/sequences/{id}/recipients, up to 4 MB)", "csv")
            try:
                csv_text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise Invalid("the CSV must be UTF-8 text", "csv") from None
            if lines:
                raise Invalid("either addresses or a CSV file at a time, not both",
                              "recipients")
        elif not lines:
            raise Invalid("no recipients given: type addresses (one a line) or choose a "
                          "CSV file", "recipients")
        body = None if csv_text is not None else {
            "recipients": [{"email": address} for _, address in lines]}
        out = await sequences.add(_deps(page), page.actor, sequence_id, body, csv_text)
    except ServiceError as exc:
        context = _recipients(page, sequence_id)
        problems = [dict(p) for p in exc.extra.get("problems", [])]
        if csv_text is None:
            for p in problems:
                if isinstance(p.get("row"), int) and 0 < p["row"] <= len(lines):
                    p["row"] = lines[p["row"] - 1][0]
        return page.render(RECIPIENTS, status_code=exc.status, **{
            **context, "typed": {"addresses": addresses}, "problems": problems,
            "by_csv": csv_text is not None}, error=_in_lines(exc.message, lines),
            error_field=exc.field)
    page.app.nudge_sequencer()
    return redirect(f"/app/sequences/{sequence_id}/recipients?added={out['added']}"
                    f"&already={out['already_in']}&created={len(out['created'])}")


@router.post("/{sequence_id}/recipients/{action}", response_class=HTMLResponse)
def recipient_action(page: PageOf, sequence_id: str,
                     action: Literal["pause", "resume", "stop"],
                     email: Annotated[str, Form(max_length=320)] = "") -> Response:
    try:
        with page.app.sessions() as db:
            sequences.act_on(db, page.actor, sequence_id, email, action)
            db.commit()
    except ServiceError as exc:
        return page.error(RECIPIENTS, exc, **_recipients(page, sequence_id))
    page.app.nudge_sequencer()
    return redirect(f"/app/sequences/{sequence_id}/recipients?"
                    + urlencode({"done": action, "email": email}))


# -- the sequence's state ----------------------------------------------------------------------
@router.post("/{sequence_id}/{action}", response_class=HTMLResponse)
def sequence_action(page: PageOf, sequence_id: str,
                    action: Literal["activate", "pause", "resume"]) -> Response:
    do = {"activate": sequences.activate, "pause": sequences.pause,
          "resume": sequences.resume}[action]
    try:
        with page.app.sessions() as db:
            do(db, page.actor, sequence_id)
            db.commit()
    except ServiceError as exc:
        seq = _saved(page, sequence_id)
        return _editor(page, form.typed_of(seq), seq, exc.status, exc)
    page.app.nudge_sequencer()
    done = {"activate": "activated", "pause": "paused", "resume": "resumed"}[action]
    return redirect(f"/app/sequences/{sequence_id}?done={done}")

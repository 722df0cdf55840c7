"""Tasks (/app/tasks): the member's to-do, call, email and LinkedIn tasks in the groups
services.tasks.buckets makes (overdue, due today, upcoming, done), filtered by kind; a new
task; each completed, deferred or skipped; a call logged (which completes it), with a tel:
link when the mirror knows the person's phone; an email task's draft sent exactly as
``POST /api/v1/tasks/{id}/send`` sends it (the same function)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from tether.services import tasks
from tether.services.errors import Invalid, ServiceError
from tether.services.records import Deps
from tether.sync import mirror_view
from tether.web.ui.common import Page, PageOf, redirect

router = APIRouter(prefix="/app/tasks")
TEMPLATE = "tasks.html"
KINDS = {"todo": "To-do", "call": "Call", "email": "Email", "linkedin": "LinkedIn"}
GROUPS = (("overdue", "Overdue"), ("today", "Due today"), ("upcoming", "Upcoming"),
          ("done", "Done"))
DONE_SHOWN = 50
PHONE_FIELDS = ("Phone", "MobilePhone")
FLASHES = {"created": "Task created.", "completed": "Task completed.",
           "deferred": "Task deferred.", "skipped": "Task skipped.",
           "call": "Call logged: the task is completed.",
           "sent": "Sent: the email is in your outbox, and the task is completed."}
Text = Annotated[str, Form()]


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def day(iso_date: str) -> str:
    """A due date as the page says it: "Wed 2 Dec" (the year too when it is not this one)."""
    when = dt.date.fromisoformat(iso_date)
    shown = f"{when:%a} {when.day} {when:%b}"
    return shown if when.year == today().year else f"{shown} {when.year}"


def blank_task() -> dict[str, str]:
    return {"kind": "todo", "subject": "", "due": today().isoformat(), "who": "",
            "notes": "", "linkedin": "inmail", "draft_subject": "", "draft_body": ""}


def typed_task(form: FormData) -> dict[str, str]:
    return {k: str(form.get(k) or "") for k in blank_task()}


def task_in(typed: dict[str, str]) -> tasks.TaskIn:
    """The new-task form as the service's TaskIn (a date that is not one refused here)."""
    try:
        due = dt.date.fromisoformat(typed["due"])
    except ValueError:
        raise Invalid(f"due: '{typed['due']}' is not a date (YYYY-MM-DD)", "due") from None
    kind = typed["kind"]
    draft = None
    if kind == "email" and (typed["draft_subject"].strip() or typed["draft_body"].strip()):
        # services.tasks keeps a draft as given; the API's model wants both parts.
        for part in ("subject", "body"):
            if not typed[f"draft_{part}"].strip():
                raise Invalid(f"draft.{part}: required with the draft's "
                              f"{'body' if part == 'subject' else 'subject'}", "draft")
        draft = {"subject": typed["draft_subject"], "body": typed["draft_body"]}
    return tasks.TaskIn(kind, typed["subject"], due, typed["who"] or None,
                        typed["notes"] or None,
                        typed["linkedin"] or None if kind == "linkedin" else None, draft)


def phones(page: Page, addresses: Iterable[str]) -> dict[str, str]:
    """The phone of each address's Lead or Contact in the mirror, where it has one."""
    wanted = sorted({a for a in addresses if a})
    if not wanted:
        return {}
    with page.app.sessions() as db:
        found, _ = mirror_view.people_rows(db, page.actor.workspace_id, wanted)
    out: dict[str, str] = {}
    for address, rows in found.items():
        for row, _ in rows:
            phone = next((str(row.data[f]) for f in PHONE_FIELDS if row.data.get(f)), None)
            if phone:
                out[address] = phone
                break
    return out


def tel(phone: str) -> str:
    return "tel:" + "".join(c for c in phone if c.isdigit() or c == "+")


def _context(page: Page, kind: str = "") -> dict[str, Any]:
    with page.app.sessions() as db:
        rows = tasks.listing(db, page.actor)
    if kind in KINDS:
        rows = [r for r in rows if r.kind == kind]
    groups = tasks.buckets(rows, today())
    done = sorted(groups["done"], key=lambda r: r.completed_at or r.updated_at, reverse=True)
    items = {name: [tasks.task_json(r) for r in (done[:DONE_SHOWN] if name == "done" else
                                                 groups[name])] for name, _ in GROUPS}
    calls = [t["who"] for t in (*items["overdue"], *items["today"], *items["upcoming"])
             if t["kind"] == "call" and t["who"]]
    numbers = phones(page, calls)
    return {"groups": GROUPS, "items": items, "kinds": KINDS, "kind": kind, "day": day,
            "phones": {a: (p, tel(p)) for a, p in numbers.items()},
            "more_done": max(0, len(done) - DONE_SHOWN), "typed": blank_task(),
            "flash": FLASHES.get(page.request.query_params.get("done", "")),
            "problem": None, "problem_at": None, "call_typed": {}}


def _refused(page: Page, exc: ServiceError, at: str, kind: str = "", **typed: Any
             ) -> HTMLResponse:
    """The page again with the refusal beside the form it came from (``at``: "new" or the
    task's id)."""
    context = {**_context(page, kind), **typed}
    return page.render(TEMPLATE, status_code=exc.status, **{
        **context, "problem": exc.message, "problem_at": at, "problem_field": exc.field})


def _back(kind: str, done: str) -> Response:
    return redirect(f"/app/tasks?done={done}" + (f"&kind={kind}" if kind in KINDS else ""))


@router.get("", response_class=HTMLResponse)
def tasks_page(page: PageOf, kind: Annotated[str, Query(max_length=12)] = "") -> HTMLResponse:
    return page.render(TEMPLATE, **_context(page, kind))


@router.post("", response_class=HTMLResponse)
def create(page: PageOf) -> Response:
    assert page.form is not None
    typed = typed_task(page.form)
    try:
        with page.app.sessions() as db:
            tasks.create(db, page.actor, task_in(typed))
            db.commit()
    except ServiceError as exc:
        return _refused(page, exc, "new", typed=typed)
    page.app.nudge_pipeline()
    return _back(str(page.form.get("filter") or ""), "created")


def change(page: Page, task_id: str, changes: dict[str, Any]) -> None:
    """One task changed as PATCH /api/v1/tasks/{id} changes it."""
    with page.app.sessions() as db:
        tasks.update(db, page.actor, task_id, changes)
        db.commit()
    page.app.nudge_pipeline()
    page.app.nudge_sequencer()


@router.post("/{task_id}/status", response_class=HTMLResponse)
def set_status(page: PageOf, task_id: str,
               status: Annotated[Literal["completed", "deferred", "skipped"], Form()],
               kind: Text = "") -> Response:
    try:
        change(page, task_id, {"status": status})
    except ServiceError as exc:
        return _refused(page, exc, task_id, kind)
    return _back(kind, status)


def call_of(duration: str, unit: str, disposition: str, notes: str) -> dict[str, Any]:
    """The Log call form as the service's call: a duration in minutes (decimals allowed) or
    seconds, as whole seconds."""
    text = duration.strip() or "0"
    try:
        value = float(text) if unit == "minutes" else int(text)
    except ValueError:
        raise Invalid(f"call.duration_s: '{duration}' is not a number of {unit}",
                      "call.duration_s") from None
    seconds = round(value * 60) if unit == "minutes" else int(value)
    call: dict[str, Any] = {"duration_s": seconds}
    if disposition.strip():
        call["disposition"] = disposition
    if notes.strip():
        call["notes"] = notes
    return call


@router.post("/{task_id}/call", response_class=HTMLResponse)
def log_call(page: PageOf, task_id: str, duration: Text = "", unit: Text = "minutes",
             disposition: Text = "", notes: Text = "", kind: Text = "") -> Response:
    try:
        change(page, task_id, {"status": "completed",
                               "call": call_of(duration, unit, disposition, notes)})
    except ServiceError as exc:
        return _refused(page, exc, task_id, kind, call_typed={
            "duration": duration, "unit": unit, "disposition": disposition, "notes": notes})
    return _back(kind, "call")


@router.post("/{task_id}/send", response_class=HTMLResponse)
async def send(page: PageOf, task_id: str, kind: Text = "") -> Response:
    try:
        app = page.app
        await tasks.send(Deps(app.sessions, app.vault, app.settings), page.actor, task_id)
        app.nudge_sender()
        app.nudge_sequencer()
    except ServiceError as exc:
        return _refused(page, exc, task_id, kind)
    return _back(kind, "sent")

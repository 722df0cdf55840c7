"""The sidebar's Tasks tab (/app/sidebar/tasks?email=…): this person's open tasks (each
completed, deferred or skipped), a small new-task form, and "Add to sequence" (one of the
member's sequences; the address added as by the recipients form)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse, Response

from tether.services import people, sequences, tasks
from tether.services.errors import Invalid, NotFound, ServiceError
from tether.services.records import Deps
from tether.web.ui import tasks_page
from tether.web.ui.common import Page, PageOf, redirect

router = APIRouter(prefix="/app/sidebar")
TEMPLATE = "sidebar_tasks.html"
Email = Annotated[str, Query(max_length=320)]
FormEmail = Annotated[str, Form(max_length=320)]
FLASHES = {"created": "Task created.", "completed": "Task completed.",
           "deferred": "Task deferred.", "skipped": "Task skipped.",
           "added": "Added to the sequence.", "already": "Already in that sequence."}


def _context(page: Page, email: str) -> dict[str, Any]:
    address = people.check_email(email)
    with page.app.sessions() as db:
        open_tasks = [tasks.task_json(t) for t in tasks.listing(db, page.actor, status="open",
                                                                  who=address)]
        own = sequences.listing(db, page.actor)
        member_of = []
        for seq in own:
            try:
                r = sequences.recipient(db, page.actor, seq.id, address)
            except NotFound:
                continue
            member_of.append({"id": seq.id, "name": seq.name, "state": r.state,
                              "stage": r.stage, "stages": len(seq.stages)})
        choices = [{"id": s.id, "name": s.name, "status": s.status} for s in own
                   if s.id not in {m["id"] for m in member_of}]
    params = page.request.query_params
    return {"email": address, "tasks": open_tasks, "in_sequences": member_of,
            "sequences": choices, "kinds": tasks_page.KINDS, "today": tasks_page.today(),
            "day": tasks_page.day,
            "typed": tasks_page.blank_task(), "flash": FLASHES.get(params.get("done", "")),
            "phone": next(((p, tasks_page.tel(p)) for p in
                           tasks_page.phones(page, [address]).values()), None),
            "problem": None,
            "problem_at": None, "problem_field": None}


def _page_of(page: Page, email: str, exc: ServiceError, at: str, **extra: Any
             ) -> HTMLResponse:
    try:
        context = _context(page, email)
    except ServiceError:
        return page.render(TEMPLATE, status_code=exc.status, email=email, view=None,
                           error=exc.message)
    return page.render(TEMPLATE, status_code=exc.status, **{
        **context, **extra, "problem": exc.message, "problem_at": at,
        "problem_field": exc.field})


def _back(email: str, done: str) -> Response:
    return redirect("/app/sidebar/tasks?" + urlencode({"email": email, "done": done}))


@router.get("/tasks", response_class=HTMLResponse)
def tasks_tab(page: PageOf, email: Email = "") -> HTMLResponse:
    try:
        return page.render(TEMPLATE, **_context(page, email))
    except ServiceError as exc:
        return page.render(TEMPLATE, status_code=exc.status, email=email, view=None,
                           error=exc.message)


@router.post("/tasks", response_class=HTMLResponse)
def create_task(page: PageOf) -> Response:
    assert page.form is not None
    typed = tasks_page.typed_task(page.form)
    email = typed["who"]
    try:
        with page.app.sessions() as db:
            tasks.create(db, page.actor, tasks_page.task_in(typed))
            db.commit()
    except ServiceError as exc:
        return _page_of(page, email, exc, "new", typed=typed)
    page.app.nudge_pipeline()
    return _back(email, "created")


@router.post("/tasks/{task_id}/status", response_class=HTMLResponse)
def set_status(page: PageOf, task_id: str,
               status: Annotated[Literal["completed", "deferred", "skipped"], Form()],
               email: FormEmail = "") -> Response:
    try:
        tasks_page.change(page, task_id, {"status": status})
    except ServiceError as exc:
        return _page_of(page, email, exc, task_id)
    return _back(email, status)


@router.post("/sequence", response_class=HTMLResponse)
async def add_to_sequence(page: PageOf, email: FormEmail = "",
                          sequence_id: Annotated[str, Form(max_length=64)] = "") -> Response:
    try:
        if not sequence_id:
            raise Invalid("choose one of your sequences", "sequence_id")
        out = await sequences.add(Deps(page.app.sessions, page.app.vault, page.app.settings),
                                  page.actor, sequence_id, {"recipients": [{"email": email}]})
    except ServiceError as exc:
        return _page_of(page, email, exc, "sequence")
    page.app.nudge_sequencer()
    return _back(email, "added" if out["added"] else "already")

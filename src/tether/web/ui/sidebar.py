"""The sidebar (a person's Salesforce records, at 360 px, framed or standalone) and the People
search page.  Reads come from the mirror; edits and creates go to Salesforce as the signed-in
user (services.records), and each answer is rendered from the mirror they updated.

Inline editing: a field's pencil fetches its input (htmx), saving posts it with the
SystemModstamp the card was rendered with and answers the whole card again (its stamp
changed); a refusal or a conflict is the card with the words beside that field.  Error
statuses (409, 422) are swapped in too (the htmx-config in sidebar_base.html).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from tether.services import forms, people, records
from tether.services.errors import Conflict, ServiceError
from tether.store.models import MirrorRecord
from tether.web.ui.common import Page, PageOf

router = APIRouter()
Email = Annotated[str, Query(max_length=320)]
INPUT_TYPES = {"date": "date", "datetime": "datetime-local", "email": "email", "url": "url",
               "phone": "tel", "int": "number", "double": "number", "currency": "number",
               "percent": "number"}


def _deps(page: Page) -> records.Deps:
    return records.Deps(page.app.sessions, page.app.vault, page.app.settings)


def _view(page: Page, email: str) -> dict[str, Any]:
    with page.app.sessions() as db:
        body = people.view(db, page.actor, email)
        editable = forms.edit_fields(db, page.actor)
    return {"view": body, "editable": editable, "email": body["email"],
            "input_types": INPUT_TYPES}


@router.get("/app/sidebar", response_class=HTMLResponse)
def sidebar(page: PageOf, email: Email = "") -> HTMLResponse:
    if not email:
        return page.render("sidebar.html", view=None, email="")
    try:
        return page.render("sidebar.html", **_view(page, email))
    except ServiceError as exc:
        return page.render("sidebar.html", status_code=exc.status, view=None, email=email,
                           error=exc.message)


@router.get("/app/sidebar/field/{sobject}/{sf_id}/{name}", response_class=HTMLResponse)
def field_editor(page: PageOf, sobject: str, sf_id: str, name: str, email: Email = ""
                 ) -> HTMLResponse:
    """One field's input, in place of its value."""
    with page.app.sessions() as db:
        editable = forms.edit_fields(db, page.actor).get(sobject, {})
        row = db.get(MirrorRecord, (page.actor.workspace_id, sf_id))
    f = editable.get(name)
    if f is None or row is None or row.sobject != sobject or row.is_deleted:
        return page.render("_field.html", status_code=404, error="this field cannot be edited")
    return page.render("_field.html", f=f, sobject=sobject, sf_id=sf_id, email=email,
                       value=row.data.get(name), modstamp=row.system_modstamp,
                       input_types=INPUT_TYPES)


def _card(page: Page, email: str, sf_id: str, status: int = 200,
          **extra: Any) -> HTMLResponse:
    """The card of one record of the view (a person, their Account or an Opportunity)."""
    context = _view(page, email)
    for person in context["view"]["records"]:
        for record, kind in [(person, "person"), (person.get("account"), "account"),
                             *((o, "opportunity") for o in person["opportunities"])]:
            if record and record["Id"] == sf_id:
                return page.render("_card.html", status_code=status, r=record, kind=kind,
                                   **context, **extra)
    return page.render("_card.html", status_code=404, r=None, kind="gone", **context)


@router.post("/app/sidebar/records/{sobject}/{sf_id}", response_class=HTMLResponse)
async def save_field(page: PageOf, sobject: str, sf_id: str) -> HTMLResponse:
    form = page.form
    assert form is not None
    name, value = str(form.get("name") or ""), form.get("value")
    email = str(form.get("email") or "")
    if value is None:  # an unticked checkbox sends nothing
        value = ""
    try:
        await records.update(_deps(page), page.actor, sobject, sf_id, {name: str(value)},
                             str(form.get("expected_modstamp") or ""))
    except Conflict as exc:
        return _card(page, email, sf_id, 409, problem={"field": name, "detail": exc.message},
                     conflict={**exc.extra, "name": name} if "current" in exc.extra else None)
    except ServiceError as exc:
        code = exc.extra.get("salesforce", {}).get("errorCode")
        return _card(page, email, sf_id, exc.status,
                     problem={"field": name, "detail": exc.message, "code": code})
    return _card(page, email, sf_id, saved=name)


# -- create ------------------------------------------------------------------------------------
def _create_context(page: Page, sobject: str, params: dict[str, str]) -> dict[str, Any]:
    with page.app.sessions() as db:
        fields = forms.create_fields(db, page.actor, sobject)
    return {"sobject": sobject, "fields": fields, "params": params, "values": {},
            "input_types": INPUT_TYPES, "email": params.get("email", "")}


def _prefill(sobject: str, params: dict[str, str]) -> dict[str, str]:
    """What the sidebar knows already: the address, the person a Task is about."""
    out: dict[str, str] = {}
    if sobject in ("Lead", "Contact") and params.get("email"):
        out["Email"] = params["email"]
    if sobject == "Task" and params.get("who_id"):
        out["WhoId"] = params["who_id"]
    return out


@router.get("/app/sidebar/new/{sobject}", response_class=HTMLResponse)
def new_record(page: PageOf, sobject: str, email: Email = "", who_id: str = "",
               contact_id: str = "") -> HTMLResponse:
    params = {"email": email, "who_id": who_id, "contact_id": contact_id}
    try:
        context = _create_context(page, sobject, params)
    except ServiceError as exc:
        return page.render("sidebar.html", status_code=exc.status, view=None, email=email,
                           error=exc.message)
    values = {f.name: f.default for f, _ in context["fields"] if f.default}
    return page.render("sidebar_new.html", **{**context, "values": {
        **values, **_prefill(sobject, params)}})


@router.post("/app/sidebar/new/{sobject}", response_class=HTMLResponse)
async def create_record(page: PageOf, sobject: str) -> Response:
    form = page.form
    assert form is not None
    params = {k: str(form.get(k) or "") for k in ("email", "who_id", "contact_id")}
    context = _create_context(page, sobject, params)
    values = {f.name: str(form.get(f"f_{f.name}") or "") for f, _ in context["fields"]}
    for f, _ in context["fields"]:
        if f.type == "boolean":
            values[f.name] = "true" if form.get(f"f_{f.name}") else "false"
    chosen = {k: v for k, v in values.items() if v != ""}
    if sobject == "Task" and params["who_id"]:
        chosen.setdefault("WhoId", params["who_id"])
    try:
        made = await records.create(_deps(page), page.actor, sobject, chosen,
                                    contact_id=params["contact_id"] or None)
    except ServiceError as exc:
        return page.render("sidebar_new.html", status_code=exc.status, **{
            **context, "values": values}, error=exc.message, error_field=exc.field,
            existing=exc.extra.get("existing"), missing=exc.extra.get("missing_fields", []))
    email = params["email"] or str(chosen.get("Email") or "")
    target = "/app/sidebar?" + urlencode({"email": email, "notice": "record_created"})
    if page.request.headers.get("hx-request"):
        return Response(status_code=200, headers={"HX-Redirect": target})
    return Response(status_code=303, headers={"Location": target}) if email else \
        page.render("sidebar_new.html", **context, created=made)


@router.get("/app/sidebar/accounts", response_class=HTMLResponse)
def account_options(page: PageOf, q: Annotated[str, Query(max_length=200)] = ""
                    ) -> HTMLResponse:
    """The Account picker's choices (a Contact's Account), found by name over the mirror."""
    found: list[dict[str, Any]] = []
    if len(q.strip()) >= 2:
        with page.app.sessions() as db:
            found = [i for i in people.search(db, page.actor, q) if i["object"] == "Account"]
    return page.render("_account_options.html", accounts=found, q=q)


# -- the People page ---------------------------------------------------------------------------
@router.get("/app/people", response_class=HTMLResponse)
def people_page(page: PageOf, q: Annotated[str, Query(max_length=200)] = "") -> HTMLResponse:
    items: list[dict[str, Any]] = []
    error = None
    if q.strip():
        try:
            with page.app.sessions() as db:
                items = people.search(db, page.actor, q)
        except ServiceError as exc:
            error = exc.message
    return page.render("people.html", q=q, items=items, error=error)

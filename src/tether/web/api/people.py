"""JSON API v1: people (the sidebar's view and search, from the mirror) and Salesforce
records edited and created as the caller."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from tether.services import forms, people, records
from tether.web.deps import Db, Me, State
from tether.web.strict import StrictRoute

router = APIRouter(prefix="/api/v1", route_class=StrictRoute)

Value = str | int | float | bool | None
FieldName = Annotated[str, Field(min_length=1, max_length=80)]
Values = Annotated[dict[FieldName, Annotated[Value, Field(union_mode="left_to_right")]],
                   Field(max_length=300)]


class CreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fields: Values
    # An Opportunity created from a person: that Contact gets a contact role on it.
    contact_id: str | None = Field(default=None, min_length=15, max_length=18)


class UpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fields: Values
    expected_modstamp: str = Field(min_length=1, max_length=40)


def _deps(app: State) -> records.Deps:
    return records.Deps(app.sessions, app.vault, app.settings)


@router.get("/people")
def person(db: Db, actor: Me, email: str = Query(min_length=3, max_length=320)
           ) -> dict[str, Any]:
    """The Leads and Contacts with this address, with Account, Opportunities and Activity
    History, from the mirror (no Salesforce API call)."""
    return people.view(db, actor, email)


@router.get("/people/search")
def search(db: Db, actor: Me, q: str = Query(min_length=1, max_length=200),
           limit: int = Query(people.SEARCH_LIMIT, ge=1, le=100)) -> dict[str, Any]:
    """Leads, Contacts and Accounts by name, last name, company or email (prefixes)."""
    return {"q": q, "items": people.search(db, actor, q, limit)}


@router.get("/salesforce/forms/{sobject}")
def form(sobject: str, db: Db, actor: Me) -> dict[str, Any]:
    """The fields a create form asks for: the layout-required ones and the role's visible
    ones, with labels, types and picklist values."""
    return forms.create_form(db, actor, sobject)


@router.post("/salesforce/records/{sobject}", status_code=201)
async def create(sobject: str, body: CreateIn, actor: Me, app: State) -> dict[str, Any]:
    return await records.create(_deps(app), actor, sobject, body.fields,
                                contact_id=body.contact_id)


@router.patch("/salesforce/records/{sobject}/{sf_id}")
async def update(sobject: str, sf_id: str, body: UpdateIn, actor: Me, app: State
                 ) -> dict[str, Any]:
    return await records.update(_deps(app), actor, sobject, sf_id, body.fields,
                                body.expected_modstamp)

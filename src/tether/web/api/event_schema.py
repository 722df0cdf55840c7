"""The OpenAPI description of ``POST /api/v1/events``: one model per event type, a union
discriminated by ``type``, and the request (one event, or ``{"events": [...]}``).

Only the document uses these models: the route reads and checks its body itself (strict
JSON, tether/web/strict.py; then services/events.py), so parsing, its speed and its refusals
are those of the domain.  The models are made from the domain's own dataclass
(:class:`tether.domain.events.Event`, whose bounds become ``maxLength``), and a field is
required for a type exactly when :func:`tether.domain.events.problems` says so of an event
of that type without it: the schema and the checks cannot disagree.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, RootModel, TypeAdapter, create_model

from tether.domain import events as domain

REF = "#/components/schemas/{model}"
# What each type records, as /docs shows it (docs/events.md has the whole story).
SUMMARY = {
    domain.EventType.EMAIL_SENT: "You sent an email (a new one, or a reply you wrote).",
    domain.EventType.EMAIL_OPENED: "A recipient opened an email you sent.",
    domain.EventType.EMAIL_CLICKED: "A recipient clicked a link in an email you sent.",
    domain.EventType.EMAIL_DOWNLOADED: "A recipient downloaded a file of an email you sent.",
    domain.EventType.EMAIL_REPLIED: "A recipient replied to an email you sent.",
    domain.EventType.EMAIL_RECEIVED: "Someone wrote to you (not a reply to your email).",
    domain.EventType.EMAIL_BOUNCED: "An email you sent came back undelivered to a recipient.",
    domain.EventType.MEETING_CONFIRMED: "A meeting was booked with you as its organizer.",
    domain.EventType.CALENDAR_EVENT: "An event on your primary calendar, created or changed.",
    domain.EventType.TASK_CREATED: "You created a task (to-do, call, email or LinkedIn).",
    domain.EventType.TASK_UPDATED: "You changed a task.",
    domain.EventType.TASK_COMPLETED: "You completed a task.",
    domain.EventType.CALL_LOGGED: "You logged a call.",
}


def required_fields(kind: domain.EventType) -> frozenset[str]:
    """The optional fields of :class:`~tether.domain.events.Event` that ``kind`` needs:
    those :func:`~tether.domain.events.problems` calls required on a bare event."""
    bare = domain.Event(id="x", type=kind, occurred_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                        user="someone@example.com")
    return frozenset(name for name, what in domain.problems(bare)
                     if what.startswith("is required"))


def _without_none(hint: Any) -> Any:
    """``X | None`` as ``X`` (annotations and all)."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        kept = [a for a in typing.get_args(hint) if a is not type(None)]
        return kept[0] if len(kept) == 1 else Union[tuple(kept)]  # noqa: UP007
    return hint


def _model_name(kind: domain.EventType) -> str:
    return "".join(part.title() for part in kind.value.split(".")) + "Event"


# Descriptions of the fields every event has, and of the id's rule.
DESCRIBED = {
    "id": Field(min_length=1, max_length=200, description="Yours, unique per event: an id "
                "seen before is accepted again and changes nothing."),
    "occurred_at": Field(description="ISO 8601 with an offset (2026-11-28T10:00:00Z), from "
                         "2000-01-01 to one day from now (TETHER_EVENT_EARLIEST_DATE, "
                         "TETHER_EVENT_MAX_AHEAD_HOURS)."),
    "user": Field(description="The member whose activity this is, by email: a member's key "
                  "posts its own events, an admin's any member's."),
}


def _event_model(kind: domain.EventType) -> type[BaseModel]:
    hints = typing.get_type_hints(domain.Event, include_extras=True)
    needed = required_fields(kind)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(domain.Event):
        hint = Literal[kind.value] if f.name == "type" else hints[f.name]
        if f.name in needed:
            hint = _without_none(hint)
        if f.name in DESCRIBED:
            hint = Annotated[hint, DESCRIBED[f.name]]
        required = f.name in needed or f.default is dataclasses.MISSING
        fields[f.name] = (hint, ... if required else f.default)
    return create_model(_model_name(kind), __doc__=f"`{kind.value}`: {SUMMARY[kind]}",
                        __config__=ConfigDict(extra="forbid"), **fields)


EVENT_MODELS = {kind: _event_model(kind) for kind in domain.EventType}
# Made at run time from the models above: types to pydantic, values (Any) to mypy.
_ANY_EVENT: Any = Annotated[Union[tuple(EVENT_MODELS.values())],  # noqa: UP007
                            Field(discriminator="type")]
Event: Any = type("Event", (RootModel[_ANY_EVENT],), {
    "__doc__": "One event; its `type` says which fields it has.", "__module__": __name__})
EventBatch: Any = create_model(
    "EventBatch", __doc__="Several events in one request: stored together, or (one of them "
    "refused) none.", __config__=ConfigDict(extra="forbid"),
    events=(Annotated[list[Event], Field(min_length=1, max_length=1000)], ...))
_REQUEST: Any = Union[Event, EventBatch]  # noqa: UP007


class Accepted(BaseModel):
    """The events are stored: their ids, each once."""

    accepted: list[str]


class Refusal(BaseModel):
    """What is wrong, and where (``events[3].message.to[0]``)."""

    detail: str
    code: str
    field: str | None


def _closed(schemas: dict[str, Any]) -> dict[str, Any]:
    """Every object of the event format refuses fields it does not have (unknown_fields
    refuses them in the nested parts too)."""
    for schema in schemas.values():
        if schema.get("type") == "object" and "properties" in schema:
            schema.setdefault("additionalProperties", False)
    return schemas


def _document() -> tuple[dict[str, Any], dict[str, Any]]:
    """(the operation's requestBody and responses, the component schemas they refer to)."""
    request = TypeAdapter(_REQUEST).json_schema(ref_template=REF)
    defs = request.pop("$defs")
    for model in (Accepted, Refusal):
        defs[model.__name__] = model.model_json_schema(ref_template=REF)
    defs["EventsRequest"] = {"title": "EventsRequest", **request,
                             "description": "One event, or {\"events\": [...]} (1 to 1,000)."}
    json = "application/json"
    operation = {
        "requestBody": {"required": True, "content": {json: {"schema": {
            "$ref": REF.format(model="EventsRequest")}}}},
        "responses": {
            "202": {"description": "Stored, before this answer.",
                    "content": {json: {"schema": {"$ref": REF.format(model="Accepted")}}}},
            "422": {"description": "An event refused, and nothing of the request stored.",
                    "content": {json: {"schema": {"$ref": REF.format(model="Refusal")}}}}},
    }
    return operation, _closed(defs)


OPERATION, COMPONENTS = _document()

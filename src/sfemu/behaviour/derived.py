"""Fields Salesforce computes itself: names, stage flags, task closure, activity accounts."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sfemu.behaviour.values import format_datetime, parse_datetime
from sfemu.errors import ApiError
from sfemu.schema import ObjectDef
from sfemu.schema.standard import OPPORTUNITY_STAGES, TASK_STATUSES

if TYPE_CHECKING:
    from sfemu.dml import Dml


def apply(dml: Dml, obj: ObjectDef, data: dict[str, Any], old: dict[str, Any] | None) -> None:
    if obj.name in ("Contact", "Lead", "User"):
        data["Name"] = " ".join(p for p in (data.get("FirstName"), data.get("LastName")) if p)
    if obj.name == "Opportunity":
        _opportunity(data, old)
    elif obj.name == "Task":
        _task(dml, data, old)
    elif obj.name == "Event":
        _event(data, old)
    if obj.name in ("Task", "Event"):
        _check_activity_relations(dml, data)
        data["AccountId"] = _activity_account(dml, data)


def _opportunity(data: dict[str, Any], old: dict[str, Any] | None) -> None:
    stage = OPPORTUNITY_STAGES.get(data.get("StageName") or "")
    if stage is None:
        data["IsClosed"], data["IsWon"] = False, False
        return
    probability, closed, won, forecast = stage
    data["IsClosed"], data["IsWon"], data["ForecastCategoryName"] = closed, won, forecast
    stage_changed = old is None or old.get("StageName") != data.get("StageName")
    probability_given = old is not None and old.get("Probability") != data.get("Probability")
    if data.get("Probability") is None or (stage_changed and not probability_given):
        data["Probability"] = float(probability)


def _task(dml: Dml, data: dict[str, Any], old: dict[str, Any] | None) -> None:
    closed = TASK_STATUSES.get(data.get("Status") or "", False)
    data["IsClosed"] = closed
    if closed and not data.get("CompletedDateTime"):
        data["CompletedDateTime"] = dml.emu.stamp()
    elif not closed:
        data["CompletedDateTime"] = None
    if data.get("TaskSubtype") is None:
        data["TaskSubtype"] = "Call" if data.get("CallDurationInSeconds") is not None else "Task"


def _event(data: dict[str, Any], old: dict[str, Any] | None) -> None:
    if data.get("IsAllDayEvent"):
        if data.get("ActivityDate") is None and data.get("StartDateTime"):
            data["ActivityDate"] = data["StartDateTime"][:10]
        if data.get("DurationInMinutes") is None:
            data["DurationInMinutes"] = 1440
        return
    start, end, minutes = (data.get("StartDateTime") or data.get("ActivityDateTime"),
                           data.get("EndDateTime"), data.get("DurationInMinutes"))
    if start is None:
        raise ApiError("REQUIRED_FIELD_MISSING", "Required fields are missing: "
                       "[StartDateTime]", ["StartDateTime"])
    begin = parse_datetime(str(start))
    # An end the client set wins; otherwise the end follows the start by the duration, as
    # Salesforce keeps an event's length when only its start moves.
    end_set = end is not None and (old is None or old.get("EndDateTime") != end
                                   or minutes is None)
    if end_set:
        span = int((parse_datetime(str(end)) - begin).total_seconds() // 60)
        if span < 0:
            raise ApiError("FIELD_INTEGRITY_EXCEPTION",
                           "End Date Time: End time must be after the start time",
                           ["EndDateTime"])
        data["DurationInMinutes"] = span
    elif minutes is not None:
        data["EndDateTime"] = format_datetime(begin + dt.timedelta(minutes=int(minutes)))
    else:
        raise ApiError("REQUIRED_FIELD_MISSING", "Required fields are missing: "
                       "[DurationInMinutes]", ["DurationInMinutes"])
    data["StartDateTime"] = format_datetime(begin)
    data["ActivityDateTime"] = data["StartDateTime"]
    data["ActivityDate"] = data["StartDateTime"][:10]


# The message Salesforce gives is not documented; the rule is ("If the WhoId refers to a
# lead, then the WhatId field must be empty", Task and Event reference).
LEAD_WITH_WHAT = "Related To ID: You can't associate a lead with an account or opportunity"


def _check_activity_relations(dml: Dml, data: dict[str, Any]) -> None:
    """An activity about a lead relates to nothing else: WhoId a Lead means no WhatId."""
    who, what = data.get("WhoId"), data.get("WhatId")
    if not who or not what:
        return
    target = dml.schema.by_prefix(str(who)[:3])
    if target is not None and target.name == "Lead":
        raise ApiError("FIELD_INTEGRITY_EXCEPTION", LEAD_WITH_WHAT, ["WhoId", "WhatId"])


def _activity_account(dml: Dml, data: dict[str, Any]) -> str | None:
    """Task.AccountId: the What's Account (or an Opportunity's), else the Contact's Account."""
    store, org_id = dml.emu.store, dml.org.id
    what = data.get("WhatId")
    if what:
        target = dml.schema.by_prefix(what[:3])
        if target is not None and target.name == "Account":
            return str(what)
        if target is not None and target.name == "Opportunity":
            row = store.get_many("Opportunity", org_id, [what]).get(what)
            return None if row is None else row.data.get("AccountId")
    who = data.get("WhoId")
    if who and who.startswith("003"):
        row = store.get_many("Contact", org_id, [who]).get(who)
        return None if row is None else row.data.get("AccountId")
    return None

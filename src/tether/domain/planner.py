"""The activity planner (pure): from an event, the user's effective settings and the mirror,
the Salesforce writes to make, or the reason to write nothing.

One :class:`ActivityPlan` per recipient; each holds one write per related record (or one on
the Lead/Contact alone), keyed by a deterministic activity key, so an event planned twice
plans the same writes and the writer's upsert makes them land once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tether.domain import naming
from tether.domain.description import Named, RelatedRecord, describe
from tether.domain.events import (
    MEETING_EVENTS,
    TASK_EVENTS,
    Call,
    Event,
    EventType,
    recipients,
)
from tether.domain.exclusions import exclusion_reason, normalize_email
from tether.domain.matching import (
    DEFAULT_TIE_BREAK,
    MirrorView,
    Person,
    Related,
    TieBreak,
    choose,
    related_records,
)
from tether.domain.settings import Activity, EffectiveSettings, EmailScope

Status = Literal["queued", "ignored", "pending", "errored"]
# What a pending activity waits for.
NO_RECORD_YET, UNCONNECTED = "no_record", "unconnected"
NOT_CONNECTED = "TETHER_NOT_CONNECTED"  # an activity's error code: its member never connected
KEY_FOOTER = "Tether activity key: "
DESCRIPTION_LENGTH = 32_000
PRIORITY_FIRST, PRIORITY_LAST = 0, 1  # replies, sends, meetings, calls first; tracking last

_ACTIVITY_OF = {
    EventType.EMAIL_SENT: Activity.SENT,
    EventType.EMAIL_OPENED: Activity.OPENED,
    EventType.EMAIL_CLICKED: Activity.CLICKED,
    EventType.EMAIL_DOWNLOADED: Activity.DOWNLOADED,
    EventType.EMAIL_REPLIED: Activity.REPLIED,
    EventType.EMAIL_RECEIVED: Activity.REPLIED,
    EventType.EMAIL_BOUNCED: Activity.SENT,  # and only with log_bounces (_event_refusal)
    EventType.MEETING_CONFIRMED: Activity.MEETING_CONFIRMED,
    EventType.CALENDAR_EVENT: Activity.MEETING_CONFIRMED,
    EventType.TASK_CREATED: Activity.TASKS,
    EventType.TASK_UPDATED: Activity.TASKS,
    EventType.TASK_COMPLETED: Activity.TASKS,
    EventType.CALL_LOGGED: Activity.TASKS,
}
_TASK_STATUS = {"open": "Not Started", "completed": "Completed", "deferred": "Deferred"}
# The Task fields Tether itself sets: a task's own values (role task fields) never replace them.
TETHER_OWNS = frozenset({"Subject", "OwnerId", "WhoId", "WhatId", "Description", "Status",
                         "ActivityDate", "TaskSubtype", "Type", "CallDurationInSeconds",
                         "CallDisposition", "CallType"})
_SUBTYPE = {"todo": "Task", "call": "Call", "linkedin": "LinkedIn", "email": "Email"}
NO_RECORD = "no Lead or Contact with this email yet"


@dataclass(frozen=True)
class UserContext:
    workspace_id: str
    email: str
    display_name: str
    effective: EffectiveSettings
    connected: bool
    salesforce_user_id: str | None
    # Not connected, but the workspace has the Sync User write such a member's activity (with
    # OwnerId set to the member's Salesforce user, found by email when it is written).
    via_sync_user: bool = False
    excluded_addresses: frozenset[str] = frozenset()
    excluded_domains: frozenset[str] = frozenset()
    tie_break: tuple[TieBreak, ...] = DEFAULT_TIE_BREAK


@dataclass(frozen=True)
class PlannedWrite:
    key: str  # the activity key: Tether_Activity_Key__c, and the footer of the Description
    sobject: Literal["Task", "Event"]
    fields: dict[str, Any]
    related: str | None  # the WhatId's object, for the log
    owner_email: str | None = None  # OwnerId to be found by this email (via the Sync User)


@dataclass(frozen=True)
class ActivityPlan:
    recipient: str | None
    status: Status
    reason: str
    priority: int = PRIORITY_FIRST
    match: dict[str, Any] | None = None
    writes: tuple[PlannedWrite, ...] = ()
    # Writes of this group (a meeting, a task) that this plan does not repeat are deleted:
    # an attendee removed, a meeting cancelled.
    group: str | None = None
    cause: str | None = None  # a pending plan's: NO_RECORD_YET or UNCONNECTED


@dataclass(frozen=True)
class PlanInput:
    event: Event
    user: UserContext
    view: MirrorView
    # (type, message id, recipient) of tracking activities already logged: 'first only'.
    already_logged: frozenset[tuple[str, str, str]] = frozenset()
    pending_expired: bool = False  # the activity's wait (for waited_for) is over
    pending_window: dt.timedelta = field(default=dt.timedelta(hours=24))
    waited_for: str | None = None  # the cause of that wait
    connection_window: dt.timedelta = field(default=dt.timedelta(days=30))


def activity_key(workspace_id: str, *parts: str) -> str:
    digest = hashlib.sha256("\x1f".join((workspace_id, *parts)).encode()).hexdigest()
    return "t1" + digest[:46]


def group_of(event: Event) -> str | None:
    if event.type in MEETING_EVENTS and event.meeting is not None:
        return f"meeting:{event.meeting.id}"
    if event.type in TASK_EVENTS and event.task is not None:
        return f"task:{event.task.id}"
    return None


def plan(inp: PlanInput) -> list[ActivityPlan]:
    """One plan per recipient of the event."""
    event = inp.event
    priority = PRIORITY_LAST if event.type.is_tracking else PRIORITY_FIRST
    group = group_of(event)
    whole = _event_refusal(inp)
    user = inp.user
    unconnected = not (user.connected and user.salesforce_user_id) and not user.via_sync_user
    out: list[ActivityPlan] = []
    for recipient, is_bcc in recipients(event):
        if whole is not None:
            out.append(ActivityPlan(recipient, "ignored", whole, priority,
                                    group=group if event.type in MEETING_EVENTS else None))
            continue
        planned = _plan_recipient(inp, recipient, is_bcc, priority, group)
        if unconnected and planned.status in ("queued", "pending"):
            planned = _until_connected(inp, recipient, priority, group)
        out.append(planned)
    return out


def _until_connected(inp: PlanInput, recipient: str | None, priority: int,
                     group: str | None) -> ActivityPlan:
    """The member has no Salesforce connection: the activity waits for one (never dropped),
    and is errored, retryable, once the wait is over."""
    email = inp.user.email
    if inp.pending_expired and inp.waited_for == UNCONNECTED:
        days = inp.connection_window.days
        return ActivityPlan(recipient, "errored", f"{email} did not connect Salesforce within "
                            f"{days} days; retry once they have", priority, group=group)
    return ActivityPlan(recipient, "pending", f"{email} has no Salesforce connection yet: "
                        "logged once they connect", priority, group=group, cause=UNCONNECTED)


def _event_refusal(inp: PlanInput) -> str | None:
    """A reason that applies to every recipient of the event, or None."""
    event, user = inp.event, inp.user
    settings = user.effective.settings
    if not user.effective.salesforce_enabled:
        return "the workspace's plan does not include Salesforce (Growth or Enterprise)"
    if event.type is EventType.EMAIL_BOUNCED and not settings.log_bounces:
        return ("bounces are recorded in Tether (the message shows it), not logged to "
                "Salesforce unless the role asks ('Log bounces')")
    activity = _ACTIVITY_OF[event.type]
    if activity not in settings.activities:
        where = (f"the role {user.effective.role_name}" if user.effective.role_name
                 else "your settings")
        return f"'{activity.value}' activities are switched off for {where}"
    if (event.type is EventType.EMAIL_SENT and event.message is not None
            and event.message.sent_via != "tether"
            and settings.email_scope is EmailScope.TETHER_ONLY):
        return "the email was sent outside Tether; only emails sent with Tether are logged"
    if event.type in MEETING_EVENTS and event.meeting is not None:
        if event.meeting.calendar != "primary":
            return "the meeting is not on the organizer's primary calendar"
        if normalize_email(event.meeting.organizer) != normalize_email(user.email):
            return "meetings are logged only by their organizer"
    if event.type in TASK_EVENTS and event.task is not None and event.task.kind == "email":
        return "email tasks are not logged when created; the email is logged as Sent when sent"
    return None


def _plan_recipient(inp: PlanInput, recipient: str | None, is_bcc: bool, priority: int,
                    group: str | None) -> ActivityPlan:
    event, user = inp.event, inp.user
    if is_bcc:
        return ActivityPlan(recipient, "ignored", "BCC recipients are never logged", priority)
    if recipient is not None:
        excluded = exclusion_reason(recipient, user.excluded_addresses, user.excluded_domains)
        if excluded:
            return ActivityPlan(recipient, "ignored", excluded, priority, group=group)
        if event.message is not None and normalize_email(recipient) in {
                normalize_email(a) for a in event.message.bcc} and event.type.is_tracking:
            return ActivityPlan(recipient, "ignored", "BCC recipients are never logged",
                                priority)
    settings = user.effective.settings
    if (event.type.is_tracking and event.tracking is not None
            and event.tracking.verdict == "machine" and not settings.log_machine_hits):
        because = "; ".join(event.tracking.evidence) or "judged a machine"
        return ActivityPlan(recipient, "ignored", f"a machine, not a person, made this "
                            f"{_noun(event.type)} ({because}); machine opens and clicks are "
                            "recorded but not logged", priority)
    if event.type.is_tracking and settings.first_only and event.message is not None:
        seen = (event.type.value, event.message.id, recipient or "")
        if seen in inp.already_logged:
            return ActivityPlan(recipient, "ignored", f"not the first {_noun(event.type)} of "
                                "this message by this recipient ('only sync the first')",
                                priority)
    if event.type in MEETING_EVENTS and event.meeting is not None:
        if event.meeting.status == "cancelled":
            return ActivityPlan(recipient, "queued", "the meeting was cancelled: its Events "
                                "are deleted", priority, None, (), group)
        if recipient is None:
            return ActivityPlan(None, "ignored", "the meeting has no attendee besides its "
                                "organizer", priority, group=group)
    if recipient is None:  # a task about nobody in particular: the rep's own Task
        return _with_writes(inp, None, None, [], priority, group)
    match = choose(inp.view.people.get(recipient, ()), user.tie_break, user.salesforce_user_id)
    if match is None:
        lead = inp.view.converted_without_contact.get(recipient)
        cause = (f"Lead {lead} was converted, and its Contact is not in Salesforce yet"
                 if lead else NO_RECORD)
        if inp.pending_expired and inp.waited_for in (None, NO_RECORD_YET):
            hours = int(inp.pending_window.total_seconds() // 3600)
            return ActivityPlan(recipient, "ignored", f"{cause} (waited {hours} h)", priority,
                                group=group)
        return ActivityPlan(recipient, "pending", cause, priority, group=group,
                            cause=NO_RECORD_YET)
    related = related_records(match.person, settings, inp.view, user.salesforce_user_id)
    return _with_writes(inp, recipient, match.person, related, priority, group,
                        {"object": match.person.sobject, "Id": match.person.id,
                         "reason": match.reason, "candidates": list(match.candidates),
                         "related": [{"object": r.sobject, "Id": r.id, "why": r.why}
                                     for r in related]})


def _noun(kind: EventType) -> str:
    return {EventType.EMAIL_OPENED: "open", EventType.EMAIL_CLICKED: "click"}.get(
        kind, "download")


def _with_writes(inp: PlanInput, recipient: str | None, person: Person | None,
                 related: Sequence[Related], priority: int, group: str | None,
                 match: dict[str, Any] | None = None) -> ActivityPlan:
    event = inp.event
    who = person.id if person else None
    targets: list[Related | None] = list(related) or [None]
    if person is not None and person.sobject == "Lead" and related:
        # Salesforce refuses a WhatId beside a Lead WhoId: the Lead gets its own activity and
        # each related record one without a WhoId.
        targets = [None, *related]
    writes = []
    for target in targets:
        key = _key(inp, recipient, target)
        write_who = who if target is None or person is None or person.sobject != "Lead" \
            else None
        writes.append(PlannedWrite(key, "Event" if event.type in MEETING_EVENTS else "Task",
                                   _fields(inp, key, write_who, target, person, recipient),
                                   target.sobject if target else None,
                                   inp.user.email if inp.user.via_sync_user else None))
    reason = "logged on " + (f"{person.sobject} {person.id}" if person else "the user's Tasks")
    if related:
        reason += " and " + ", ".join(f"{r.sobject} {r.id}" for r in related)
    return ActivityPlan(recipient, "queued", reason, priority, match, tuple(writes), group)


def _key(inp: PlanInput, recipient: str | None, target: Related | None) -> str:
    event, ws = inp.event, inp.user.workspace_id
    what = target.id if target else ""
    if event.type in MEETING_EVENTS and event.meeting is not None:
        return activity_key(ws, "meeting", event.meeting.id, recipient or "", what)
    if event.type in TASK_EVENTS and event.task is not None:
        return activity_key(ws, "task", event.task.id, what)
    if event.type is EventType.CALL_LOGGED and event.call is not None and event.call.id:
        return activity_key(ws, "call", event.call.id, what)
    return activity_key(ws, "event", event.id, recipient or "", what)


def _fields(inp: PlanInput, key: str, who: str | None, target: Related | None,
            person: Person | None, recipient: str | None) -> dict[str, Any]:
    event, user = inp.event, inp.user
    them = Named(recipient, person.name) if person is not None and recipient else None
    fields: dict[str, Any] = {"Subject": naming.subject(event, them.name if them else None),
                              "OwnerId": user.salesforce_user_id,
                              "WhoId": who, "WhatId": target.id if target else None}
    related = RelatedRecord(target.sobject, Named(target.id, target.name), target.why) \
        if person is not None and target is not None else None
    description = describe(event, Named(user.email, user.display_name), them, related)
    fields["Description"] = naming.truncate(description, DESCRIPTION_LENGTH - 80) \
        + f"\n\n{KEY_FOOTER}{key}"
    day = event.occurred_at.astimezone(dt.UTC).date().isoformat()
    if event.type in MEETING_EVENTS and event.meeting is not None:
        m = event.meeting
        fields.update({"StartDateTime": _iso(m.start), "EndDateTime": _iso(m.end),
                       "Location": naming.truncate(m.location, 255) if m.location else None})
        return fields
    fields.update({"Status": "Completed", "ActivityDate": day, "Priority": "Normal"})
    if event.type in TASK_EVENTS and event.task is not None:
        t = event.task
        status = "completed" if event.type is EventType.TASK_COMPLETED else t.status
        fields.update({"Status": _TASK_STATUS[status], "TaskSubtype": _SUBTYPE[t.kind],
                       "ActivityDate": t.due.isoformat() if t.due else None})
        if t.kind == "call" and event.call is not None:  # a call task's call, once logged
            fields.update(_call_fields(event.call))
        # The rep's own values for more of the Task's fields; never what Tether sets itself.
        fields.update({k: v for k, v in (t.fields or {}).items() if k not in TETHER_OWNS})
    elif event.type is EventType.CALL_LOGGED and event.call is not None:
        fields.update({"TaskSubtype": "Call", **_call_fields(event.call)})
    else:
        fields.update({"TaskSubtype": "Email", "Type": "Email"})
    return fields


def _call_fields(c: Call) -> dict[str, Any]:
    return {"Type": "Call", "CallDurationInSeconds": c.duration_s,
            "CallDisposition": naming.truncate(c.disposition, 255) if c.disposition else None,
            "CallType": "Inbound" if c.direction == "inbound" else "Outbound"}


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")

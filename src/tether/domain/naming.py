"""Activity subjects exactly as the guide names them ("Syncing to Salesforce": one list for
messages sent individually, one for sequences), safe for the FAQ's validation rule."""

from __future__ import annotations

import re

from tether.domain.events import Event, EventType

SUBJECT_LENGTH = 255  # Task.Subject and Event.Subject
# The FAQ's regex for a validation rule on Task Subject (REGEX() must match the whole text).
FAQ_SUBJECT_REGEX = (r"(Sent|Opened|Clicked|Downloaded|Replied|Meeting Confirmed|Reply) ?"
                     r"(\(.*\)?|\[.*\])?:.*")

_VERBS = {
    EventType.EMAIL_OPENED: "Opened",
    EventType.EMAIL_CLICKED: "Clicked",
    EventType.EMAIL_DOWNLOADED: "Downloaded",
    EventType.EMAIL_REPLIED: "Replied",
}


def one_line(text: str) -> str:
    """Salesforce's REGEX() does not let '.' match a line break: subjects stay on one line."""
    return re.sub(r"\s+", " ", text).strip()


def truncate(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut on a character boundary, marked with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _prefix(event: Event, verb: str, individual_tag: str | None) -> str:
    """'Sent (New)', 'Opened', or with a sequence 'Sent [Q4 Outreach (#2)]'."""
    if event.sequence is not None:
        # The sequence name is shortened first, so the bracket and colon always survive.
        name = truncate(one_line(event.sequence.name), 80)
        return f"{verb} [{name} (#{event.sequence.stage})]"
    return f"{verb} ({individual_tag})" if individual_tag else verb


def subject(event: Event, person_name: str | None = None) -> str:
    """The Task or Event subject for an event (see :data:`FAQ_SUBJECT_REGEX`); a call's
    names the person called (``person_name``, the Lead's or Contact's), or their address."""
    kind = event.type
    line = one_line(event.message.subject) if event.message is not None else ""
    if kind is EventType.EMAIL_SENT:
        reply = event.message is not None and event.message.is_reply
        if event.sequence is not None and reply:
            head = _prefix(event, "Reply", None)
        else:
            head = _prefix(event, "Sent", "Reply" if reply else "New")
    elif kind in _VERBS:
        head = _prefix(event, _VERBS[kind], None)
    elif kind is EventType.EMAIL_BOUNCED:
        # Logged only where a role asks (log_bounces); worded so the FAQ's rule accepts it.
        head = _prefix(event, "Sent", "Bounced")
    elif kind is EventType.EMAIL_RECEIVED:
        # Mail the contact wrote in (not a reply to ours): the FAQ's words still cover it.
        head = "Replied (Inbound)"
    elif kind in (EventType.MEETING_CONFIRMED, EventType.CALENDAR_EVENT):
        head, line = "Meeting Confirmed", one_line(event.meeting.title if event.meeting else "")
    elif event.task is not None:
        return truncate(one_line(event.task.subject) or "Task", SUBJECT_LENGTH)
    elif event.call is not None:
        outcome = f" ({one_line(event.call.disposition)})" if event.call.disposition else ""
        whom = one_line(person_name or "") or event.call.to
        return truncate(f"Call with {whom}{outcome}", SUBJECT_LENGTH)
    else:
        raise ValueError(f"no subject for {kind}")
    return truncate(f"{head}: {line}", SUBJECT_LENGTH)

"""The sequence editor's form, read and written: what the page shows (``typed``, strings as
typed, so a refusal keeps them) and what services.sequences takes (the API's shape).

The stages are numbered fields (``stage-0-subject``, …).  Adding or removing a stage posts
the form back with ``op`` (``add_email``, ``add_task``, ``remove-2``): the page comes back
with everything typed and the stage added or gone, nothing saved.  Without JavaScript, the
fields of one task kind only (an email task's draft, a LinkedIn step) are shown by CSS
(``:has``), and the others' are ignored when read.
"""

from __future__ import annotations

import zoneinfo
from functools import cache
from typing import Any

from starlette.datastructures import FormData

from tether.domain import schedule
from tether.domain import sequences as domain
from tether.services.errors import Invalid

DELAY_PARTS = ("days", "hours", "minutes")
WEEKDAYS = tuple(zip(schedule.WEEKDAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
                     strict=True))
TASK_KINDS = {"todo": "To-do", "call": "Call", "email": "Email", "linkedin": "LinkedIn"}
NEXT_WHEN = {"completed": "When the task is completed",
             "deferred": "When the task is deferred",
             "overdue": "When the task is overdue (neither done nor deferred by its due date)",
             "regardless": "Regardless of the task (after the delay)"}
CREATE_RECORDS = {"": "No: only people with a Lead or Contact", "Lead": "Yes: as Leads",
                  "Contact": "Yes: as Contacts"}
DEFAULT_WINDOW = {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00",
                  "end": "17:00", "timezone": schedule.RECIPIENT}


def blank_stage(kind: str, first: bool = False) -> dict[str, Any]:
    """A new stage as the form shows it: a follow-up two days on, a task due the same day."""
    return {"kind": kind, "days": "0" if first else "2", "hours": "0", "minutes": "0",
            "subject": "", "body": "", "template_id": "", "new_thread": False,
            "task_kind": "call", "linkedin": "inmail", "notes": "",
            "next_when": "completed", "draft_subject": "", "draft_body": ""}


def blank() -> dict[str, Any]:
    return {"name": "", "stages": [blank_stage("email", first=True)], "window_on": True,
            **DEFAULT_WINDOW, "create_records": "", "exit_on_colleague_reply": True,
            "postpone_out_of_office": True}


def typed_of(seq: dict[str, Any]) -> dict[str, Any]:
    """A saved sequence (sequence_json) as the form shows it."""
    stages = []
    for s in seq["stages"]:
        delay = s.get("delay") or {}
        draft = s.get("draft") or {}
        stages.append({**blank_stage(s["kind"]),
                       **{p: str(delay.get(p, 0)) for p in DELAY_PARTS},
                       "subject": s.get("subject") or "", "body": s.get("body") or "",
                       "template_id": s.get("template_id") or "",
                       "new_thread": bool(s.get("new_thread")),
                       "task_kind": s.get("task_kind") or "call",
                       "linkedin": s.get("linkedin") or "inmail", "notes": s.get("notes") or "",
                       "next_when": s.get("next_when") or "completed",
                       "draft_subject": draft.get("subject", ""),
                       "draft_body": draft.get("body", "")})
    window = seq.get("send_window")
    return {"name": seq["name"], "stages": stages, "window_on": window is not None,
            **(window or DEFAULT_WINDOW), "create_records": seq.get("create_records") or "",
            "exit_on_colleague_reply": seq["exit_on_colleague_reply"],
            "postpone_out_of_office": seq["postpone_out_of_office"]}


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def typed_from(form: FormData) -> dict[str, Any]:
    """The posted form, as typed (nothing checked yet)."""
    stages = []
    count = min(int(_text(form, "stage_count") or 0) if _text(form, "stage_count").isdigit()
                else 0, domain.MAX_STAGES + 1)
    for i in range(count):
        at = f"stage-{i}-"
        kind = _text(form, at + "kind")
        if kind not in ("email", "task"):
            continue
        stage = {key: _text(form, at + key) for key in blank_stage(kind) if key != "new_thread"}
        stages.append({**stage, "kind": kind, "new_thread": form.get(at + "new_thread") == "on"})
    return {"name": _text(form, "name"), "stages": stages,
            "window_on": form.get("window_on") == "on",
            "days": [d for d in form.getlist("days") if isinstance(d, str)],
            "start": _text(form, "start"), "end": _text(form, "end"),
            "timezone": _text(form, "timezone").strip(),
            "create_records": _text(form, "create_records"),
            "exit_on_colleague_reply": form.get("exit_on_colleague_reply") == "on",
            "postpone_out_of_office": form.get("postpone_out_of_office") == "on"}


def apply_op(typed: dict[str, Any], op: str) -> bool:
    """Add or remove a stage in ``typed``; False when ``op`` is not one of those (a save)."""
    stages: list[dict[str, Any]] = typed["stages"]
    if op in ("add_email", "add_task"):
        stages.append(blank_stage(op.removeprefix("add_"), first=not stages))
        return True
    if op.startswith("remove-") and op.removeprefix("remove-").isdigit():
        n = int(op.removeprefix("remove-"))
        if 0 <= n < len(stages):
            del stages[n]
        return True
    return False


def _whole(value: str, field: str) -> int:
    text = value.strip() or "0"
    if not text.isdigit():
        raise Invalid(f"{field}: '{value}' is not a whole number", field)
    return int(text)


def _stage(s: dict[str, Any], i: int) -> dict[str, Any]:
    at = f"stages[{i}]"
    delay = {p: _whole(s[p], f"{at}.delay.{p}") for p in DELAY_PARTS}
    if s["kind"] == "email":
        return {"kind": "email", "delay": delay, "subject": s["subject"] or None,
                "body": s["body"] or None, "template_id": s["template_id"] or None,
                "new_thread": bool(s["new_thread"]) and i > 0}
    out: dict[str, Any] = {"kind": "task", "task_kind": s["task_kind"],
                           "subject": s["subject"], "notes": s["notes"] or None,
                           "delay": delay, "next_when": s["next_when"]}
    if s["task_kind"] == "linkedin":
        out["linkedin"] = s["linkedin"]
    if s["task_kind"] == "email":
        out["draft"] = {"subject": s["draft_subject"], "body": s["draft_body"]}
    return out


def data_of(typed: dict[str, Any]) -> dict[str, Any]:
    """``typed`` in services.sequences' shape; a number that is not one is refused here."""
    window = ({"days": typed["days"], "start": typed["start"], "end": typed["end"],
               "timezone": typed["timezone"] or schedule.RECIPIENT}
              if typed["window_on"] else None)
    return {"name": typed["name"],
            "stages": [_stage(s, i) for i, s in enumerate(typed["stages"])],
            "create_records": typed["create_records"] or None, "send_window": window,
            "exit_on_colleague_reply": typed["exit_on_colleague_reply"],
            "postpone_out_of_office": typed["postpone_out_of_office"]}


@cache
def zones() -> tuple[str, ...]:
    """The IANA zones this machine knows, for the time zone's suggestions."""
    return tuple(sorted(z for z in zoneinfo.available_timezones() if "/" in z))

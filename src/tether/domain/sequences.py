"""Sequences, pure: a sequence's stages read and checked (each error names its path), and
what a task stage's task means for the next stage.  No I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from tether.domain.schedule import Delay, ScheduleError

MAX_STAGES = 20
TASK_KINDS = ("todo", "call", "email", "linkedin")
NEXT_WHEN = ("completed", "deferred", "overdue", "regardless")
LIMITS = {"subject": 998, "body": 500_000, "notes": 32_000}
_EMAIL_KEYS = {"kind", "delay", "subject", "body", "template_id", "new_thread"}
_TASK_KEYS = {"kind", "task_kind", "linkedin", "subject", "notes", "delay", "next_when",
              "draft"}

NextWhen = Literal["completed", "deferred", "overdue", "regardless"]


class StageError(ValueError):
    def __init__(self, detail: str, field: str) -> None:
        super().__init__(detail)
        self.detail, self.field = detail, field


@dataclass(frozen=True)
class Stage:
    n: int  # 1-based
    kind: Literal["email", "task"]
    delay: Delay
    subject: str | None = None
    body: str | None = None
    template_id: str | None = None
    new_thread: bool = False  # an email stage after the first: a new thread, not a reply
    task_kind: str | None = None
    linkedin: str | None = None
    notes: str | None = None
    next_when: NextWhen = "completed"
    draft: Mapping[str, str] | None = None  # an email task's {subject, body}

    def as_json(self) -> dict[str, Any]:
        delay = {"days": self.delay.days, "hours": self.delay.hours,
                 "minutes": self.delay.minutes}
        if self.kind == "email":
            return {"kind": "email", "delay": delay, "subject": self.subject,
                    "body": self.body, "template_id": self.template_id,
                    "new_thread": self.new_thread}
        return {"kind": "task", "task_kind": self.task_kind, "linkedin": self.linkedin,
                "subject": self.subject, "notes": self.notes, "delay": delay,
                "next_when": self.next_when, "draft": dict(self.draft) if self.draft else None}


def _text(raw: Mapping[str, Any], key: str, at: str, *, required: bool = False) -> str | None:
    value = raw.get(key)
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            raise StageError(f"{at}.{key}: required", f"{at}.{key}")
        return None
    if not isinstance(value, str):
        raise StageError(f"{at}.{key}: must be text", f"{at}.{key}")
    limit = LIMITS.get(key, 255)
    if len(value) > limit:
        raise StageError(f"{at}.{key}: at most {limit:,} characters", f"{at}.{key}")
    if key == "subject" and ("\r" in value or "\n" in value):
        raise StageError(f"{at}.subject: must be one line", f"{at}.subject")
    if required and not value.strip():
        raise StageError(f"{at}.{key}: required", f"{at}.{key}")
    return value


def _choice(raw: Mapping[str, Any], key: str, at: str, choices: tuple[str, ...],
            default: str | None = None) -> str:
    value = raw.get(key, default)
    if value not in choices:
        raise StageError(f"{at}.{key}: '{value}' is not one of {', '.join(choices)}",
                         f"{at}.{key}")
    return str(value)


def parse_stage(raw: Any, n: int) -> Stage:
    at = f"stages[{n - 1}]"
    if not isinstance(raw, Mapping):
        raise StageError(f"{at}: must be an object", at)
    kind = _choice(raw, "kind", at, ("email", "task"))
    unknown = set(raw) - (_EMAIL_KEYS if kind == "email" else _TASK_KEYS)
    if unknown:
        name = sorted(unknown)[0]
        raise StageError(f"{at}.{name}: not a field of {'an' if kind == 'email' else 'a'} "
                         f"{kind} stage", f"{at}.{name}")
    try:
        delay = Delay.parse({} if raw.get("delay") is None else raw["delay"], f"{at}.delay")
    except ScheduleError as exc:
        raise StageError(exc.detail, exc.field) from None
    if kind == "email":
        template_id = _text(raw, "template_id", at)
        subject = _text(raw, "subject", at)
        body = _text(raw, "body", at)
        if template_id is None and body is None:
            raise StageError(f"{at}.body: an email stage needs a body or a template",
                             f"{at}.body")
        if template_id is None and subject is None and n == 1:
            raise StageError(f"{at}.subject: the first email needs a subject", f"{at}.subject")
        new_thread = raw.get("new_thread", False)
        if not isinstance(new_thread, bool):
            raise StageError(f"{at}.new_thread: true or false", f"{at}.new_thread")
        if template_id is None and subject is None and new_thread:
            raise StageError(f"{at}.subject: a new thread needs a subject", f"{at}.subject")
        return Stage(n, "email", delay, subject, body, template_id, new_thread)
    task_kind = _choice(raw, "task_kind", at, TASK_KINDS)
    linkedin = _choice(raw, "linkedin", at, ("inmail", "connection"), "inmail") \
        if task_kind == "linkedin" else None
    next_when = _choice(raw, "next_when", at, NEXT_WHEN, "completed")
    draft = raw.get("draft")
    if task_kind == "email":
        if not isinstance(draft, Mapping):
            raise StageError(f"{at}.draft: an email task holds a draft {{subject, body}}",
                             f"{at}.draft")
        draft = {"subject": _text(draft, "subject", f"{at}.draft", required=True) or "",
                 "body": _text(draft, "body", f"{at}.draft", required=True) or ""}
    elif draft is not None:
        raise StageError(f"{at}.draft: only an email task holds a draft", f"{at}.draft")
    return Stage(n, "task", delay, _text(raw, "subject", at, required=True),
                 task_kind=task_kind, linkedin=linkedin, notes=_text(raw, "notes", at),
                 next_when=next_when, draft=draft)  # type: ignore[arg-type]


def parse_stages(raw: Any) -> list[Stage]:
    if not isinstance(raw, list) or not raw:
        raise StageError("stages: a sequence needs at least one stage", "stages")
    if len(raw) > MAX_STAGES:
        raise StageError(f"stages: at most {MAX_STAGES} stages", "stages")
    stages = [parse_stage(item, n) for n, item in enumerate(raw, start=1)]
    if stages[0].kind == "email" and stages[0].new_thread:
        raise StageError("stages[0].new_thread: the first email starts the thread",
                         "stages[0].new_thread")
    first = next((s for s in stages if s.kind == "email"), None)
    if first is not None and first.template_id is None and first.subject is None:
        at = f"stages[{first.n - 1}].subject"  # after tasks: it has no thread to reply in
        raise StageError(f"{at}: the first email needs a subject", at)
    return stages


def stages_of(stored: list[Any]) -> list[Stage]:
    """Stages as stored (checked when saved)."""
    return [parse_stage(item, n) for n, item in enumerate(stored, start=1)]


def reply_subject(first: str) -> str:
    """A follow-up in the first email's thread: 'Re: ' once."""
    return first if first[:3].lower() == "re:" else f"Re: {first}"


@dataclass(frozen=True)
class AfterTask:
    """What a task stage's task did to the sequence: go on (and how soon), wait, or end."""

    go: bool
    at_once: bool = False  # a skipped task: the next stage goes now, its delay not waited
    finish: bool = False  # the recipient is done (the condition can no longer be met)


def after_task(next_when: str, status: str, due: dt.date, today: dt.date) -> AfterTask:
    """The guide: the next stage comes when the task is completed or deferred, when it is
    neither by its due date (overdue), or regardless; skipping it sends the next at once.
    With 'overdue', a task completed or deferred in time ends the sequence for them."""
    if status == "skipped":
        return AfterTask(go=True, at_once=True)
    if next_when == "regardless":
        return AfterTask(go=True)
    if next_when == "overdue":
        if status in ("completed", "deferred"):
            return AfterTask(go=False, finish=True)
        return AfterTask(go=today > due)
    if next_when == "deferred" and status == "completed":  # a completed task stays so
        return AfterTask(go=False, finish=True)
    return AfterTask(go=status == next_when)

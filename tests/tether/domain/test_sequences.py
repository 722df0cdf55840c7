"""A sequence's stages, pure: read and checked with each error naming its path
(``stages[1].next_when``), written back as they were read, a follow-up's subject, and what a
task stage's task means for the next stage."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.domain.schedule import Delay
from tether.domain.sequences import (
    MAX_STAGES,
    NEXT_WHEN,
    TASK_KINDS,
    AfterTask,
    Stage,
    StageError,
    after_task,
    parse_stage,
    parse_stages,
    reply_subject,
    stages_of,
)

FIRST = {"kind": "email", "subject": "Q4 pricing", "body": "<p>Hi {{first_name}}</p>"}
FOLLOW_UP = {"kind": "email", "body": "<p>Any thoughts?</p>", "delay": {"days": 2}}
CALL = {"kind": "task", "task_kind": "call", "subject": "Call them"}


def refused(raw: Any, n: int = 1) -> StageError:
    with pytest.raises(StageError) as caught:
        parse_stage(raw, n)
    return caught.value


def refused_stages(raw: Any) -> StageError:
    with pytest.raises(StageError) as caught:
        parse_stages(raw)
    return caught.value


# Reading an email stage


def test_an_email_stage_is_read_with_its_defaults() -> None:
    assert parse_stage(FIRST, 1) == Stage(1, "email", Delay(), "Q4 pricing",
                                          "<p>Hi {{first_name}}</p>")
    follow_up = parse_stage(FOLLOW_UP, 2)
    assert (follow_up.n, follow_up.subject, follow_up.delay, follow_up.new_thread) == \
        (2, None, Delay(2, 0, 0), False), "a follow-up without a subject replies in the thread"


def test_an_email_stage_with_a_template_needs_neither_body_nor_subject() -> None:
    stage = parse_stage({"kind": "email", "template_id": "tpl_1"}, 1)
    assert (stage.template_id, stage.subject, stage.body) == ("tpl_1", None, None)


def test_blank_text_is_absent() -> None:
    stage = parse_stage({**FOLLOW_UP, "subject": "  ", "template_id": ""}, 2)
    assert (stage.subject, stage.template_id) == (None, None)


@pytest.mark.parametrize("raw,n,field,detail", [
    ({"kind": "email", "subject": "Hi"}, 1, "stages[0].body",
     "stages[0].body: an email stage needs a body or a template"),
    ({"kind": "email", "subject": "Hi", "body": " \n "}, 3, "stages[2].body",
     "stages[2].body: an email stage needs a body or a template"),
    ({"kind": "email", "body": "Hi"}, 1, "stages[0].subject",
     "stages[0].subject: the first email needs a subject"),
    ({"kind": "email", "body": "Hi", "new_thread": True}, 2, "stages[1].subject",
     "stages[1].subject: a new thread needs a subject"),
    ({**FIRST, "subject": "Two\nlines"}, 1, "stages[0].subject",
     "stages[0].subject: must be one line"),
    ({**FIRST, "subject": "Two\rlines"}, 1, "stages[0].subject",
     "stages[0].subject: must be one line"),
    ({**FIRST, "subject": 5}, 1, "stages[0].subject", "stages[0].subject: must be text"),
    ({**FIRST, "body": ["<p>"]}, 1, "stages[0].body", "stages[0].body: must be text"),
    ({**FIRST, "subject": "x" * 999}, 1, "stages[0].subject",
     "stages[0].subject: at most 998 characters"),
    ({**FIRST, "body": "x" * 500_001}, 1, "stages[0].body",
     "stages[0].body: at most 500,000 characters"),
    ({"kind": "email", "template_id": "t" * 256}, 1, "stages[0].template_id",
     "stages[0].template_id: at most 255 characters"),
    ({**FOLLOW_UP, "new_thread": "yes"}, 2, "stages[1].new_thread",
     "stages[1].new_thread: true or false"),
    ({**FOLLOW_UP, "new_thread": 1}, 2, "stages[1].new_thread",
     "stages[1].new_thread: true or false"),
    ({**FOLLOW_UP, "next_when": "completed"}, 2, "stages[1].next_when",
     "stages[1].next_when: not a field of an email stage"),
    ({**FOLLOW_UP, "zeta": 1, "alpha": 1}, 2, "stages[1].alpha",
     "stages[1].alpha: not a field of an email stage"),
])
def test_an_email_stages_errors_name_their_path(raw: dict[str, Any], n: int, field: str,
                                                detail: str) -> None:
    error = refused(raw, n)
    assert (error.field, error.detail, str(error)) == (field, detail, detail)


def test_text_at_its_limit_is_taken() -> None:
    stage = parse_stage({**FIRST, "subject": "x" * 998, "body": "x" * 500_000}, 1)
    assert (len(stage.subject or ""), len(stage.body or "")) == (998, 500_000)


# Reading a task stage


def test_a_task_stage_is_read_with_its_defaults() -> None:
    assert parse_stage(CALL, 2) == Stage(2, "task", Delay(), "Call them", task_kind="call",
                                         next_when="completed")
    linkedin = parse_stage({**CALL, "task_kind": "linkedin", "notes": "Say hi"}, 1)
    assert (linkedin.linkedin, linkedin.notes) == ("inmail", "Say hi")
    connect = parse_stage({**CALL, "task_kind": "linkedin", "linkedin": "connection"}, 1)
    assert connect.linkedin == "connection"
    assert parse_stage({**CALL, "linkedin": "connection"}, 1).linkedin is None, \
        "only a LinkedIn task has a LinkedIn kind"


@pytest.mark.parametrize("next_when", NEXT_WHEN)
def test_a_task_stage_takes_each_next_when(next_when: str) -> None:
    assert parse_stage({**CALL, "next_when": next_when}, 1).next_when == next_when


@pytest.mark.parametrize("task_kind", TASK_KINDS)
def test_a_task_stage_takes_each_task_kind(task_kind: str) -> None:
    raw: dict[str, Any] = {**CALL, "task_kind": task_kind}
    if task_kind == "email":
        raw["draft"] = {"subject": "S", "body": "B"}
    assert parse_stage(raw, 1).task_kind == task_kind


def test_an_email_task_holds_its_draft() -> None:
    stage = parse_stage({**CALL, "task_kind": "email",
                         "draft": {"subject": "Hello", "body": "<p>Hi</p>", "extra": 1}}, 1)
    assert stage.draft == {"subject": "Hello", "body": "<p>Hi</p>"}


@pytest.mark.parametrize("raw,n,field,detail", [
    ({**CALL, "next_when": "sometime"}, 2, "stages[1].next_when",
     "stages[1].next_when: 'sometime' is not one of completed, deferred, overdue, regardless"),
    ({**CALL, "task_kind": "fax"}, 1, "stages[0].task_kind",
     "stages[0].task_kind: 'fax' is not one of todo, call, email, linkedin"),
    ({"kind": "task", "subject": "S"}, 1, "stages[0].task_kind",
     "stages[0].task_kind: 'None' is not one of todo, call, email, linkedin"),
    ({**CALL, "task_kind": "linkedin", "linkedin": "poke"}, 1, "stages[0].linkedin",
     "stages[0].linkedin: 'poke' is not one of inmail, connection"),
    ({"kind": "task", "task_kind": "call"}, 1, "stages[0].subject",
     "stages[0].subject: required"),
    ({**CALL, "subject": "   "}, 1, "stages[0].subject", "stages[0].subject: required"),
    ({**CALL, "subject": ""}, 1, "stages[0].subject", "stages[0].subject: required"),
    ({**CALL, "subject": 3}, 1, "stages[0].subject", "stages[0].subject: must be text"),
    ({**CALL, "subject": "a\nb"}, 1, "stages[0].subject", "stages[0].subject: must be one line"),
    ({**CALL, "notes": "n" * 32_001}, 1, "stages[0].notes",
     "stages[0].notes: at most 32,000 characters"),
    ({**CALL, "body": "Hi"}, 3, "stages[2].body", "stages[2].body: not a field of a task stage"),
    ({**CALL, "new_thread": False}, 1, "stages[0].new_thread",
     "stages[0].new_thread: not a field of a task stage"),
    ({**CALL, "draft": {"subject": "S", "body": "B"}}, 1, "stages[0].draft",
     "stages[0].draft: only an email task holds a draft"),
    ({**CALL, "task_kind": "email"}, 1, "stages[0].draft",
     "stages[0].draft: an email task holds a draft {subject, body}"),
    ({**CALL, "task_kind": "email", "draft": "Hi"}, 1, "stages[0].draft",
     "stages[0].draft: an email task holds a draft {subject, body}"),
    ({**CALL, "task_kind": "email", "draft": {"body": "B"}}, 2, "stages[1].draft.subject",
     "stages[1].draft.subject: required"),
    ({**CALL, "task_kind": "email", "draft": {"subject": "S", "body": " "}}, 2,
     "stages[1].draft.body", "stages[1].draft.body: required"),
    ({**CALL, "task_kind": "email", "draft": {"subject": "S\nT", "body": "B"}}, 1,
     "stages[0].draft.subject", "stages[0].draft.subject: must be one line"),
    ({**CALL, "task_kind": "email", "draft": {"subject": "S", "body": 7}}, 1,
     "stages[0].draft.body", "stages[0].draft.body: must be text"),
])
def test_a_task_stages_errors_name_their_path(raw: dict[str, Any], n: int, field: str,
                                              detail: str) -> None:
    error = refused(raw, n)
    assert (error.field, error.detail) == (field, detail)


# Errors common to both kinds


@pytest.mark.parametrize("raw,field,detail", [
    ("email", "stages[0]", "stages[0]: must be an object"),
    (["kind", "email"], "stages[0]", "stages[0]: must be an object"),
    (None, "stages[0]", "stages[0]: must be an object"),
    ({"subject": "S", "body": "B"}, "stages[0].kind",
     "stages[0].kind: 'None' is not one of email, task"),
    ({"kind": "sms", "body": "B"}, "stages[0].kind",
     "stages[0].kind: 'sms' is not one of email, task"),
    ({**FIRST, "delay": {"weeks": 1}}, "stages[0].delay.weeks",
     "stages[0].delay.weeks: 'weeks' is not a part of a delay: days, hours or minutes"),
    ({**CALL, "delay": {"days": -1}}, "stages[0].delay.days",
     "stages[0].delay.days: -1 is less than 0"),
    ({**CALL, "delay": {"hours": 1.5}}, "stages[0].delay.hours",
     "stages[0].delay.hours: 1.5 is not a whole number"),
    ({**FIRST, "delay": {"days": 366}}, "stages[0].delay.days",
     "stages[0].delay.days: the delay comes to more than 365 days"),
    ({**FIRST, "delay": 0}, "stages[0].delay",
     "stages[0].delay: expected an object of days, hours or minutes, not 0"),
    ({**FIRST, "delay": []}, "stages[0].delay",
     "stages[0].delay: expected an object of days, hours or minutes, not []"),
    ({**FIRST, "delay": ""}, "stages[0].delay",
     "stages[0].delay: expected an object of days, hours or minutes, not ''"),
])
def test_a_stages_common_errors_name_their_path(raw: Any, field: str, detail: str) -> None:
    error = refused(raw)
    assert (error.field, error.detail) == (field, detail)


def test_a_null_delay_is_no_delay() -> None:
    assert parse_stage({**FIRST, "delay": None}, 1).delay == Delay()


def test_a_stage_error_is_a_value_error() -> None:
    assert isinstance(refused("x"), ValueError)


# Reading the list of stages


def test_stages_are_numbered_from_one() -> None:
    stages = parse_stages([FIRST, CALL, FOLLOW_UP])
    assert [(s.n, s.kind) for s in stages] == [(1, "email"), (2, "task"), (3, "email")]


@pytest.mark.parametrize("raw", [[], None, {}, "stages", FIRST])
def test_a_sequence_needs_a_list_of_stages(raw: Any) -> None:
    error = refused_stages(raw)
    assert (error.field, error.detail) == ("stages", "stages: a sequence needs at least one stage")


def test_a_sequence_has_at_most_twenty_stages() -> None:
    assert len(parse_stages([FIRST] + [FOLLOW_UP] * (MAX_STAGES - 1))) == MAX_STAGES
    error = refused_stages([FIRST] + [FOLLOW_UP] * MAX_STAGES)
    assert (error.field, error.detail) == ("stages", "stages: at most 20 stages")


def test_a_stages_error_names_its_index() -> None:
    error = refused_stages([FIRST, CALL, {**CALL, "next_when": "later"}])
    assert error.field == "stages[2].next_when"
    assert error.detail.startswith("stages[2].next_when: 'later' is not one of")


def test_the_first_email_starts_the_thread() -> None:
    error = refused_stages([{**FIRST, "new_thread": True}, FOLLOW_UP])
    assert (error.field, error.detail) == (
        "stages[0].new_thread", "stages[0].new_thread: the first email starts the thread")
    later = parse_stages([FIRST, {**FOLLOW_UP, "subject": "Fresh", "new_thread": True}])
    assert later[1].new_thread


def test_the_first_email_after_tasks_needs_a_subject() -> None:
    """Nothing to reply in yet: it would go out without a subject (and be refused)."""
    error = refused_stages([CALL, FOLLOW_UP])
    assert (error.field, error.detail) == (
        "stages[1].subject", "stages[1].subject: the first email needs a subject")
    assert parse_stages([CALL, {**FOLLOW_UP, "subject": "Hi"}, FOLLOW_UP])[2].subject is None
    assert parse_stages([CALL, {"kind": "email", "template_id": "tpl"}])[1].template_id == "tpl"
    assert parse_stages([CALL, {**CALL, "task_kind": "todo"}])[1].kind == "task", \
        "a sequence of tasks alone has no email to need a subject"


# Written back as read


ROUND_TRIPS = [
    [FIRST],
    [FIRST, FOLLOW_UP, {**FOLLOW_UP, "subject": "New one", "new_thread": True,
                        "delay": {"days": 1, "hours": 2, "minutes": 3}}],
    [{"kind": "email", "template_id": "tpl_1"}, CALL],
    [FIRST, {**CALL, "task_kind": "linkedin", "linkedin": "connection", "notes": "Connect",
             "next_when": "overdue", "delay": {"hours": 4}}],
    [{**CALL, "task_kind": "email", "draft": {"subject": "S", "body": "B"},
      "next_when": "regardless"}, {**CALL, "task_kind": "todo", "next_when": "deferred"}],
]


@pytest.mark.parametrize("raw", ROUND_TRIPS)
def test_stages_are_written_back_as_read(raw: list[dict[str, Any]]) -> None:
    stages = parse_stages(raw)
    written = [s.as_json() for s in stages]
    assert parse_stages(written) == stages
    assert stages_of(written) == stages
    assert [s.as_json() for s in parse_stages(written)] == written


def test_as_json_writes_every_field() -> None:
    email, task = parse_stages([FIRST, {**CALL, "delay": {"days": 1}}])
    assert email.as_json() == {"kind": "email", "delay": {"days": 0, "hours": 0, "minutes": 0},
                               "subject": "Q4 pricing", "body": "<p>Hi {{first_name}}</p>",
                               "template_id": None, "new_thread": False}
    assert task.as_json() == {"kind": "task", "task_kind": "call", "linkedin": None,
                              "subject": "Call them", "notes": None,
                              "delay": {"days": 1, "hours": 0, "minutes": 0},
                              "next_when": "completed", "draft": None}


def test_stages_as_stored_are_read_without_the_sequences_checks() -> None:
    """Checked when saved: what was stored is read back, each stage on its own."""
    assert stages_of([]) == []
    assert [s.n for s in stages_of([CALL, FOLLOW_UP])] == [1, 2]
    with pytest.raises(StageError) as caught:
        stages_of([FIRST, {"kind": "nope"}])
    assert caught.value.field == "stages[1].kind"


_texts = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
                 min_size=1, max_size=40).filter(str.strip)
_delays = st.fixed_dictionaries({}, optional={"days": st.integers(0, 300),
                                              "hours": st.integers(0, 23),
                                              "minutes": st.integers(0, 59)})
_emails = st.fixed_dictionaries({"kind": st.just("email"), "subject": _texts,
                                 "body": _texts, "delay": _delays},
                                optional={"new_thread": st.booleans(),
                                          "template_id": _texts})
_tasks = st.fixed_dictionaries({"kind": st.just("task"),
                                "task_kind": st.sampled_from(["todo", "call", "linkedin"]),
                                "subject": _texts, "delay": _delays,
                                "next_when": st.sampled_from(NEXT_WHEN)},
                               optional={"notes": _texts})


@given(st.lists(st.one_of(_emails, _tasks), min_size=1, max_size=MAX_STAGES))
def test_any_valid_stages_come_back_from_their_json(raw: list[dict[str, Any]]) -> None:
    for item in raw:
        if item["kind"] == "email":
            item["new_thread"] = False  # the first email's is refused, and any is fine later
            break
    stages = parse_stages(raw)
    assert parse_stages([s.as_json() for s in stages]) == stages


# A follow-up's subject


@pytest.mark.parametrize("first,expected", [
    ("Q4 pricing", "Re: Q4 pricing"),
    ("Re: Q4 pricing", "Re: Q4 pricing"),
    ("RE: Q4 pricing", "RE: Q4 pricing"),
    ("re:Q4", "re:Q4"),
    ("Regarding Q4", "Re: Regarding Q4"),
    ("", "Re: "),
])
def test_a_follow_ups_subject_is_re_once(first: str, expected: str) -> None:
    assert reply_subject(first) == expected


@given(st.text(max_size=60))
def test_reply_subject_is_idempotent(first: str) -> None:
    once = reply_subject(first)
    assert reply_subject(once) == once
    assert once.lower().startswith("re:")
    assert once.endswith(first)


# What a task stage's task means for the next stage


DUE = dt.date(2026, 3, 10)
BEFORE, ON, AFTER = DUE - dt.timedelta(days=1), DUE, DUE + dt.timedelta(days=1)
GO, WAIT, NOW, FINISH = (AfterTask(go=True), AfterTask(go=False),
                         AfterTask(go=True, at_once=True), AfterTask(go=False, finish=True))

# (next_when, status, today): what comes of it
TRUTH = {
    ("completed", "completed"): GO,
    ("completed", "deferred"): WAIT,  # it may still be completed
    ("completed", "skipped"): NOW,
    ("completed", "open", BEFORE): WAIT,
    ("completed", "open", ON): WAIT,
    ("completed", "open", AFTER): WAIT,
    ("deferred", "completed"): FINISH,  # a completed task cannot be deferred any more
    ("deferred", "deferred"): GO,
    ("deferred", "skipped"): NOW,
    ("deferred", "open", BEFORE): WAIT,
    ("deferred", "open", ON): WAIT,
    ("deferred", "open", AFTER): WAIT,
    ("overdue", "completed"): FINISH,
    ("overdue", "deferred"): FINISH,
    ("overdue", "skipped"): NOW,
    ("overdue", "open", BEFORE): WAIT,
    ("overdue", "open", ON): WAIT,  # overdue once its due day is over
    ("overdue", "open", AFTER): GO,
    ("regardless", "completed"): GO,
    ("regardless", "deferred"): GO,
    ("regardless", "skipped"): NOW,
    ("regardless", "open", BEFORE): GO,
    ("regardless", "open", ON): GO,
    ("regardless", "open", AFTER): GO,
}


def test_the_truth_table_covers_every_next_when_and_status() -> None:
    assert {key[:2] for key in TRUTH} == {(w, s) for w in NEXT_WHEN
                                          for s in ("completed", "deferred", "skipped", "open")}


@pytest.mark.parametrize("key,expected", TRUTH.items(), ids=["-".join(
    k if isinstance(k, str) else ("before" if k < DUE else "on" if k == DUE else "after")
    for k in key) for key in TRUTH])
def test_after_task(key: tuple[Any, ...], expected: AfterTask) -> None:
    next_when, status, *when = key
    todays = when or [BEFORE, ON, AFTER]  # a closed task's outcome does not hang on the day
    for today in todays:
        assert after_task(next_when, status, DUE, today) == expected, today


def test_a_finish_never_goes_and_at_once_always_goes() -> None:
    for next_when in NEXT_WHEN:
        for status in ("completed", "deferred", "skipped", "open"):
            for today in (BEFORE, ON, AFTER):
                then = after_task(next_when, status, DUE, today)
                assert not (then.finish and then.go)
                assert not then.at_once or then.go

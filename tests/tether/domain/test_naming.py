"""Activity subjects: the guide's two lists ("Syncing to Salesforce": individual messages and
sequence messages), and the FAQ's validation-rule regex, which every email or meeting subject
must satisfy whatever the user typed."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.domain import naming
from tether.domain.events import Event, EventType, Meeting, Message, Sequence
from tether.domain.naming import FAQ_SUBJECT_REGEX, SUBJECT_LENGTH

WHEN = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
EMAIL_TYPES = [t for t in EventType if t.value.startswith("email.")]
MEETING_TYPES = [EventType.MEETING_CONFIRMED, EventType.CALENDAR_EVENT]
# Java's '.' (Salesforce REGEX()) stops at any of these line terminators.
JAVA_LINE_BREAKS = "\n\r\u0085\u2028\u2029"


def email_event(kind: EventType, subject: str = "Intro", *, reply: bool = False,
                sequence: Sequence | None = None) -> Event:
    return Event(id="e1", type=kind, occurred_at=WHEN, user="rep@acme.example",
                 message=Message(id="<m1@acme.example>", subject=subject,
                                 to=["jane@globex.example"], is_reply=reply),
                 sequence=sequence, recipient="jane@globex.example",
                 url="https://acme.example/x", file_name="deck.pdf")


def meeting_event(title: str, kind: EventType = EventType.MEETING_CONFIRMED,
                  sequence: Sequence | None = None) -> Event:
    return Event(id="e2", type=kind, occurred_at=WHEN, user="rep@acme.example",
                 sequence=sequence,
                 meeting=Meeting(id="mt1", title=title, start=WHEN,
                                 end=WHEN + dt.timedelta(minutes=30),
                                 organizer="rep@acme.example",
                                 attendees=["jane@globex.example"]))


def is_faq_valid(subject: str) -> bool:
    return re.fullmatch(FAQ_SUBJECT_REGEX, subject) is not None and not any(
        c in subject for c in JAVA_LINE_BREAKS)


def test_regex_is_the_faqs() -> None:
    # The guide prints it broken over a line ("Meeting \n\nConfirmed"); joined, it is this.
    assert FAQ_SUBJECT_REGEX == (r"(Sent|Opened|Clicked|Downloaded|Replied|Meeting Confirmed"
                                 r"|Reply) ?(\(.*\)?|\[.*\])?:.*")
    assert not is_faq_valid("Call: jane@globex.example")
    assert not is_faq_valid("Sent (New): a\nb")


# "For messages sent individually"
@pytest.mark.parametrize("kind,reply,expected", [
    (EventType.EMAIL_SENT, False, "Sent (New): Q4 pricing"),
    (EventType.EMAIL_SENT, True, "Sent (Reply): Q4 pricing"),
    (EventType.EMAIL_OPENED, False, "Opened: Q4 pricing"),
    (EventType.EMAIL_CLICKED, False, "Clicked: Q4 pricing"),
    (EventType.EMAIL_DOWNLOADED, False, "Downloaded: Q4 pricing"),
    (EventType.EMAIL_REPLIED, False, "Replied: Q4 pricing"),
])
def test_individual_subjects(kind: EventType, reply: bool, expected: str) -> None:
    out = naming.subject(email_event(kind, "Q4 pricing", reply=reply))
    assert out == expected
    assert is_faq_valid(out)


# "For messages sent as part of a Sequence": "Verb [Sequence name (#stage)]: subject"
@pytest.mark.parametrize("kind,reply,expected", [
    (EventType.EMAIL_SENT, False, "Sent [Q4 Outreach (#2)]: Q4 pricing"),
    (EventType.EMAIL_SENT, True, "Reply [Q4 Outreach (#2)]: Q4 pricing"),
    (EventType.EMAIL_OPENED, False, "Opened [Q4 Outreach (#2)]: Q4 pricing"),
    (EventType.EMAIL_CLICKED, False, "Clicked [Q4 Outreach (#2)]: Q4 pricing"),
    (EventType.EMAIL_DOWNLOADED, False, "Downloaded [Q4 Outreach (#2)]: Q4 pricing"),
    (EventType.EMAIL_REPLIED, False, "Replied [Q4 Outreach (#2)]: Q4 pricing"),
])
def test_sequence_subjects(kind: EventType, reply: bool, expected: str) -> None:
    seq = Sequence("Q4 Outreach", 2)
    out = naming.subject(email_event(kind, "Q4 pricing", reply=reply, sequence=seq))
    assert out == expected
    assert is_faq_valid(out)


@pytest.mark.parametrize("kind", MEETING_TYPES)
@pytest.mark.parametrize("sequence", [None, Sequence("Q4 Outreach", 3)])
def test_meeting_confirmed_uses_the_meeting_title(kind: EventType,
                                                  sequence: Sequence | None) -> None:
    # Both lists name a meeting "Meeting Confirmed: …", without the sequence tag.
    out = naming.subject(meeting_event("Globex / Acme demo", kind, sequence))
    assert out == "Meeting Confirmed: Globex / Acme demo"
    assert is_faq_valid(out)


def test_mail_written_in_is_a_reply_the_faq_accepts() -> None:
    out = naming.subject(email_event(EventType.EMAIL_RECEIVED, "Question"))
    assert out.startswith("Replied") and out.endswith(": Question")
    assert is_faq_valid(out)


def test_line_breaks_in_the_subject_become_spaces() -> None:
    out = naming.subject(email_event(EventType.EMAIL_OPENED, "Hello\r\nthere\u2028you\tall"))
    assert out == "Opened: Hello there you all"


def test_long_subject_is_cut_to_255_keeping_the_prefix() -> None:
    out = naming.subject(email_event(EventType.EMAIL_SENT, "x" * 1000))
    assert len(out) == SUBJECT_LENGTH
    assert out.startswith("Sent (New): xxx") and out.endswith("…")
    assert is_faq_valid(out)


def test_a_1000_character_sequence_name_keeps_the_tag_and_colon() -> None:
    seq = Sequence("S" * 1000, 7)
    out = naming.subject(email_event(EventType.EMAIL_CLICKED, "Pricing", sequence=seq))
    assert len(out) <= SUBJECT_LENGTH
    assert out.startswith("Clicked [SSS")
    assert out.endswith(" (#7)]: Pricing")  # the stage, bracket, colon and subject survive
    assert is_faq_valid(out)


def test_longest_everything_still_fits() -> None:
    seq = Sequence("N" * 1000, 2**64 - 1)
    out = naming.subject(email_event(EventType.EMAIL_SENT, "x" * 1000, reply=True,
                                     sequence=seq))
    assert len(out) == SUBJECT_LENGTH
    assert f"(#{2**64 - 1})]: xxx" in out
    assert is_faq_valid(out)


def test_brackets_and_colons_in_the_text_still_match() -> None:
    seq = Sequence("a]: [b (#1)", 4)
    out = naming.subject(email_event(EventType.EMAIL_REPLIED, "Re: [ext] (1): ok]",
                                     sequence=seq))
    assert out == "Replied [a]: [b (#1) (#4)]: Re: [ext] (1): ok]"
    assert is_faq_valid(out)


texts = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from("[]():#\n\r\t \u0085\u2028\u2029…é漢😀"), max_size=50),
    st.text(min_size=200, max_size=1500),
)
# orjson (the API's parser) refuses integers beyond 64 bits, so that bounds a stage.
stages = st.one_of(st.integers(min_value=1, max_value=50),
                   st.integers(min_value=-(2**63), max_value=2**64 - 1))
sequences = st.none() | st.builds(Sequence, name=texts, stage=stages)


@settings(max_examples=400)
@given(kind=st.sampled_from(EMAIL_TYPES + MEETING_TYPES), text=texts, sequence=sequences,
       reply=st.booleans())
def test_every_email_and_meeting_subject_is_short_one_line_and_faq_valid(
        kind: EventType, text: str, sequence: Sequence | None, reply: bool) -> None:
    event = (meeting_event(text, kind, sequence) if kind in MEETING_TYPES
             else email_event(kind, text, reply=reply, sequence=sequence))
    out = naming.subject(event)
    assert len(out) <= SUBJECT_LENGTH
    assert "\n" not in out and "\r" not in out
    assert is_faq_valid(out), out
    if sequence is not None and kind not in (*MEETING_TYPES, EventType.EMAIL_RECEIVED):
        assert f"(#{sequence.stage})]: " in out


def test_a_bounce_logged_by_a_role_is_sent_bounced_and_faq_valid() -> None:
    out = naming.subject(email_event(EventType.EMAIL_BOUNCED, "Intro", reply=False,
                                     sequence=None))
    assert out == "Sent (Bounced): Intro" and is_faq_valid(out)

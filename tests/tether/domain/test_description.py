"""What lands in Salesforce reads well: a call's subject names the person called (their
address when no name is known), and a Description reads as a person would write it: who did
what and when, the email's headers with names (``From: Rita Rep <rep@acme.example>``), the
words written, and the related record by name."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.tether.domain.test_planner import (
    JANE,
    ME,
    SF_ME,
    WHEN,
    call_event,
    contact,
    meeting,
    only,
    run,
    sent,
    task_event,
    tracking,
    user,
    view,
)
from tether.domain import naming
from tether.domain.description import Named, RelatedRecord, describe, duration, mailbox, span
from tether.domain.events import Event, EventType, Message
from tether.domain.matching import Opportunity, Person
from tether.domain.planner import KEY_FOOTER
from tether.domain.settings import SalesforceSettings

RITA, ADA = Named(ME, "Rita Rep"), Named(JANE, "Ada Lovelace")
GLOBEX = RelatedRecord("Account", Named("001A", "Globex"), "the Contact's Account")


def lines(text: str) -> list[str]:
    return text.splitlines()


def test_a_mailbox_is_name_and_address_or_the_address_alone() -> None:
    assert mailbox(ADA) == "Ada Lovelace <jane@globex.example>"
    assert mailbox(Named(JANE)) == JANE
    assert mailbox(Named(JANE, JANE)) == JANE, "a member without a name is shown once"
    assert mailbox(Named(JANE, "  Ada \n Lovelace ")) == "Ada Lovelace <jane@globex.example>"


@pytest.mark.parametrize("name,disposition,expected", [
    ("Ada Lovelace", "Connected", "Call with Ada Lovelace (Connected)"),
    ("Ada Lovelace", None, "Call with Ada Lovelace"),
    (None, "Left voicemail", f"Call with {JANE} (Left voicemail)"),
    ("", None, f"Call with {JANE}"),
])
def test_a_calls_subject_names_the_person(name: str | None, disposition: str | None,
                                          expected: str) -> None:
    assert naming.subject(call_event(disposition=disposition), name) == expected


def test_a_sent_email_reads_like_an_email() -> None:
    event = Event(id="e", type=EventType.EMAIL_SENT, occurred_at=WHEN, user=ME,
                  message=Message(id="<m1@acme.example>", subject="Q4 pricing", to=[JANE],
                                  cc=["bob@globex.example"], snippet="Hi Ada,\nthe figures."))
    text = describe(event, RITA, ADA, GLOBEX)
    assert lines(text) == [
        "Sent with Tether on 2026-11-28 10:00 UTC.",
        "From: Rita Rep <rep@acme.example>",
        "To: Ada Lovelace <jane@globex.example>",
        "Cc: bob@globex.example",
        "Subject: Q4 pricing",
        "",
        "Hi Ada,",
        "the figures.",
        "",
        "Related to Account Globex (001A): the Contact's Account.",
    ]


def test_a_reply_is_from_the_person_to_the_member() -> None:
    event = Event(id="e", type=EventType.EMAIL_REPLIED, occurred_at=WHEN, user=ME,
                  message=Message(id="<m2@globex.example>", subject="Re: Q4", to=[ME]),
                  recipient=JANE)
    assert lines(describe(event, RITA, ADA))[:3] == [
        "Ada Lovelace <jane@globex.example> replied to Rita Rep <rep@acme.example> on "
        "2026-11-28 10:00 UTC.",
        "From: Ada Lovelace <jane@globex.example>",
        "To: Rita Rep <rep@acme.example>"]


@pytest.mark.parametrize("kind,says", [
    (EventType.EMAIL_OPENED, 'Ada Lovelace <jane@globex.example> opened "Q4 pricing" on'),
    (EventType.EMAIL_CLICKED, "Ada Lovelace <jane@globex.example> clicked "
                              'https://acme.example/p in "Q4 pricing" on'),
    (EventType.EMAIL_DOWNLOADED, "Ada Lovelace <jane@globex.example> downloaded deck.pdf "
                                 'from "Q4 pricing" on'),
])
def test_tracking_says_who_did_what(kind: EventType, says: str) -> None:
    first, sender = lines(describe(tracking(kind), RITA, ADA))[:2]
    assert first.startswith(says) and sender == "From: Rita Rep <rep@acme.example>"


def test_without_a_name_people_are_their_addresses() -> None:
    text = describe(tracking(), Named(ME, ME))
    assert text.startswith(f"{JANE} opened") and f"From: {ME}" in text


def test_a_meeting_task_and_call_read_as_sentences() -> None:
    assert lines(describe(meeting(), RITA, ADA)) == [
        'Meeting "Demo", 2026-12-01 13:30 to 14:15 UTC.',
        "Organizer: Rita Rep <rep@acme.example>",
        "Attendees: Rita Rep <rep@acme.example>, Ada Lovelace <jane@globex.example>"]
    assert lines(describe(task_event(EventType.TASK_COMPLETED, kind="call", notes="Done."),
                          RITA, ADA)) == [
        'Call task "Send the deck": completed.',
        "Completed in Tether by Rita Rep <rep@acme.example> on 2026-11-28 10:00 UTC.",
        "With: Ada Lovelace <jane@globex.example>", "", "Done."]
    assert lines(describe(call_event(duration_s=312, disposition="Connected",
                                     notes="Wants a quote"), RITA, ADA)) == [
        "Outbound call with Ada Lovelace <jane@globex.example>, 5 min 12 s, Connected, on "
        "2026-11-28 10:00 UTC.",
        "Logged by Rita Rep <rep@acme.example>.", "", "Wants a quote"]


def test_spans_and_durations() -> None:
    start = dt.datetime(2026, 12, 1, 23, 30, tzinfo=dt.UTC)
    assert span(start, start + dt.timedelta(minutes=20)) == "2026-12-01 23:30 to 23:50 UTC"
    assert span(start, start + dt.timedelta(hours=1)) == (
        "2026-12-01 23:30 to 2026-12-02 00:30 UTC")
    assert (duration(0), duration(59), duration(61)) == ("0 s", "59 s", "1 min 1 s")


def test_a_related_record_without_a_name_is_its_id() -> None:
    unnamed = RelatedRecord("Project__c", Named("a01A"), "Project via Account__c")
    assert describe(tracking(), RITA, ADA, unnamed).endswith(
        "Related to Project__c a01A: Project via Account__c.")


def test_the_planner_writes_names_from_the_mirror() -> None:
    """The Contact's Name for the call's subject and Description, the Account's and the
    Opportunity's names on the writes related to them; the key footer stays last."""
    ada = Person("003A", "Contact", account_id="001A", name="Ada Lovelace")
    mirror = view({JANE: [ada]}, accounts={"001A": "Globex"},
                  opportunities_by_role={"003A": [Opportunity("006A", "001A", SF_ME, False,
                                                              "Globex renewal")]})
    opportunities = user(SalesforceSettings(log_to_opportunities=True))
    plan = only(run(call_event(disposition="Connected"), opportunities, mirror))
    by_what = {w.fields["WhatId"]: w.fields for w in plan.writes}
    assert {f["Subject"] for f in by_what.values()} == {"Call with Ada Lovelace (Connected)"}
    assert "Related to Account Globex (001A): the Contact's Account." in by_what["001A"][
        "Description"]
    assert "Related to Opportunity Globex renewal (006A)" in by_what["006A"]["Description"]
    for w in plan.writes:
        assert "Outbound call with Ada Lovelace <jane@globex.example>" in w.fields[
            "Description"]
        assert w.fields["Description"].endswith(f"\n\n{KEY_FOOTER}{w.key}")
    unnamed = only(run(call_event(), v=view({JANE: [contact()]})))
    assert unnamed.writes[0].fields["Subject"] == f"Call with {JANE}"


def test_an_email_to_the_person_names_them_in_its_headers() -> None:
    ada = Person("003A", "Contact", name="Ada Lovelace")
    (w,) = only(run(sent(), v=view({JANE: [ada]}))).writes
    assert "To: Ada Lovelace <jane@globex.example>" in lines(w.fields["Description"])
    assert "From: Rita Rep <rep@acme.example>" in lines(w.fields["Description"])

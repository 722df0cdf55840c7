"""The pure activity planner: from an event, the user's settings and what the mirror knows, the
Salesforce writes to make (or why none), per recipient."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.domain import naming
from tether.domain.events import (
    Call,
    Event,
    EventType,
    Meeting,
    Message,
    TaskInfo,
)
from tether.domain.matching import (
    DEFAULT_TIE_BREAK,
    MirrorView,
    Opportunity,
    Person,
    Related,
    TieBreak,
)
from tether.domain.planner import (
    KEY_FOOTER,
    NO_RECORD,
    NO_RECORD_YET,
    UNCONNECTED,
    ActivityPlan,
    PlanInput,
    PlannedWrite,
    UserContext,
    plan,
)
from tether.domain.settings import (
    Activity,
    Plan,
    Role,
    SalesforceSettings,
    effective_settings,
)

WS = "ws-1"
ME = "rep@acme.example"
SF_ME = "005000000000001AAA"
SF_OTHER = "005000000000002AAA"
JANE = "jane@globex.example"
WHEN = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
MSG = "<m1@acme.example>"


# builders

DEFAULTS = SalesforceSettings()


def user(s: SalesforceSettings = DEFAULTS, *, connected: bool = True,
         role: str | None = "Sales", sf_plan: Plan = Plan.GROWTH,
         tie_break: tuple[TieBreak, ...] = DEFAULT_TIE_BREAK,
         addresses: Iterable[str] = (), domains: Iterable[str] = ()) -> UserContext:
    applying = Role("role-1", role, s) if role else None
    effective = effective_settings(plan=sf_plan, role=applying, default_role=None,
                                   user_settings=None if applying else s,
                                   configured_custom_objects=s.custom_objects)
    return UserContext(workspace_id=WS, email=ME, display_name="Rita Rep",
                       effective=effective, connected=connected,
                       salesforce_user_id=SF_ME if connected else None,
                       excluded_addresses=frozenset(addresses),
                       excluded_domains=frozenset(domains), tie_break=tie_break)


def sent(to: Sequence[str] = (JANE,), cc: Sequence[str] = (), bcc: Sequence[str] = (),
         **kw: Any) -> Event:
    return Event(id="ev-sent", type=EventType.EMAIL_SENT, occurred_at=WHEN, user=ME,
                 message=Message(id=MSG, subject="Q4 pricing", to=list(to), cc=list(cc),
                                 bcc=list(bcc)), **kw)


def tracking(kind: EventType = EventType.EMAIL_OPENED, recipient: str = JANE,
             ident: str = "ev-open", bcc: Sequence[str] = ()) -> Event:
    return Event(id=ident, type=kind, occurred_at=WHEN, user=ME,
                 message=Message(id=MSG, subject="Q4 pricing", to=[JANE], bcc=list(bcc)),
                 recipient=recipient, url="https://acme.example/p", file_name="deck.pdf")


def meeting(*, calendar: str = "primary", organizer: str = ME,
            status: Literal["confirmed", "cancelled"] = "confirmed",
            attendees: Sequence[str] = (ME, JANE), ident: str = "ev-meet") -> Event:
    tz = dt.timezone(dt.timedelta(hours=2))
    return Event(id=ident, type=EventType.MEETING_CONFIRMED, occurred_at=WHEN, user=ME,
                 meeting=Meeting(id="mt-1", title="Demo", calendar=calendar,
                                 start=dt.datetime(2026, 12, 1, 15, 30, tzinfo=tz),
                                 end=dt.datetime(2026, 12, 1, 16, 15, tzinfo=tz),
                                 organizer=organizer, attendees=list(attendees),
                                 status=status))


def task_event(etype: EventType = EventType.TASK_CREATED, ident: str = "ev-task",
               **task: Any) -> Event:
    info = TaskInfo(**{"id": "task-1", "kind": "todo", "subject": "Send the deck",
                       "who": JANE, **task})
    return Event(id=ident, type=etype, occurred_at=WHEN, user=ME, task=info)


def call_event(**call: Any) -> Event:
    return Event(id="ev-call", type=EventType.CALL_LOGGED, occurred_at=WHEN, user=ME,
                 call=Call(**{"to": JANE, "id": "call-1", **call}))


def contact(ident: str = "003A", *, owner: str | None = None, modstamp: str = "2026-01-01",
            account: str | None = None, converted_from: str | None = None) -> Person:
    return Person(ident, "Contact", owner_id=owner, modstamp=modstamp, account_id=account,
                  converted_from=converted_from)


def lead(ident: str = "00QA", *, owner: str | None = None,
         modstamp: str = "2026-01-01") -> Person:
    return Person(ident, "Lead", owner_id=owner, modstamp=modstamp)


def view(people: Mapping[str, Sequence[Person]] | None = None, **kw: Any) -> MirrorView:
    return MirrorView(people=people if people is not None else {JANE: [contact()]}, **kw)


def run(event: Event, u: UserContext | None = None, v: MirrorView | None = None,
        **kw: Any) -> list[ActivityPlan]:
    return plan(PlanInput(event, u or user(), v if v is not None else view(), **kw))


def only(plans: list[ActivityPlan]) -> ActivityPlan:
    assert len(plans) == 1, plans
    return plans[0]


def whats(p: ActivityPlan) -> list[str | None]:
    return [w.fields["WhatId"] for w in p.writes]


# refusals for the whole event

def test_not_connected_waits_for_the_connection_naming_the_user() -> None:
    """Never dropped: a rep who connects a day late keeps what they did before."""
    plans = run(sent(to=[JANE, "bob@globex.example"]), user(connected=False))
    assert [p.recipient for p in plans] == [JANE, "bob@globex.example"]
    for p in plans:
        assert p.status == "pending" and p.writes == () and p.cause == UNCONNECTED
        assert ME in p.reason and "no Salesforce connection" in p.reason


def test_not_connected_after_the_wait_is_errored_not_dropped() -> None:
    p = only(run(sent(), user(connected=False), pending_expired=True,
                 waited_for=UNCONNECTED, connection_window=dt.timedelta(days=30)))
    assert p.status == "errored" and p.writes == ()
    assert "did not connect Salesforce within 30 days" in p.reason
    # a wait for a record that ended does not error a member who is not connected
    p = only(run(sent(), user(connected=False), pending_expired=True,
                 waited_for=NO_RECORD_YET))
    assert p.status == "pending" and p.cause == UNCONNECTED


def test_not_connected_refusals_of_the_settings_still_ignore() -> None:
    """What would be ignored anyway is ignored at once, connected or not."""
    plans = run(sent(to=["bob@globex.example"], bcc=[JANE]), user(connected=False))
    assert {x.recipient: x.status for x in plans} == {"bob@globex.example": "pending",
                                                     JANE: "ignored"}


def test_not_connected_through_the_sync_user_plans_the_writes_for_the_owner() -> None:
    u = replace(user(connected=False), via_sync_user=True)
    p = only(run(sent(), u))
    assert p.status == "queued" and p.writes
    for w in p.writes:
        assert w.owner_email == ME and w.fields["OwnerId"] is None


def test_plan_without_salesforce_ignores() -> None:
    p = only(run(sent(), user(sf_plan=Plan.STARTER)))
    assert p.status == "ignored" and "plan" in p.reason and p.writes == ()


def test_activity_switched_off_names_the_role() -> None:
    s = SalesforceSettings(activities=frozenset({Activity.SENT}))
    p = only(run(tracking(EventType.EMAIL_CLICKED), user(s, role="SDR team")))
    assert p.status == "ignored" and p.writes == ()
    assert "'clicked'" in p.reason and "SDR team" in p.reason
    # The activities still on are logged.
    assert only(run(sent(), user(s, role="SDR team"))).status == "queued"


def test_mail_sent_outside_tether_is_ignored_unless_scope_all() -> None:
    from tether.domain.settings import EmailScope
    e = sent()
    assert e.message is not None
    mailbox = replace(e, message=replace(e.message, sent_via="mailbox"))
    assert only(run(mailbox)).status == "ignored"
    scope_all = SalesforceSettings(email_scope=EmailScope.ALL)
    assert only(run(mailbox, user(scope_all))).status == "queued"


def test_a_bounce_is_recorded_not_logged_unless_the_role_logs_bounces() -> None:
    from tether.domain.events import Bounce
    bounced = Event(id="ev-bounce", type=EventType.EMAIL_BOUNCED, occurred_at=WHEN, user=ME,
                    message=Message(id=MSG, subject="Q4 pricing", to=[JANE]), recipient=JANE,
                    bounce=Bounce("5.1.1", True, "550 5.1.1 User unknown"))
    refused = only(run(bounced))
    assert refused.status == "ignored" and "bounces are recorded" in refused.reason
    logged = only(run(bounced, user(SalesforceSettings(log_bounces=True))))
    assert logged.status == "queued"
    assert [w.fields["Subject"] for w in logged.writes] == ["Sent (Bounced): Q4 pricing"]


# one recipient refused

def test_bcc_recipients_are_never_logged() -> None:
    bob = "bob@globex.example"
    v = view({JANE: [contact("003J")], bob: [contact("003B")]})
    plans = {p.recipient: p for p in run(sent(to=[JANE], bcc=[bob]), v=v)}
    assert plans[bob].status == "ignored" and plans[bob].writes == ()
    assert plans[bob].reason == "BCC recipients are never logged"
    assert plans[JANE].status == "queued"
    assert [w.fields["WhoId"] for w in plans[JANE].writes] == ["003J"]


def test_an_open_by_a_bcc_recipient_is_not_logged() -> None:
    bob = "bob@globex.example"
    p = only(run(tracking(recipient=bob, bcc=[bob]), v=view({bob: [contact("003B")]})))
    assert p.status == "ignored" and p.reason == "BCC recipients are never logged"


@pytest.mark.parametrize("address,words", [
    ("boss@partner.example", "excluded addresses"),
    ("ann@sub.internal.example", "excluded domain"),
    ("noreply@globex.example", "role address"),
    ("No-Reply+x@globex.example", "role address"),
])
def test_excluded_recipients_are_ignored(address: str, words: str) -> None:
    u = user(addresses={"Boss@Partner.example"}, domains={"internal.example"})
    v = view({address.lower(): [contact()], JANE: [contact("003J")]})
    plans = {p.recipient: p for p in run(sent(to=[address, JANE]), u, v)}
    excluded = plans[address.lower()]
    assert excluded.status == "ignored" and words in excluded.reason and not excluded.writes
    assert plans[JANE].status == "queued"


@pytest.mark.parametrize("kind", [EventType.EMAIL_OPENED, EventType.EMAIL_CLICKED,
                                  EventType.EMAIL_DOWNLOADED])
def test_first_only(kind: EventType) -> None:
    logged = frozenset({(kind.value, MSG, JANE)})
    first_only = user(SalesforceSettings(first_only=True))
    again = only(run(tracking(kind), first_only, already_logged=logged))
    assert again.status == "ignored" and "only sync the first" in again.reason
    assert again.writes == ()
    # The first one, and every one without the setting, is logged.
    assert only(run(tracking(kind), first_only)).status == "queued"
    assert only(run(tracking(kind), already_logged=logged)).status == "queued"
    # Another recipient's, or another message's, earlier activity does not count.
    other = frozenset({(kind.value, MSG, "bob@globex.example"),
                       (kind.value, "<m2@acme.example>", JANE)})
    assert only(run(tracking(kind), first_only, already_logged=other)).status == "queued"


def test_first_only_does_not_apply_to_replies() -> None:
    logged = frozenset({(EventType.EMAIL_REPLIED.value, MSG, JANE)})
    p = only(run(tracking(EventType.EMAIL_REPLIED), user(SalesforceSettings(first_only=True)),
                 already_logged=logged))
    assert p.status == "queued"


# no record yet

def test_unknown_recipient_is_pending_then_ignored_when_the_wait_is_over() -> None:
    p = only(run(sent(), v=view({})))
    assert p.status == "pending" and p.reason == NO_RECORD and p.writes == ()
    expired = only(run(sent(), v=view({}), pending_expired=True,
                       pending_window=dt.timedelta(hours=48)))
    assert expired.status == "ignored" and expired.reason.startswith(NO_RECORD)
    assert "48 h" in expired.reason


def test_converted_lead_without_its_contact_waits_naming_the_lead() -> None:
    p = only(run(sent(), v=view({}, converted_without_contact={JANE: "00QCONV"})))
    assert p.status == "pending" and "00QCONV" in p.reason and "converted" in p.reason


# matching

def test_converted_lead_resolves_to_its_contact() -> None:
    p = only(run(sent(), v=view({JANE: [contact("003C", converted_from="00QOLD")]})))
    assert p.status == "queued" and p.match is not None
    assert (p.match["object"], p.match["Id"]) == ("Contact", "003C")
    assert "Lead 00QOLD was converted to this Contact" in p.match["reason"]
    assert [w.fields["WhoId"] for w in p.writes] == ["003C"]


def test_recipient_address_case_does_not_matter() -> None:
    p = only(run(sent(to=["JANE@Globex.Example"])))
    assert p.recipient == JANE and p.status == "queued"


def chosen(people: list[Person], u: UserContext | None = None) -> tuple[str, str]:
    p = only(run(sent(), u, view({JANE: people})))
    assert p.match is not None
    assert sorted(p.match["candidates"]) == sorted(x.id for x in people)
    assert [w.fields["WhoId"] for w in p.writes if w.fields["WhoId"]] == [p.match["Id"]]
    return p.match["Id"], p.match["reason"]


def test_tie_break_contact_before_lead() -> None:
    # The Lead is owned by the user and newer, yet the Contact wins: that criterion is first.
    winner, reason = chosen([lead("00Q1", owner=SF_ME, modstamp="2026-06-01"),
                             contact("003Z", modstamp="2020-01-01")])
    assert winner == "003Z"
    assert "2 records" in reason and "Contacts before Leads" in reason


def test_tie_break_then_owned_by_user() -> None:
    winner, reason = chosen([contact("003A", owner=SF_OTHER, modstamp="2026-06-01"),
                             contact("003B", owner=SF_ME, modstamp="2020-01-01"),
                             lead("00Q1", owner=SF_ME, modstamp="2026-07-01")])
    assert winner == "003B" and "owned by the user" in reason and "3 records" in reason


def test_tie_break_then_most_recently_modified() -> None:
    winner, reason = chosen([contact("003A", owner=SF_OTHER, modstamp="2026-01-01T00:00:00Z"),
                             contact("003B", owner=SF_OTHER, modstamp="2026-03-01T00:00:00Z"),
                             contact("003C", owner=None, modstamp="2025-12-01T00:00:00Z")])
    assert winner == "003B" and "most recently modified" in reason


def test_tie_break_last_resort_is_the_lowest_id() -> None:
    winner, reason = chosen([contact("003B"), contact("003A")])
    assert winner == "003A" and "lowest record id" in reason


def test_custom_tie_break_order_lead_first() -> None:
    people = [contact("003A", owner=SF_ME, modstamp="2026-06-01"),
              lead("00QB", modstamp="2020-01-01")]
    assert chosen(people)[0] == "003A"
    winner, reason = chosen(people, user(tie_break=(TieBreak.LEAD_FIRST,)))
    assert winner == "00QB" and "Leads before Contacts" in reason
    # Owned-by-user before Lead-first: the owned Contact again.
    winner, reason = chosen(people, user(tie_break=(TieBreak.OWNED_BY_USER,
                                                    TieBreak.LEAD_FIRST)))
    assert winner == "003A" and "owned by the user" in reason


# related records

ACCOUNT = "001ACC"
OPP_ROLE = Opportunity("006A", ACCOUNT, SF_OTHER, is_closed=False)  # jane has a role on it
OPP_MINE = Opportunity("006B", ACCOUNT, SF_ME, is_closed=False)
OPP_CLOSED = Opportunity("006C", ACCOUNT, SF_ME, is_closed=True)


def rich_view(**kw: Any) -> MirrorView:
    return view({JANE: [contact("003J", account=ACCOUNT)]}, accounts={ACCOUNT: "Globex"},
                opportunities_by_account={ACCOUNT: [OPP_CLOSED, OPP_MINE, OPP_ROLE]},
                opportunities_by_role={"003J": [OPP_ROLE]}, **kw)


def related_ids(s: SalesforceSettings, v: MirrorView | None = None) -> list[str | None]:
    p = only(run(sent(), user(s), v or rich_view()))
    assert p.status == "queued"
    # A Contact's writes all carry it as WhoId; one write per related record.
    assert {w.fields["WhoId"] for w in p.writes} == {"003J"}
    keys = [w.key for w in p.writes]
    assert len(set(keys)) == len(keys)
    return whats(p)


def test_account_only_when_log_to_accounts() -> None:
    assert related_ids(SalesforceSettings()) == [ACCOUNT]
    assert related_ids(SalesforceSettings(log_to_accounts=False)) == [None]
    # An Account the mirror lacks is not written to.
    assert related_ids(SalesforceSettings(), view(
        {JANE: [contact("003J", account="001GONE")]})) == [None]


def test_opportunities_with_a_contact_role_by_default() -> None:
    s = SalesforceSettings(log_to_opportunities=True)
    assert related_ids(s) == [ACCOUNT, "006A"]


def test_all_open_opportunities_on_the_account() -> None:
    s = SalesforceSettings(log_to_opportunities=True, opportunities_all_on_account=True)
    assert related_ids(s) == [ACCOUNT, "006A", "006B"]


def test_closed_opportunities_only_when_asked() -> None:
    s = SalesforceSettings(log_to_opportunities=True, opportunities_all_on_account=True,
                           opportunities_closed=True)
    assert related_ids(s) == [ACCOUNT, "006A", "006B", "006C"]


def test_only_the_users_opportunities_when_asked() -> None:
    s = SalesforceSettings(log_to_opportunities=True, opportunities_all_on_account=True,
                           opportunities_only_when_owner=True)
    assert related_ids(s) == [ACCOUNT, "006B"]
    by_role_only = SalesforceSettings(log_to_opportunities=True,
                                      opportunities_only_when_owner=True)
    assert related_ids(by_role_only) == [ACCOUNT]  # jane's only Opportunity is not mine


def test_a_contact_with_two_roles_on_one_opportunity_logs_it_once() -> None:
    # Salesforce lets one Contact hold several roles on the same Opportunity.
    v = rich_view()
    v.opportunities_by_role = {"003J": [OPP_ROLE, OPP_ROLE]}
    assert related_ids(SalesforceSettings(log_to_opportunities=True), v) == [ACCOUNT, "006A"]


def test_custom_object_records_by_parent() -> None:
    custom = {
        "003J": [Related("Project__c", "a01P", "Project via Contact__c")],
        ACCOUNT: [Related("Project__c", "a01Q", "Project via Account__c"),
                  Related("Project__c", "a01P", "Project via Account__c"),  # seen already
                  Related("Other__c", "a02X", "not configured")],
        "006A": [Related("Project__c", "a01R", "Project via Opportunity__c")],
    }
    s = SalesforceSettings(log_to_opportunities=True, custom_objects=frozenset({"Project__c"}))
    got = related_ids(s, rich_view(custom_by_parent=custom))
    assert got == [ACCOUNT, "006A", "a01P", "a01Q", "a01R"]
    # Without the object in the settings, none.
    assert related_ids(SalesforceSettings(), rich_view(custom_by_parent=custom)) == [ACCOUNT]


def test_a_lead_with_a_related_custom_record_gets_two_writes() -> None:
    # Salesforce refuses a WhatId beside a Lead's WhoId.
    v = view({JANE: [lead("00QL")]},
             custom_by_parent={"00QL": [Related("Project__c", "a01P", "via Lead__c")]})
    s = SalesforceSettings(custom_objects=frozenset({"Project__c"}))
    p = only(run(sent(), user(s), v))
    pairs = [(w.fields["WhoId"], w.fields["WhatId"]) for w in p.writes]
    assert pairs == [("00QL", None), (None, "a01P")]
    assert [w.related for w in p.writes] == [None, "Project__c"]
    assert p.writes[0].key != p.writes[1].key


def test_a_lead_never_has_account_or_opportunities() -> None:
    s = SalesforceSettings(log_to_opportunities=True, opportunities_all_on_account=True)
    p = only(run(sent(), user(s), view({JANE: [lead("00QL")]})))
    assert [(w.fields["WhoId"], w.fields["WhatId"]) for w in p.writes] == [("00QL", None)]


# meetings

def test_meeting_not_on_the_primary_calendar_is_ignored() -> None:
    p = only(run(meeting(calendar="team-shared")))
    assert p.status == "ignored" and "primary calendar" in p.reason and not p.writes


def test_meeting_is_logged_only_by_its_organizer() -> None:
    plans = run(meeting(organizer="boss@acme.example",
                        attendees=["boss@acme.example", ME, JANE]))
    assert [p.recipient for p in plans] == [ME, JANE]
    for p in plans:
        assert p.status == "ignored" and "organizer" in p.reason and not p.writes


def test_cancelled_meeting_is_queued_without_writes_in_its_group() -> None:
    p = only(run(meeting(status="cancelled")))
    assert p.status == "queued" and p.writes == () and p.group == "meeting:mt-1"
    assert "cancelled" in p.reason


def test_meeting_event_fields_are_utc() -> None:
    p = only(run(meeting(), v=view({JANE: [contact("003J")]})))
    assert p.recipient == JANE and p.group == "meeting:mt-1"  # not the organizer
    (w,) = p.writes
    assert w.sobject == "Event"
    assert w.fields["StartDateTime"] == "2026-12-01T13:30:00.000+0000"
    assert w.fields["EndDateTime"] == "2026-12-01T14:15:00.000+0000"
    assert w.fields["Subject"] == "Meeting Confirmed: Demo"
    assert "Status" not in w.fields and "TaskSubtype" not in w.fields


def test_meeting_attendees_each_get_a_plan() -> None:
    plans = run(meeting(attendees=[ME, JANE, "Bob@globex.example"]),
                v=view({JANE: [contact("003J")], "bob@globex.example": [contact("003B")]}))
    assert [p.recipient for p in plans] == [JANE, "bob@globex.example"]
    assert [p.writes[0].fields["WhoId"] for p in plans] == ["003J", "003B"]


def test_a_meeting_updated_later_keeps_its_keys() -> None:
    first = only(run(meeting(ident="ev-1")))
    again = only(run(meeting(ident="ev-2")))  # the same meeting, another event
    assert [w.key for w in first.writes] == [w.key for w in again.writes]


# tasks and calls

def test_email_tasks_are_not_logged_when_created() -> None:
    p = only(run(task_event(kind="email")))
    assert p.status == "ignored" and not p.writes
    assert "email tasks are not logged when created" in p.reason
    assert "Sent" in p.reason  # the guide: synced as a Sent event when the email is sent


@pytest.mark.parametrize("kind,status,expected", [
    (EventType.TASK_CREATED, "open", "Not Started"),
    (EventType.TASK_UPDATED, "deferred", "Deferred"),
    (EventType.TASK_UPDATED, "completed", "Completed"),
    (EventType.TASK_COMPLETED, "open", "Completed"),  # completing it is what the event says
])
def test_task_status(kind: EventType, status: str, expected: str) -> None:
    (w,) = only(run(task_event(kind, status=status))).writes
    assert w.sobject == "Task" and w.fields["Status"] == expected


@pytest.mark.parametrize("kind,subtype", [("todo", "Task"), ("call", "Call"),
                                          ("linkedin", "LinkedIn")])
def test_task_subtype_and_due_date(kind: str, subtype: str) -> None:
    (w,) = only(run(task_event(kind=kind, due=dt.date(2026, 12, 1)))).writes
    assert w.fields["TaskSubtype"] == subtype
    assert w.fields["ActivityDate"] == "2026-12-01"
    assert w.fields["Subject"] == "Send the deck"
    (undated,) = only(run(task_event(kind=kind))).writes
    assert undated.fields["ActivityDate"] is None


def test_a_task_about_nobody_is_the_users_own() -> None:
    p = only(run(task_event(who=None)))
    assert p.recipient is None and p.status == "queued"
    (w,) = p.writes
    assert w.fields["WhoId"] is None and w.fields["OwnerId"] == SF_ME


def test_task_events_of_one_task_share_keys() -> None:
    created = only(run(task_event(EventType.TASK_CREATED, ident="ev-1")))
    done = only(run(task_event(EventType.TASK_COMPLETED, ident="ev-2")))
    assert [w.key for w in created.writes] == [w.key for w in done.writes]
    assert created.group == done.group == "task:task-1"


@pytest.mark.parametrize("direction,call_type", [("outbound", "Outbound"),
                                                 ("inbound", "Inbound")])
def test_call_fields(direction: str, call_type: str) -> None:
    (w,) = only(run(call_event(duration_s=312, disposition="Connected",
                               direction=direction))).writes
    assert w.sobject == "Task"
    assert w.fields["TaskSubtype"] == "Call"
    assert w.fields["CallDurationInSeconds"] == 312
    assert w.fields["CallDisposition"] == "Connected"
    assert w.fields["CallType"] == call_type
    assert w.fields["Status"] == "Completed"
    assert w.fields["ActivityDate"] == "2026-11-28"


def test_email_task_fields() -> None:
    late = replace(sent(), occurred_at=dt.datetime(2026, 11, 28, 23, 30,
                                                   tzinfo=dt.timezone(dt.timedelta(hours=-5))))
    (w,) = only(run(late)).writes
    assert w.sobject == "Task" and w.fields["TaskSubtype"] == "Email"
    assert w.fields["Subject"] == naming.subject(late) == "Sent (New): Q4 pricing"
    assert w.fields["Status"] == "Completed"
    assert w.fields["ActivityDate"] == "2026-11-29"  # the UTC day


# every write, and keys

def all_writes(plans: Iterable[ActivityPlan]) -> list[PlannedWrite]:
    return [w for p in plans for w in p.writes]


def check_writes(plans: list[ActivityPlan]) -> None:
    writes = all_writes(plans)
    keys = [w.key for w in writes]
    assert len(set(keys)) == len(keys), "keys must be unique within a plan"
    for w in writes:
        assert w.fields["Description"].endswith(f"\n{KEY_FOOTER}{w.key}")
        assert w.fields["OwnerId"] == SF_ME
        assert w.fields["Subject"] and len(w.fields["Subject"]) <= naming.SUBJECT_LENGTH
        if w.fields["WhoId"] and w.fields["WhoId"].startswith("00Q"):
            assert w.fields["WhatId"] is None  # never a WhatId beside a Lead


EVERY_KIND = [sent(to=[JANE, "bob@globex.example"]), tracking(EventType.EMAIL_OPENED),
              tracking(EventType.EMAIL_CLICKED), tracking(EventType.EMAIL_DOWNLOADED),
              tracking(EventType.EMAIL_REPLIED), tracking(EventType.EMAIL_RECEIVED),
              meeting(attendees=[ME, JANE, "bob@globex.example"]), task_event(),
              task_event(EventType.TASK_COMPLETED, kind="call"), call_event()]


@pytest.mark.parametrize("event", EVERY_KIND, ids=lambda e: e.type.value)
def test_every_write_carries_its_key_and_the_users_owner_id(event: Event) -> None:
    s = SalesforceSettings(log_to_opportunities=True, opportunities_all_on_account=True,
                           custom_objects=frozenset({"Project__c"}))
    v = rich_view(custom_by_parent={"00QB": [Related("Project__c", "a01P", "via Lead__c")]})
    v.people = {**v.people, "bob@globex.example": [lead("00QB")]}
    plans = run(event, user(s), v)
    assert plans and all(p.status == "queued" and p.writes for p in plans)
    check_writes(plans)


def test_keys_differ_by_workspace() -> None:
    mine = all_writes(run(sent()))
    theirs = all_writes(run(sent(), replace(user(), workspace_id="ws-2")))
    assert {w.key for w in mine}.isdisjoint({w.key for w in theirs})


POOL = [JANE, "Bob@globex.example", "carl@initech.example", "dora@initech.example",
        "noreply@globex.example", "erin@unknown.example", "fay@internal.example"]
POOL_VIEW = MirrorView(
    people={JANE: [contact("003J", account=ACCOUNT)],
            "bob@globex.example": [lead("00QB"), contact("003B", account=ACCOUNT)],
            "carl@initech.example": [lead("00QC")],
            "dora@initech.example": [contact("003D", account="001INI", owner=SF_ME),
                                     contact("003E", account="001INI")]},
    accounts={ACCOUNT: "Globex", "001INI": "Initech"},
    opportunities_by_account={ACCOUNT: [OPP_CLOSED, OPP_MINE, OPP_ROLE],
                              "001INI": [Opportunity("006I", "001INI", SF_ME, False)]},
    opportunities_by_role={"003J": [OPP_ROLE], "003D": [Opportunity("006I", "001INI", SF_ME,
                                                                    False)]},
    custom_by_parent={"00QC": [Related("Project__c", "a01C", "via Lead__c")],
                      ACCOUNT: [Related("Project__c", "a01G", "via Account__c")],
                      "006I": [Related("Project__c", "a01I", "via Opportunity__c")]})

settings_st = st.builds(
    SalesforceSettings, first_only=st.booleans(), log_to_accounts=st.booleans(),
    log_to_opportunities=st.booleans(), opportunities_only_when_owner=st.booleans(),
    opportunities_all_on_account=st.booleans(), opportunities_closed=st.booleans(),
    custom_objects=st.sampled_from([frozenset(), frozenset({"Project__c"})]))
addresses = st.lists(st.sampled_from(POOL).map(
    lambda a: a.upper() if a.startswith("c") else a), max_size=5)


@settings(max_examples=150)
@given(s=settings_st, to=addresses, cc=addresses, bcc=addresses,
       tie=st.permutations(list(TieBreak)), data=st.data())
def test_keys_unique_and_stable(s: SalesforceSettings, to: list[str], cc: list[str],
                                bcc: list[str], tie: list[TieBreak], data: st.DataObject
                                ) -> None:
    if not (to or cc or bcc):
        to = [JANE]
    u = user(s, tie_break=tuple(tie), domains={"internal.example"})
    event = sent(to=to, cc=cc, bcc=bcc)
    first = plan(PlanInput(event, u, POOL_VIEW))
    assert plan(PlanInput(event, u, POOL_VIEW)) == first  # the same keys and fields
    check_writes(first)
    recipients = [p.recipient for p in first]
    assert len(set(recipients)) == len(recipients)
    # The recipients' order in the message changes no recipient's keys.
    shuffled = sent(to=data.draw(st.permutations(to)), cc=cc, bcc=bcc)
    assert {p.recipient: [w.key for w in p.writes]
            for p in plan(PlanInput(shuffled, u, POOL_VIEW))} == {
        p.recipient: [w.key for w in p.writes] for p in first}

"""Effective settings over every combination of role, default role, user settings and plan."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.domain.exclusions import exclusion_reason
from tether.domain.settings import (
    Activity,
    Autocreate,
    EmailScope,
    Plan,
    Role,
    SalesforceSettings,
    SettingsSource,
    effective_settings,
)

ROLE_SETTINGS = SalesforceSettings(activities=frozenset({Activity.SENT, Activity.REPLIED}),
                                   log_to_opportunities=True,
                                   opportunities_only_when_owner=True,
                                   custom_objects=frozenset({"Project__c", "Gone__c"}))
DEFAULT_SETTINGS = SalesforceSettings(autocreate=Autocreate.LEADS_ONLY, first_only=True)
USER_SETTINGS = SalesforceSettings(activities=frozenset({Activity.OPENED}),
                                   email_scope=EmailScope.ALL,
                                   custom_objects=frozenset({"Project__c"}))
CONFIGURED = ["Project__c"]


def _roles(present: bool, manage_own: bool, settings: SalesforceSettings,
           name: str) -> Role | None:
    return Role(id=name, name=name, settings=settings, members_manage_own=manage_own) \
        if present else None


@pytest.mark.parametrize(
    "plan,has_role,role_own,has_default,default_own,has_user",
    list(itertools.product(Plan, [True, False], [True, False], [True, False], [True, False],
                           [True, False])))
def test_every_combination(plan: Plan, has_role: bool, role_own: bool, has_default: bool,
                           default_own: bool, has_user: bool) -> None:
    role = _roles(has_role, role_own, ROLE_SETTINGS, "Sales")
    default = _roles(has_default, default_own, DEFAULT_SETTINGS, "Default")
    user = USER_SETTINGS if has_user else None
    out = effective_settings(plan=plan, role=role, default_role=default, user_settings=user,
                             configured_custom_objects=CONFIGURED)
    applying = role or default
    # Which policy applies: the user's role, else the default role, else built-in defaults.
    assert out.role_name == (applying.name if applying else None)
    editable = applying.members_manage_own if applying else True
    assert out.editable_by_user is editable
    # The user's own settings count only where the applying role lets them.
    if editable and has_user:
        assert out.source is SettingsSource.USER
        assert out.settings.activities == frozenset({Activity.OPENED})
        assert out.settings.email_scope is EmailScope.ALL
    elif role is not None:
        assert out.source is SettingsSource.ROLE
        assert out.settings.activities == ROLE_SETTINGS.activities
        assert out.settings.opportunities_only_when_owner is True
    elif default is not None:
        assert out.source is SettingsSource.DEFAULT_ROLE
        assert out.settings.autocreate is Autocreate.LEADS_ONLY and out.settings.first_only
    else:
        assert out.source is SettingsSource.BUILT_IN
        assert out.settings == SalesforceSettings()
    # Custom objects are always among those the workspace has configured.
    assert out.settings.custom_objects <= set(CONFIGURED)
    assert out.salesforce_enabled is (plan in (Plan.GROWTH, Plan.ENTERPRISE))


def test_opportunity_refinements_need_opportunities() -> None:
    role = Role("r", "R", replace(ROLE_SETTINGS, log_to_opportunities=False,
                                  opportunities_closed=True))
    out = effective_settings(plan=Plan.GROWTH, role=role, default_role=None,
                             user_settings=None, configured_custom_objects=[])
    assert not out.settings.opportunities_only_when_owner
    assert not out.settings.opportunities_closed


settings_strategy = st.builds(
    SalesforceSettings,
    autocreate=st.sampled_from(Autocreate),
    activities=st.frozensets(st.sampled_from(Activity)),
    email_scope=st.sampled_from(EmailScope),
    first_only=st.booleans(), log_to_accounts=st.booleans(),
    log_to_opportunities=st.booleans(), opportunities_only_when_owner=st.booleans(),
    opportunities_all_on_account=st.booleans(), opportunities_closed=st.booleans(),
    custom_objects=st.frozensets(st.sampled_from(["A__c", "B__c", "C__c"])),
    run_assignment_rules=st.booleans(),
    visible_fields=st.dictionaries(st.sampled_from(["Lead", "Contact"]),
                                   st.lists(st.sampled_from(["Email", "Phone", "Title"]),
                                            unique=True).map(tuple)))


@given(settings_strategy)
def test_settings_round_trip_through_json(settings: SalesforceSettings) -> None:
    assert SalesforceSettings.from_json(settings.to_json()) == settings


def test_older_rows_keep_defaults() -> None:
    assert SalesforceSettings.from_json({"first_only": True}) == SalesforceSettings(
        first_only=True)


@pytest.mark.parametrize("email,reason_part", [
    ("noreply@globex.example", "role address"),
    ("No-Reply@Globex.example", "role address"),
    ("mailer-daemon@x.example", "role address"),
    ("notifications+abc@x.example", "role address"),
    ("boss@partner.example", "excluded addresses"),
    ("a@sub.internal.example", "excluded domain"),
    ("a@internal.example", "excluded domain"),
    ("not-an-address", "not an email address"),
])
def test_exclusions(email: str, reason_part: str) -> None:
    reason = exclusion_reason(email, ["Boss@Partner.example"], ["@internal.example"])
    assert reason is not None and reason_part in reason


@pytest.mark.parametrize("email", ["jane@globex.example", "reply@globex.example",
                                   "a@notinternal.example"])
def test_people_are_not_excluded(email: str) -> None:
    assert exclusion_reason(email, ["boss@partner.example"], ["internal.example"]) is None


def test_bulk_rows_are_typed_like_rest_json() -> None:
    from tether.sync.fields import typed_row
    types = {"Id": "id", "IsDeleted": "boolean", "NumberOfEmployees": "int",
             "AnnualRevenue": "currency", "Name": "string", "Phone": "phone"}
    row = {"Id": "001", "IsDeleted": "false", "NumberOfEmployees": "12",
           "AnnualRevenue": "1500.5", "Name": "", "Phone": "555", "Unknown__c": "x"}
    assert typed_row(types, row) == {"Id": "001", "IsDeleted": False, "NumberOfEmployees": 12,
                                     "AnnualRevenue": 1500.5, "Name": None, "Phone": "555",
                                     "Unknown__c": "x"}

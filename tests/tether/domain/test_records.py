"""Field values checked before any call, the fields a role shows, and what a create lacks."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.domain import records as rec


def field(name: str, kind: str = "string", **kw: Any) -> rec.Field:
    return rec.Field(name=name, label=kw.pop("label", name), type=kind,
                     createable=kw.pop("createable", True), updateable=kw.pop("updateable", True),
                     **kw)


FIELDS = {f.name: f for f in [
    field("LastName", nillable=False, length=80, label="Last Name"),
    field("Company", nillable=False, length=255),
    field("Status", "picklist", nillable=False, defaulted=True, picklist=("Open", "Closed"),
          default="Open", label="Lead Status"),
    field("Email", "email", length=80),
    field("NumberOfEmployees", "int"),
    field("AnnualRevenue", "currency"),
    field("CloseDate", "date"),
    field("Start", "datetime"),
    field("HasOptedOutOfEmail", "boolean", nillable=False),
    field("Interests", "multipicklist", picklist=("A", "B")),
    field("OwnerId", "reference", nillable=False, reference_to=("User",)),
    field("IsConverted", "boolean", createable=False, updateable=False),
]}


@pytest.mark.parametrize(("name", "raw", "expected"), [
    ("NumberOfEmployees", "1,200", 1200), ("NumberOfEmployees", 12, 12),
    ("AnnualRevenue", "12.5", 12.5), ("CloseDate", "2026-12-31", "2026-12-31"),
    ("Start", "2026-12-01T10:00:00+01:00", "2026-12-01T09:00:00.000Z"),
    ("HasOptedOutOfEmail", "on", True), ("HasOptedOutOfEmail", "", False),
    ("HasOptedOutOfEmail", False, False), ("Interests", "A; B", "A;B"),
    ("Email", " jane@globex.example ", "jane@globex.example"), ("Email", "", None),
    ("OwnerId", "0055g0000000005AAA", "0055g0000000005AAA"),
])
def test_values_are_made_what_salesforce_takes(name: str, raw: Any, expected: Any) -> None:
    assert rec.convert(FIELDS[name], raw) == expected


@pytest.mark.parametrize(("name", "raw", "words"), [
    ("NumberOfEmployees", "1.5", "not a whole number"), ("AnnualRevenue", "lots", "not a number"),
    ("AnnualRevenue", True, "not a number"), ("AnnualRevenue", "NaN", "not a number"),
    ("CloseDate", "31/12/2026", "YYYY-MM-DD"), ("Start", "2026-12-01T10:00", "no offset"),
    ("Status", "Dreaming", "not one of its values (Open, Closed)"),
    ("Interests", "A;C", "'C' is not one of"), ("Email", "jane", "not an email address"),
    ("LastName", "x" * 81, "at most 80"), ("LastName", " ", "a value is required"),
    ("OwnerId", "me", "not a Salesforce record id"), ("HasOptedOutOfEmail", "maybe", "true or"),
    ("Company", 12, "expected text"),
])
def test_a_wrong_value_says_what_it_should_be(name: str, raw: Any, words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        rec.convert(FIELDS[name], raw)


def test_check_values_names_every_problem_and_keeps_the_good_ones() -> None:
    clean, problems = rec.check_values(FIELDS, {
        "LastName": "Doe", "Nope": 1, "IsConverted": True, "CloseDate": "soon"},
        creating=True, sobject="Lead")
    assert clean == {"LastName": "Doe"}
    assert [(p.field, p.message) for p in problems] == [
        ("Nope", "Lead has no field Nope"),
        ("IsConverted", "IsConverted cannot be set on a new Lead"),
        ("CloseDate", "CloseDate: 'soon' is not a date (YYYY-MM-DD)")]


def test_a_create_lacks_the_layouts_and_salesforces_required_fields_not_defaulted_ones() -> None:
    missing = rec.missing_required(FIELDS, ["Company", "LastName", "Status"], {"Email": "a@b.c"})
    # Layout order first, then those Salesforce requires (OwnerId here: neither nillable nor
    # defaulted); Status is filled by Salesforce, and a boolean always has a value.
    assert [f.name for f in missing] == ["Company", "LastName", "OwnerId"]
    assert rec.missing_required(FIELDS, ["Company"], {
        "Company": "Acme", "LastName": "Doe", "OwnerId": "0055g0000000005AAA"}) == []


def test_a_role_shows_its_fields_then_the_required_ones_the_org_has() -> None:
    available = {"Name", "Title", "Email", "LastName", "Company", "Status", "Phone"}
    assert rec.shown_fields("Lead", ["Title", "Gone__c"], ["LastName", "Company"], available) \
        == ["Title", "LastName", "Company"]
    assert rec.shown_fields("Lead", [], ["LastName"], available) == [
        "Name", "Title", "Company", "Email", "Phone", "Status", "LastName"]


@given(st.text(max_size=300))
def test_text_within_its_length_goes_through_and_longer_is_refused(value: str) -> None:
    f = field("Title", length=128)
    try:
        out = rec.convert(f, value)
    except ValueError:
        assert len(value.strip()) > 128
    else:
        assert out is None if not value.strip() else out == value.strip()

"""The SOQL engine against an in-memory org: results, shapes, errors and read batching."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sfemu.soql import CompiledQuery, SoqlError, compile_query
from sfemu.soql.memory import MemoryContext
from sfemu.soql.parser import parse

NOW = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)  # a Wednesday


@pytest.fixture
def org() -> dict[str, Any]:
    ctx = MemoryContext(now=NOW)
    boss = ctx.add("User", LastName="Boss", Email="boss@acme.test", Username="boss@acme.test",
                   Alias="boss")
    rep = ctx.add("User", LastName="Rep", Email="rep@acme.test", Username="rep@acme.test",
                  Alias="rep")
    acme = ctx.add("Account", Name="Acme", OwnerId=boss, Industry="Banking",
                   NumberOfEmployees=500)
    beta = ctx.add("Account", Name="beta corp", OwnerId=rep, NumberOfEmployees=20)
    gamma = ctx.add("Account", Name="Gamma", OwnerId=rep, NumberOfEmployees=None)
    smith = ctx.add("Contact", LastName="Smith", FirstName="Ann", Email="ann@acme.test",
                    AccountId=acme, OwnerId=boss, CreatedDate="2026-11-25T09:00:00.000+0000")
    jones = ctx.add("Contact", LastName="jones", Email=None, AccountId=beta, OwnerId=rep,
                    CreatedDate="2026-11-20T23:59:59.000+0000")
    adams = ctx.add("Contact", LastName="Adams", Email="adams@beta.test", AccountId=None,
                    OwnerId=rep, CreatedDate="2026-10-02T00:00:00.000+0000")
    lead = ctx.add("Lead", LastName="Lee", Company="LeeCo", Email="lee@leeco.test",
                   OwnerId=rep)
    opp1 = ctx.add("Opportunity", Name="Big deal", AccountId=acme, StageName="Prospecting",
                   Amount=1000.0, CloseDate="2026-11-25")
    opp2 = ctx.add("Opportunity", Name="Small deal", AccountId=acme, StageName="Closed Won",
                   Amount=50.5, CloseDate="2026-12-10")
    opp3 = ctx.add("Opportunity", Name="No amount", AccountId=beta, StageName="Closed Won",
                   Amount=None, CloseDate="2025-01-01")
    call = ctx.add("Task", Subject="Call", WhoId=smith, WhatId=acme, OwnerId=boss,
                   ActivityDate="2026-11-24")
    mail = ctx.add("Task", Subject="Email", WhoId=lead, WhatId=None, OwnerId=rep)
    gone = ctx.add("Contact", LastName="Gone", AccountId=acme, OwnerId=boss)
    ctx.records["Contact"][gone]["IsDeleted"] = True
    return {"ctx": ctx, "boss": boss, "rep": rep, "acme": acme, "beta": beta, "gamma": gamma,
            "smith": smith, "jones": jones, "adams": adams, "lead": lead, "opp1": opp1,
            "opp2": opp2, "opp3": opp3, "call": call, "mail": mail, "gone": gone}


def run(org: dict[str, Any], soql: str, *, include_deleted: bool = False
        ) -> list[dict[str, Any]]:
    cq = compile_query(soql, org["ctx"])
    return [r for _, r in cq.run(org["ctx"], include_deleted=include_deleted)]


def ids(org: dict[str, Any], soql: str, **kw: Any) -> list[str]:
    cq = compile_query(soql, org["ctx"])
    return [i for i, _ in cq.run(org["ctx"], include_deleted=kw.get("include_deleted", False))]


def names(org: dict[str, Any], *keys: str) -> list[str]:
    return [org[k] for k in keys]


def error(org: dict[str, Any], soql: str) -> SoqlError:
    with pytest.raises(SoqlError) as info:
        compile_query(soql, org["ctx"])
    return info.value


# -- parsing ---------------------------------------------------------------------------------

def test_keywords_are_case_insensitive_and_names_canonical(org: dict[str, Any]) -> None:
    cq = compile_query("sElEcT id, lastname, account.NAME FrOm contact wHeRe lastname = 'SMITH'",
                       org["ctx"])
    assert cq.sobject == "Contact"
    assert cq.columns == ["Id", "LastName", "Account.Name"]
    [(record_id, record)] = list(cq.run(org["ctx"], include_deleted=False))
    assert record_id == org["smith"]
    assert list(record) == ["attributes", "Id", "LastName", "Account"]
    assert record["Account"]["Name"] == "Acme"


def test_string_escapes_are_decoded() -> None:
    where = parse(r"SELECT Id FROM Contact WHERE LastName = 'O\'Brien\n\t\\\u00e9\"'").where
    assert where is not None and where.value.value == "O'Brien\n\t\\é\""  # type: ignore[union-attr]


@pytest.mark.parametrize("text", ["2026-11-28T10:00:00Z", "2026-11-28T10:00:00.000+0000",
                                  "2026-11-28T11:00:00+01:00", "2026-11-28T05:00:00-0500"])
def test_datetime_literal_forms_denote_the_same_instant(text: str) -> None:
    where = parse(f"SELECT Id FROM Contact WHERE CreatedDate = {text}").where
    assert where.value.value == datetime(2026, 11, 28, 10, tzinfo=UTC)  # type: ignore[union-attr]


# -- shapes ----------------------------------------------------------------------------------

def test_parent_paths_nest_and_empty_lookup_is_null(org: dict[str, Any]) -> None:
    rows = run(org, "SELECT LastName, Account.Name, Account.Owner.Email, Owner.LastName "
                    "FROM Contact ORDER BY LastName")
    assert [r["LastName"] for r in rows] == ["Adams", "jones", "Smith"]
    adams, jones, smith = rows
    assert adams["Account"] is None
    base = "/services/data/v59.0/sobjects"
    assert smith["Account"] == {
        "attributes": {"type": "Account", "url": f"{base}/Account/{org['acme']}"},
        "Name": "Acme",
        "Owner": {"attributes": {"type": "User",
                                 "url": f"{base}/User/{org['boss']}"},
                  "Email": "boss@acme.test"}}
    assert jones["Owner"]["LastName"] == "Rep"
    assert list(smith) == ["attributes", "LastName", "Account", "Owner"]


def test_polymorphic_who_resolves_by_prefix_and_missing_fields_are_null(org: dict[str, Any]
                                                                         ) -> None:
    rows = run(org, "SELECT Subject, Who.LastName, Who.Company, What.Name FROM Task "
                    "ORDER BY Subject")
    call, mail = rows
    assert call["Who"]["attributes"]["type"] == "Contact"
    assert call["Who"]["LastName"] == "Smith" and call["Who"]["Company"] is None
    assert mail["Who"]["attributes"]["type"] == "Lead" and mail["Who"]["Company"] == "LeeCo"
    assert call["What"]["attributes"]["type"] == "Account" and mail["What"] is None


def test_child_subquery_filters_sorts_limits_per_parent(org: dict[str, Any]) -> None:
    rows = run(org, "SELECT Name, (SELECT Name, Amount FROM Opportunities WHERE Amount != null "
                    "ORDER BY Amount DESC LIMIT 1), (SELECT LastName FROM Contacts) "
                    "FROM Account ORDER BY Name")
    acme, beta, gamma = rows
    assert acme["Opportunities"]["totalSize"] == 1
    assert acme["Opportunities"]["done"] is True
    assert [o["Name"] for o in acme["Opportunities"]["records"]] == ["Big deal"]
    assert beta["Opportunities"] is None  # its only opportunity has no amount
    assert [c["LastName"] for c in acme["Contacts"]["records"]] == ["Smith"]  # Gone is deleted
    assert gamma["Contacts"] is None
    cq = compile_query("SELECT Name, (SELECT LastName FROM Contacts) FROM Account", org["ctx"])
    assert cq.has_subquery and cq.columns == ["Name"]


def test_query_all_includes_deleted_rows_and_children(org: dict[str, Any]) -> None:
    assert org["gone"] not in ids(org, "SELECT Id FROM Contact")
    assert org["gone"] in ids(org, "SELECT Id FROM Contact", include_deleted=True)
    [acme] = run(org, "SELECT (SELECT LastName FROM Contacts ORDER BY LastName) FROM Account "
                      f"WHERE Id = '{org['acme']}'", include_deleted=True)
    assert [c["LastName"] for c in acme["Contacts"]["records"]] == ["Gone", "Smith"]


def test_count_only(org: dict[str, Any]) -> None:
    cq = compile_query("SELECT COUNT() FROM Contact WHERE AccountId != null", org["ctx"])
    assert cq.is_count_only and not cq.is_aggregate
    assert cq.count(org["ctx"], include_deleted=False) == 2
    assert cq.count(org["ctx"], include_deleted=True) == 3
    assert list(cq.run(org["ctx"], include_deleted=False)) == []
    limited = compile_query("SELECT COUNT() FROM Contact LIMIT 2", org["ctx"])
    assert limited.count(org["ctx"], include_deleted=False) == 2


def test_aggregates_with_group_by_and_aliases(org: dict[str, Any]) -> None:
    rows = run(org, "SELECT StageName, COUNT(Id), SUM(Amount) total, MAX(CloseDate), "
                    "COUNT_DISTINCT(AccountId) FROM Opportunity GROUP BY StageName "
                    "ORDER BY COUNT(Id) DESC")
    assert rows == [
        {"attributes": {"type": "AggregateResult"}, "StageName": "Closed Won", "expr0": 2,
         "total": 50.5, "expr1": "2026-12-10", "expr2": 2},
        {"attributes": {"type": "AggregateResult"}, "StageName": "Prospecting", "expr0": 1,
         "total": 1000.0, "expr1": "2026-11-25", "expr2": 1},
    ]
    cq = compile_query("SELECT COUNT(Email) n, MIN(LastName) FROM Contact", org["ctx"])
    assert cq.is_aggregate and cq.columns == ["n", "expr0"]
    [row] = [r for _, r in cq.run(org["ctx"], include_deleted=False)]
    assert row["n"] == 2 and row["expr0"] == "Adams"
    assert cq.flatten(row) == ["2", "Adams"]


def test_flatten_walks_parents(org: dict[str, Any]) -> None:
    cq = compile_query("SELECT Id, Account.Owner.Email, Account.Name, DoNotCall FROM Contact "
                       "ORDER BY LastName", org["ctx"])
    flat = [cq.flatten(r) for _, r in cq.run(org["ctx"], include_deleted=False)]
    assert flat[0] == [org["adams"], None, None, None]
    assert flat[2] == [org["smith"], "boss@acme.test", "Acme", None]
    org["ctx"].records["Contact"][org["smith"]]["DoNotCall"] = True
    assert cq.flatten(list(cq.run(org["ctx"], include_deleted=False))[2][1])[3] == "true"


# -- WHERE semantics -------------------------------------------------------------------------

@pytest.mark.parametrize(("where", "expected"), [
    ("LastName = 'SMITH'", ["smith"]),
    ("LastName != 'smith'", ["jones", "adams"]),
    ("LastName <> 'smith'", ["jones", "adams"]),
    ("Email = null", ["jones"]),
    ("Email != null", ["smith", "adams"]),
    ("Email != 'ann@acme.test'", ["jones", "adams"]),  # null is "not equal"
    ("LastName LIKE 's%'", ["smith"]),
    ("LastName LIKE '_ONES'", ["jones"]),
    ("LastName LIKE '%a%'", ["adams"]),
    ("LastName IN ('adams', 'JONES')", ["jones", "adams"]),
    ("LastName NOT IN ('adams')", ["smith", "jones"]),
    ("Email NOT IN ('ann@acme.test')", ["jones", "adams"]),
    ("LastName > 'j'", ["smith", "jones"]),
    ("NOT LastName = 'Smith'", ["jones", "adams"]),
    ("(LastName = 'Smith' OR LastName = 'Adams') AND Email LIKE '%beta%'", ["adams"]),
    ("LastName = 'Smith' OR (Email = null AND NOT (LastName = 'x'))", ["smith", "jones"]),
    ("Account.Name = 'acme'", ["smith"]),
    ("Account.Owner.LastName = 'Rep'", ["jones"]),
    ("Account.NumberOfEmployees >= 20", ["smith", "jones"]),
    ("Account.NumberOfEmployees < 100", ["jones"]),
    ("CreatedDate = TODAY", ["smith"]),
    ("CreatedDate = LAST_N_DAYS:5", ["smith", "jones"]),
    ("CreatedDate < THIS_MONTH", ["adams"]),
    ("CreatedDate = LAST_MONTH", ["adams"]),
    ("CreatedDate > 2026-11-20T23:59:59Z", ["smith"]),
    ("CreatedDate >= 2026-11-21T00:59:59+01:00", ["smith", "jones"]),
    ("CreatedDate = THIS_WEEK", ["smith"]),  # week of Sunday 22nd
    ("CreatedDate = LAST_WEEK", ["jones"]),
    ("CreatedDate > LAST_WEEK", ["smith"]),
    ("CreatedDate = THIS_YEAR AND CreatedDate < LAST_N_DAYS:30", ["adams"]),
])
def test_where_on_contacts(org: dict[str, Any], where: str, expected: list[str]) -> None:
    got = ids(org, f"SELECT Id FROM Contact WHERE {where}")
    assert sorted(got) == sorted(names(org, *expected))


@pytest.mark.parametrize(("where", "expected"), [
    ("Amount > 100", ["opp1"]),
    ("Amount <= 50.5", ["opp2"]),
    ("Amount = null", ["opp3"]),
    ("Amount != 1000", ["opp2", "opp3"]),
    ("Amount IN (1000, 50.5)", ["opp1", "opp2"]),
    ("CloseDate = TODAY", ["opp1"]),
    ("CloseDate > TODAY", ["opp2"]),
    ("CloseDate >= 2026-11-25", ["opp1", "opp2"]),
    ("CloseDate < 2026-01-01", ["opp3"]),
    ("CloseDate = NEXT_MONTH", ["opp2"]),
    ("CloseDate = NEXT_N_DAYS:15", ["opp2"]),
    ("CloseDate = LAST_YEAR", ["opp3"]),
    ("CloseDate = THIS_QUARTER", ["opp1", "opp2"]),
    ("CloseDate = N_DAYS_AGO:0", ["opp1"]),
    ("CloseDate IN (TODAY, 2025-01-01)", ["opp1", "opp3"]),
    ("StageName = 'closed won' AND Account.Name LIKE 'Acm_'", ["opp2"]),
    ("IsDeleted = false AND Name LIKE '%deal'", ["opp1", "opp2"]),
])
def test_where_on_opportunities(org: dict[str, Any], where: str, expected: list[str]) -> None:
    got = ids(org, f"SELECT Id FROM Opportunity WHERE {where}")
    assert sorted(got) == sorted(names(org, *expected))


def test_ids_compare_after_normalising_15_to_18(org: dict[str, Any]) -> None:
    short = org["acme"][:15]
    assert ids(org, f"SELECT Id FROM Account WHERE Id = '{short}'") == [org["acme"]]
    assert ids(org, f"SELECT Id FROM Contact WHERE AccountId IN ('{short}')") == [org["smith"]]


def test_like_escapes_match_literal_wildcards(org: dict[str, Any]) -> None:
    ctx = org["ctx"]
    odd = ctx.add("Account", Name="100%_pure")
    ctx.add("Account", Name="100X pure")
    assert ids(org, r"SELECT Id FROM Account WHERE Name LIKE '100\%\_%'") == [odd]
    assert len(ids(org, "SELECT Id FROM Account WHERE Name LIKE '100%'")) == 2


def test_includes_and_excludes_on_multipicklists() -> None:
    from sfemu.schema import OrgSchema, standard_objects
    from sfemu.schema.model import FieldDef

    objects = standard_objects()
    objects["Contact"].fields["Skills__c"] = FieldDef("Skills__c", "multipicklist", custom=True)
    schema = OrgSchema(objects)
    schema.link_children()
    ctx = MemoryContext(schema)
    both = ctx.add("Contact", LastName="A", Skills__c="Apex;Java")
    apex = ctx.add("Contact", LastName="B", Skills__c="apex")
    none = ctx.add("Contact", LastName="C", Skills__c=None)

    def query(where: str) -> list[str]:
        cq = compile_query(f"SELECT Id FROM Contact WHERE {where}", ctx)
        return [i for i, _ in cq.run(ctx, include_deleted=False)]
    assert query("Skills__c INCLUDES ('Java')") == [both]
    assert query("Skills__c INCLUDES ('java;apex', 'Python')") == [both]
    assert query("Skills__c INCLUDES ('APEX')") == [both, apex]
    assert query("Skills__c EXCLUDES ('Java')") == [apex, none]
    assert query("Skills__c = 'Java;Apex'") == [both]


# -- ORDER BY, LIMIT, OFFSET, paging ---------------------------------------------------------

def test_order_by_directions_nulls_and_parent_paths(org: dict[str, Any]) -> None:
    order = "SELECT Id FROM Opportunity ORDER BY "
    assert ids(org, order + "Amount") == names(org, "opp3", "opp2", "opp1")  # nulls first
    assert ids(org, order + "Amount DESC") == names(org, "opp1", "opp2", "opp3")  # nulls last
    assert ids(org, order + "Amount ASC NULLS LAST") == names(org, "opp2", "opp1", "opp3")
    assert ids(org, order + "Amount DESC NULLS FIRST") == names(org, "opp3", "opp1", "opp2")
    assert ids(org, order + "Account.Name DESC, Amount") == names(org, "opp3", "opp2", "opp1")
    contacts = "SELECT Id FROM Contact ORDER BY Account.Name NULLS LAST, LastName"
    assert ids(org, contacts) == names(org, "smith", "jones", "adams")


def test_limit_offset_and_after_id(org: dict[str, Any]) -> None:
    all_ids = ids(org, "SELECT Id FROM Contact")
    assert all_ids == sorted(all_ids)
    assert ids(org, "SELECT Id FROM Contact LIMIT 2") == all_ids[:2]
    assert ids(org, "SELECT Id FROM Contact LIMIT 2 OFFSET 1") == all_ids[1:3]
    assert ids(org, "SELECT Id FROM Contact ORDER BY LastName DESC LIMIT 1 OFFSET 1") == [
        org["jones"]]
    cq = compile_query("SELECT Id FROM Contact", org["ctx"])
    resumed = [i for i, _ in cq.run(org["ctx"], include_deleted=False, after_id=all_ids[0])]
    assert resumed == all_ids[1:]
    assert cq.count(org["ctx"], include_deleted=False) == 3
    assert compile_query("SELECT Id FROM Contact LIMIT 5 OFFSET 2", org["ctx"]).count(
        org["ctx"], include_deleted=False) == 1


def test_with_security_enforced_is_accepted(org: dict[str, Any]) -> None:
    assert ids(org, "SELECT Id FROM Account WITH SECURITY_ENFORCED ORDER BY Name LIMIT 1") == [
        org["acme"]]


# -- errors ----------------------------------------------------------------------------------

def test_unknown_field_message(org: dict[str, Any]) -> None:
    err = error(org, "SELECT Foo FROM Contact")
    assert err.error_code == "INVALID_FIELD"
    assert err.message == (
        "\nSELECT Foo FROM Contact\n       ^\nERROR at Row:1:Column:8\nNo such column 'Foo' on "
        "entity 'Contact'. If you are attempting to use a custom field, be sure to append the "
        "'__c' after the custom field name. Please reference your WSDL or the describe call for "
        "the appropriate names.")


def test_unknown_object_message(org: dict[str, Any]) -> None:
    err = error(org, "SELECT Id FROM Foo")
    assert err.error_code == "INVALID_TYPE"
    assert err.message.startswith(
        "\nSELECT Id FROM Foo\n               ^\nERROR at Row:1:Column:16\n"
        "sObject type 'Foo' is not supported.")


def test_syntax_error_message(org: dict[str, Any]) -> None:
    err = error(org, "SELECT Id FROM Contact WHERE LastName = 'a' AND Email = 'b' OR Id = null")
    assert err.error_code == "MALFORMED_QUERY"
    assert err.message.endswith("ERROR at Row:1:Column:61\nunexpected token: 'OR'")
    assert error(org, "SELECT Id FROM").message.endswith("unexpected token: '<EOF>'")
    assert error(org, "").message == "SOQL statements cannot be empty or null"


@pytest.mark.parametrize(("soql", "code", "reason"), [
    ("SELECT Foo.Name FROM Contact", "INVALID_FIELD", "Didn't understand relationship 'Foo'"),
    ("SELECT AccountId.Name FROM Contact", "INVALID_FIELD",
     "Didn't understand relationship 'AccountId'"),
    ("SELECT Account.Foo FROM Contact", "INVALID_FIELD",
     "No such column 'Foo' on entity 'Account'"),
    ("SELECT Who.Foo FROM Task", "INVALID_FIELD", "No such column 'Foo' on entity 'Name'"),
    ("SELECT (SELECT Id FROM Foos) FROM Account", "INVALID_TYPE",
     "Didn't understand relationship 'Foos' in FROM part of query call"),
    ("SELECT Id FROM Contact WHERE LastName = 5", "INVALID_FIELD",
     "value of filter criterion for field 'LastName' must be of type string and should be "
     "enclosed in quotes"),
    ("SELECT Id FROM Account WHERE NumberOfEmployees = '5'", "INVALID_FIELD",
     "must be of type integer and should not be enclosed in quotes"),
    ("SELECT Id FROM Opportunity WHERE CloseDate > '2026-01-01'", "INVALID_FIELD",
     "must be of type date and should not be enclosed in quotes"),
    ("SELECT Id FROM Opportunity WHERE CloseDate > 2026-01-01T00:00:00Z", "INVALID_FIELD",
     "must be of type date"),
    ("SELECT Id FROM Contact WHERE CreatedDate > 2026-01-01", "INVALID_FIELD",
     "must be of type dateTime"),
    ("SELECT Id FROM Contact WHERE DoNotCall = 'true'", "INVALID_FIELD",
     "must be of type boolean"),
    ("SELECT Id FROM Account WHERE NumberOfEmployees LIKE '5%'", "INVALID_QUERY_FILTER_OPERATOR",
     "invalid operator on int field"),
    ("SELECT Id FROM Account WHERE Id LIKE '001%'", "INVALID_QUERY_FILTER_OPERATOR",
     "invalid operator on id field"),
    ("SELECT Id FROM Account WHERE Id = 'nope'", "INVALID_QUERY_FILTER_OPERATOR",
     "invalid ID field: nope"),
    ("SELECT Id FROM Account WHERE Name INCLUDES ('a')", "INVALID_QUERY_FILTER_OPERATOR",
     "includes or excludes operator only valid on multipicklist field"),
    ("SELECT Id FROM Account WHERE Description = 'x'", "INVALID_FIELD",
     "field 'Description' can not be filtered in a query call"),
    ("SELECT Id FROM Account ORDER BY Description", "INVALID_FIELD",
     "field 'Description' can not be sorted in a query call"),
    ("SELECT Id FROM Opportunity WHERE CloseDate = 2026-02-30", "MALFORMED_QUERY",
     "Invalid date: 2026-02-30"),
    ("SELECT Id FROM Contact WHERE LastName = 'a\\q'", "MALFORMED_QUERY",
     "Illegal character sequence '\\q'"),
    ("SELECT Id FROM Contact WHERE LastName = \"a\"", "MALFORMED_QUERY",
     "no viable alternative at character '\"'"),
    ("SELECT Id, LastName FROM Contact GROUP BY LastName", "MALFORMED_QUERY",
     "Field must be grouped or aggregated: Id"),
    ("SELECT LastName, COUNT(Id) FROM Contact", "MALFORMED_QUERY",
     "Field must be grouped or aggregated: LastName"),
    ("SELECT SUM(LastName) FROM Contact", "INVALID_FIELD",
     "field LastName does not support aggregate operator SUM"),
    ("SELECT Amount, COUNT(Id) FROM Opportunity GROUP BY Amount", "INVALID_FIELD",
     "field 'Amount' can not be grouped in a query call"),
    ("SELECT COUNT(), Id FROM Contact", "MALFORMED_QUERY",
     "COUNT() must be the only element in the SELECT list"),
    ("SELECT Id, id FROM Contact", "MALFORMED_QUERY", "duplicate field selected: Id"),
    ("SELECT Id FROM Contact OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE",
     "Maximum SOQL offset allowed is 2000"),
    ("SELECT Id FROM Contact FOR UPDATE", "MALFORMED_QUERY", "unexpected token: 'FOR'"),
    ("SELECT Id, (SELECT Id, (SELECT Id FROM Tasks) FROM Contacts) FROM Account",
     "MALFORMED_QUERY", "unexpected token: '('"),
])
def test_errors(org: dict[str, Any], soql: str, code: str, reason: str) -> None:
    err = error(org, soql)
    assert err.error_code == code
    assert reason in err.message
    if err.message.startswith("\n"):
        assert "\nERROR at Row:1:Column:" in err.message


def test_error_caret_points_at_field_in_where(org: dict[str, Any]) -> None:
    err = error(org, "SELECT Id FROM Account WHERE Id = 'abc'")
    assert err.message == ("\nSELECT Id FROM Account WHERE Id = 'abc'\n" + " " * 29 + "^\n"
                           "ERROR at Row:1:Column:30\ninvalid ID field: abc")


def test_multiline_queries_report_the_row(org: dict[str, Any]) -> None:
    err = error(org, "SELECT Id\nFROM Contact\nWHERE Bogus = 1")
    assert err.message.startswith("\nWHERE Bogus = 1\n      ^\nERROR at Row:3:Column:7\n")


def test_unreadable_objects_and_fields_do_not_exist(org: dict[str, Any]) -> None:
    ctx = org["ctx"]
    ctx.hidden_objects.add("Account")
    assert error(org, "SELECT Id FROM Account").error_code == "INVALID_TYPE"
    assert "Didn't understand relationship 'Account'" in error(
        org, "SELECT Account.Name FROM Contact").message
    assert "Didn't understand relationship 'Account'" not in error(
        org, "SELECT Foo FROM Contact").message
    assert run(org, "SELECT What.Name FROM Task ORDER BY Subject")[0]["What"] is None
    ctx.hidden_objects.clear()
    ctx.hidden_objects.add("Lead")  # Who still reads Contacts; a Lead behind it reads as null
    assert [r["Who"] and r["Who"]["Name"] for r in run(
        org, "SELECT Who.Name FROM Task ORDER BY Subject")] == [None, None]
    assert run(org, "SELECT Who.LastName FROM Task ORDER BY Subject")[0]["Who"] == {
        "attributes": {"type": "Contact",
                       "url": f"/services/data/v59.0/sobjects/Contact/{org['smith']}"},
        "LastName": "Smith"}
    assert run(org, "SELECT Who.LastName FROM Task ORDER BY Subject")[1]["Who"] is None
    ctx.hidden_fields.add(("Contact", "Email"))
    assert error(org, "SELECT Id FROM Contact WHERE Email = null").error_code == "INVALID_FIELD"


# -- reads are batched -----------------------------------------------------------------------

def test_indexed_equalities_are_pushed_to_the_scan(org: dict[str, Any]) -> None:
    ctx: MemoryContext = org["ctx"]
    ids(org, f"SELECT Id FROM Contact WHERE Email = 'ANN@acme.test' AND AccountId IN "
             f"('{org['acme'][:15]}') AND LastName != null")
    assert ctx.lookups_seen[-1] == ("Contact", {"Email": ["ANN@acme.test"],
                                                "AccountId": [org["acme"]]})
    ctx.lookups_seen.clear()
    ids(org, "SELECT Id FROM Contact WHERE Email = 'a' OR LastName = 'b'")
    assert ctx.lookups_seen == []  # not a top-level conjunct


def test_parents_and_children_are_fetched_per_page_not_per_row() -> None:
    ctx = MemoryContext()
    owner = ctx.add("User", LastName="O", Email="o@x.test", Username="o@x.test", Alias="o")
    accounts = [ctx.add("Account", Name=f"A{i}", OwnerId=owner) for i in range(300)]
    for i in range(900):
        ctx.add("Contact", LastName=f"C{i}", AccountId=accounts[i % 300], OwnerId=owner)
    cq = compile_query("SELECT Name, Owner.Email, (SELECT LastName, Account.Name FROM Contacts) "
                       "FROM Account", ctx)
    ctx.calls.clear()
    rows = [r for _, r in cq.run(ctx, include_deleted=False)]
    assert len(rows) == 300 and all(r["Contacts"]["totalSize"] == 3 for r in rows)
    assert ctx.calls["scan"] == 2  # accounts, then the contacts of that page
    assert ctx.calls["get_many"] <= 3


def test_parent_lookups_are_batched_per_page() -> None:
    """Reads grow with pages, not rows: one get_many per object per page of 1,000 rows.
    (Timings live in bench/, not here.)"""
    n_rows = 20_000
    ctx = MemoryContext()
    acct = ctx.add("Account", Name="Acme")
    table = ctx.records["Contact"]
    from sfemu.org.ids import make_id

    for i in range(n_rows):
        record_id = make_id("003", "00", 10 + i)
        table[record_id] = {"Id": record_id, "IsDeleted": False, "LastName": f"N{i % 1000}",
                            "Email": f"p{i}@x.test", "AccountId": acct if i % 2 else None}
    cq = compile_query("SELECT Id, LastName, Account.Name FROM Contact WHERE LastName LIKE 'N1%' "
                       "AND Account.Name = 'Acme'", ctx)
    n = sum(1 for _ in cq.run(ctx, include_deleted=False))
    assert n == sum(1 for i in range(n_rows) if i % 2 and str(i % 1000).startswith("1"))
    assert ctx.calls["get_many"] <= 2 * (n_rows // 1000)


def test_compiled_query_is_reusable(org: dict[str, Any]) -> None:
    cq: CompiledQuery = compile_query("SELECT Id FROM Contact WHERE CreatedDate = TODAY",
                                      org["ctx"])
    assert [i for i, _ in cq.run(org["ctx"], include_deleted=False)] == [org["smith"]]
    org["ctx"].current = datetime(2026, 11, 20, 8, tzinfo=UTC)  # relative dates follow "now"
    assert [i for i, _ in cq.run(org["ctx"], include_deleted=False)] == [org["jones"]]


# -- semi-joins ------------------------------------------------------------------------------

def test_semi_join_runs_its_subquery_once_and_narrows_the_scan(org: dict[str, Any]) -> None:
    ctx: MemoryContext = org["ctx"]
    soql = ("SELECT LastName FROM Contact WHERE AccountId IN (SELECT AccountId FROM Opportunity "
            "WHERE StageName = 'Closed Won') AND LastName != null")
    ctx.calls.clear()
    ctx.lookups_seen.clear()
    assert sorted(r["LastName"] for r in run(org, soql)) == ["Smith", "jones"]
    assert ctx.calls["scan"] == 2  # the opportunities, then the contacts of those accounts
    assert ctx.lookups_seen == [("Contact", {"AccountId": sorted([org["acme"], org["beta"]])})]
    # An anti-join can't narrow the scan: it reads every contact.
    ctx.lookups_seen.clear()
    assert [r["LastName"] for r in run(org, soql.replace(" IN ", " NOT IN ", 1))] == ["Adams"]
    assert ctx.lookups_seen == []


def test_semi_join_sees_what_the_main_query_sees(org: dict[str, Any]) -> None:
    ctx: MemoryContext = org["ctx"]
    ghost = ctx.add("Contact", LastName="Ghost", AccountId=org["gamma"])
    ctx.records["Contact"][ghost]["IsDeleted"] = True
    soql = "SELECT Name FROM Account WHERE Id IN (SELECT AccountId FROM Contact)"
    assert sorted(r["Name"] for r in run(org, soql)) == ["Acme", "beta corp"]
    # queryAll: the subquery reads deleted contacts too, as the main query reads deleted rows.
    assert sorted(r["Name"] for r in run(org, soql, include_deleted=True)) == [
        "Acme", "Gamma", "beta corp"]
    assert error(org, "SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Contact) "
                      "OR Name = 'x'").error_code == "MALFORMED_QUERY"

"""SOQL as Salesforce answers it, over real HTTP: column metadata (``columns=true``), COUNT(),
semi-joins and anti-joins, TYPEOF and FIELDS(); simple-salesforce for COUNT() and a semi-join.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce, SalesforceLogin
from simple_salesforce.exceptions import SalesforceMalformedRequest

from tests.conftest import Sfemu
from tests.sfemu.rest_helpers import Rest

ID_COLUMN = {"aggregate": False, "apexType": "Id", "booleanType": False, "columnName": "Id",
             "custom": False, "displayName": "Id", "foreignKeyName": None, "insertable": False,
             "joinColumns": [], "numberType": False, "textType": False, "updatable": False}


@pytest.fixture(scope="module")
def world(sfemu: Sfemu) -> Iterator[tuple[Rest, dict[str, str]]]:
    """One org, read-only for this module's tests: accounts, contacts, an opportunity with
    contact roles, tasks on several kinds of record, a custom field on Account."""
    org = sfemu.new_org()
    r = sfemu.admin("POST", f"/orgs/{org['name']}/objects/Account/fields",
                    json={"name": "Tier__c", "type": "string"})
    assert r.status_code == 201, r.text
    with Rest(sfemu, org["admin"]) as rest:
        ids: dict[str, str] = {"org": org["name"], "user": org["admin"]}
        ids["acme"] = rest.create("Account", Name="Acme", Phone="555-0100", Tier__c="Gold")
        ids["beta"] = rest.create("Account", Name="Beta", Industry="Banking")
        ids["ann"] = rest.create("Contact", LastName="Ann", AccountId=ids["acme"])
        ids["bob"] = rest.create("Contact", LastName="Bob", AccountId=ids["acme"])
        ids["cat"] = rest.create("Contact", LastName="Cat", AccountId=ids["beta"])
        ids["dan"] = rest.create("Contact", LastName="Dan")
        ids["lead"] = rest.create("Lead", LastName="Lee", Company="LeeCo")
        ids["deal"] = rest.create("Opportunity", Name="Deal", StageName="Prospecting",
                                  CloseDate="2026-12-31", AccountId=ids["acme"], Amount=1200)
        rest.create("OpportunityContactRole", OpportunityId=ids["deal"], ContactId=ids["ann"],
                    Role="Decision Maker")
        rest.create("OpportunityContactRole", OpportunityId=ids["deal"], ContactId=ids["cat"],
                    Role="Evaluator")
        ids["t_acme"] = rest.create("Task", Subject="Call Acme", WhatId=ids["acme"],
                                    WhoId=ids["ann"])
        ids["t_deal"] = rest.create("Task", Subject="Deal follow-up", WhatId=ids["deal"],
                                    WhoId=ids["bob"])
        ids["t_lead"] = rest.create("Task", Subject="Lead call", WhoId=ids["lead"])
        ids["t_none"] = rest.create("Task", Subject="Loose end")
        yield rest, ids


def names(body: dict[str, Any], key: str = "LastName") -> list[str]:
    return sorted(r[key] for r in body["records"])


def columns(rest: Rest, soql: str, endpoint: str = "query") -> dict[str, Any]:
    r = rest.call("GET", endpoint, params={"q": soql, "columns": "true"})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def refused(rest: Rest, soql: str, code: str = "MALFORMED_QUERY") -> str:
    r = rest.call("GET", "query", params={"q": soql})
    assert r.status_code == 400, r.text
    error = rest.error(r)
    assert error["errorCode"] == code, error
    message: str = error["message"]
    return message


def sf_cli_columns(metadata: list[dict[str, Any]]) -> list[Any]:
    """The table columns the Salesforce CLI derives from columnMetadata (plugin-data's
    retrieveColumns): plain names, "Owner.Name" for parents, [name, [...]] for subqueries,
    the displayName for functions."""
    out: list[Any] = []
    for column in metadata:
        name, joins = column["columnName"], column["joinColumns"]
        if joins and column["aggregate"]:
            out.append([name, sf_cli_columns(joins)])
        elif joins:
            out.extend(f"{name}.{sub}" for sub in sf_cli_columns(joins))
        elif column["aggregate"]:
            out.append(column["displayName"])
        else:
            out.append(name)
    return out


# -- columns=true ----------------------------------------------------------------------------

def test_columns_true_answers_column_metadata_not_rows(world: tuple[Rest, dict[str, str]]
                                                       ) -> None:
    rest, _ = world
    body = columns(rest, "SELECT Id, LastName, Name, Account.Name FROM Contact")
    assert set(body) == {"columnMetadata", "entityName", "groupBy", "idSelected", "keyPrefix"}
    assert (body["entityName"], body["groupBy"], body["idSelected"], body["keyPrefix"]) == (
        "Contact", False, True, "003")
    id_col, last, name, account = body["columnMetadata"]
    assert id_col == ID_COLUMN
    assert last == {**ID_COLUMN, "apexType": "String", "columnName": "LastName",
                    "displayName": "LastName", "insertable": True, "textType": True,
                    "updatable": True}
    assert (name["textType"], name["insertable"], name["updatable"]) == (True, False, False)
    assert account == {**ID_COLUMN, "apexType": None, "columnName": "Account",
                       "displayName": "Account", "foreignKeyName": "AccountId",
                       "joinColumns": [{**ID_COLUMN, "apexType": "String", "columnName": "Name",
                                        "displayName": "Name", "insertable": True,
                                        "textType": True, "updatable": True}]}
    assert sf_cli_columns(body["columnMetadata"]) == ["Id", "LastName", "Name", "Account.Name"]


def test_columns_of_subqueries_aggregates_and_types(world: tuple[Rest, dict[str, str]]) -> None:
    rest, _ = world
    body = columns(rest, "SELECT Name, AnnualRevenue, NumberOfEmployees, CreatedDate, Tier__c, "
                         "(SELECT LastName FROM Contacts), Owner.Name FROM Account")
    assert body["idSelected"] is False and body["keyPrefix"] == "001"
    assert sf_cli_columns(body["columnMetadata"]) == [
        "Name", "AnnualRevenue", "NumberOfEmployees", "CreatedDate", "Tier__c",
        ["Contacts", ["LastName"]], "Owner.Name"]
    by_name = {c["columnName"]: c for c in body["columnMetadata"]}
    assert (by_name["AnnualRevenue"]["apexType"], by_name["AnnualRevenue"]["numberType"]) == (
        "Decimal", True)
    assert by_name["NumberOfEmployees"]["apexType"] == "Integer"
    assert by_name["CreatedDate"]["apexType"] == "Datetime"
    assert by_name["Tier__c"]["custom"] is True
    assert by_name["Contacts"]["aggregate"] is True
    assert by_name["Contacts"]["foreignKeyName"] is None

    agg = columns(rest, "SELECT AccountId, COUNT(Id), MAX(LastName) last FROM Contact "
                        "GROUP BY AccountId")
    assert agg["groupBy"] is True and agg["idSelected"] is False
    account_id, count, last = agg["columnMetadata"]
    assert (account_id["columnName"], account_id["aggregate"], account_id["apexType"]) == (
        "AccountId", False, "Id")
    assert {k: count[k] for k in ("aggregate", "columnName", "displayName", "numberType",
                                  "apexType")} == {
        "aggregate": True, "columnName": "expr0", "displayName": "COUNT(Id)",
        "numberType": True, "apexType": None}
    assert (last["columnName"], last["displayName"], last["textType"]) == (
        "last", "MAX(LastName)", True)
    assert sf_cli_columns(agg["columnMetadata"]) == ["AccountId", "COUNT(Id)", "MAX(LastName)"]


def test_columns_true_validates_the_query_and_works_for_query_all(
        world: tuple[Rest, dict[str, str]]) -> None:
    rest, _ = world
    r = rest.call("GET", "query", params={"q": "SELECT Nope FROM Contact", "columns": "true"})
    assert r.status_code == 400 and rest.error(r)["errorCode"] == "INVALID_FIELD"
    body = columns(rest, "SELECT Id FROM Lead", endpoint="queryAll")
    assert body["entityName"] == "Lead" and body["keyPrefix"] == "00Q"
    # Without columns=true the same query answers rows.
    assert "records" in rest.query("SELECT Id FROM Lead")


# -- COUNT() ---------------------------------------------------------------------------------

def test_count_all_answers_the_real_count(world: tuple[Rest, dict[str, str]]) -> None:
    rest, _ = world
    assert rest.query("SELECT COUNT() FROM Contact") == {
        "totalSize": 4, "done": True, "records": []}
    assert rest.query("SELECT COUNT() FROM Contact WHERE Account.Name = 'Acme'")[
        "totalSize"] == 2
    assert rest.query("SELECT COUNT() FROM Contact WHERE LastName = 'Nobody'") == {
        "totalSize": 0, "done": True, "records": []}
    assert rest.query("SELECT COUNT() FROM Contact LIMIT 3")["totalSize"] == 3


def test_count_of_a_field_stays_an_aggregate(world: tuple[Rest, dict[str, str]]) -> None:
    rest, _ = world
    body = rest.query("SELECT COUNT(Id) FROM Contact")
    assert body["totalSize"] == 1
    assert body["records"] == [{"attributes": {"type": "AggregateResult"}, "expr0": 4}]
    assert rest.query("SELECT COUNT(AccountId) n FROM Contact")["records"][0]["n"] == 3


# -- semi-joins and anti-joins ---------------------------------------------------------------

def test_semi_join_on_id(world: tuple[Rest, dict[str, str]]) -> None:
    rest, _ = world
    body = rest.query("SELECT LastName FROM Contact WHERE Id IN (SELECT ContactId FROM "
                      "OpportunityContactRole WHERE Role = 'Decision Maker')")
    assert names(body) == ["Ann"] and body["totalSize"] == 1
    assert names(rest.query("SELECT LastName FROM Contact WHERE Id IN (SELECT ContactId FROM "
                            "OpportunityContactRole)")) == ["Ann", "Cat"]


def test_anti_join_on_id(world: tuple[Rest, dict[str, str]]) -> None:
    rest, _ = world
    assert names(rest.query("SELECT LastName FROM Contact WHERE Id NOT IN (SELECT ContactId "
                            "FROM OpportunityContactRole)")) == ["Bob", "Dan"]
    assert names(rest.query("SELECT Name FROM Account WHERE Id NOT IN (SELECT AccountId FROM "
                            "Opportunity)"), "Name") == ["Beta"]


def test_semi_and_anti_join_on_a_reference_field(world: tuple[Rest, dict[str, str]]) -> None:
    rest, _ = world
    assert names(rest.query("SELECT LastName FROM Contact WHERE AccountId IN (SELECT Id FROM "
                            "Account WHERE Industry = 'Banking')")) == ["Cat"]
    # An anti-join keeps records whose reference is null, like NOT IN with values.
    assert names(rest.query("SELECT LastName FROM Contact WHERE AccountId NOT IN (SELECT Id "
                            "FROM Account WHERE Industry = 'Banking')")) == ["Ann", "Bob", "Dan"]
    # A polymorphic reference: the Tasks whose Who is a Contact of Acme, or a Lead.
    assert names(rest.query("SELECT Subject FROM Task WHERE WhoId IN (SELECT Id FROM Contact "
                            "WHERE Account.Name = 'Acme')"), "Subject") == [
        "Call Acme", "Deal follow-up"]
    assert names(rest.query("SELECT Subject FROM Task WHERE WhoId IN (SELECT Id FROM Lead)"),
                 "Subject") == ["Lead call"]


def test_semi_joins_combined_with_and_and_counted(world: tuple[Rest, dict[str, str]]) -> None:
    rest, _ = world
    both = ("SELECT LastName FROM Contact WHERE Id IN (SELECT ContactId FROM "
            "OpportunityContactRole) AND AccountId IN (SELECT Id FROM Account WHERE Name = "
            "'Acme') AND LastName != 'Zed'")
    assert names(rest.query(both)) == ["Ann"]
    assert rest.query(both.replace("SELECT LastName", "SELECT COUNT()", 1))["totalSize"] == 1
    mixed = ("SELECT LastName FROM Contact WHERE Id NOT IN (SELECT ContactId FROM "
             "OpportunityContactRole) AND (LastName = 'Bob' OR LastName = 'Cat')")
    assert names(rest.query(mixed)) == ["Bob"]


@pytest.mark.parametrize(("soql", "reason"), [
    ("SELECT Id FROM Contact WHERE LastName = 'Ann' OR Id IN (SELECT ContactId FROM "
     "OpportunityContactRole)", "Semi join sub-selects are not allowed with the 'OR' operator"),
    ("SELECT Id FROM Contact WHERE LastName = 'Ann' AND (LastName = 'Bob' OR Id IN (SELECT "
     "ContactId FROM OpportunityContactRole))", "Semi join sub-selects are only allowed at the "
     "top level WHERE expressions and not in nested WHERE expressions."),
    ("SELECT Id FROM Contact WHERE NOT Id IN (SELECT ContactId FROM OpportunityContactRole)",
     "Semi join sub-selects are only allowed at the top level WHERE expressions"),
    ("SELECT Id FROM Contact WHERE Id IN (SELECT ContactId FROM OpportunityContactRole WHERE "
     "OpportunityId IN (SELECT Id FROM Opportunity))",
     "Nesting of semi join sub-selects is not supported"),
    ("SELECT Id FROM Contact WHERE Id IN (SELECT ContactId, Role FROM OpportunityContactRole)",
     "semi join sub selects can only select one field"),
    ("SELECT Id FROM Contact WHERE Id IN (SELECT Role FROM OpportunityContactRole)",
     "semi join sub selects can only query id fields, cannot use: 'Role'"),
    ("SELECT Id FROM Contact WHERE Id IN (SELECT Contact.Id FROM OpportunityContactRole)",
     "semi join sub selects can only query id fields, cannot use: 'Contact.Id'"),
    ("SELECT Id FROM Contact WHERE Id IN (SELECT Id FROM Contact)",
     "The inner and outer selects should not be on the same object type"),
    ("SELECT Id FROM Contact WHERE LastName IN (SELECT ContactId FROM OpportunityContactRole)",
     "must be the Id or a reference field of the queried object, cannot use: 'LastName'"),
    ("SELECT Id FROM Contact WHERE Id IN (SELECT OpportunityId FROM OpportunityContactRole)",
     "must point to the same object type as the left operand 'Id'"),
    ("SELECT Id FROM Contact WHERE Id IN (SELECT ContactId FROM OpportunityContactRole) AND "
     "Id IN (SELECT WhoId FROM Task) AND AccountId IN (SELECT Id FROM Account)",
     "at most 2 semi join or anti join sub-selects"),
])
def test_semi_join_rules(world: tuple[Rest, dict[str, str]], soql: str, reason: str) -> None:
    rest, _ = world
    message = refused(rest, soql)
    assert reason in message
    assert "ERROR at Row:1:Column:" in message


def test_semi_join_subquery_names_are_checked(world: tuple[Rest, dict[str, str]]) -> None:
    rest, _ = world
    assert "No such column 'Nope'" in refused(
        rest, "SELECT Id FROM Contact WHERE Id IN (SELECT Nope FROM OpportunityContactRole)",
        "INVALID_FIELD")
    assert "sObject type 'Nothing' is not supported" in refused(
        rest, "SELECT Id FROM Contact WHERE Id IN (SELECT Id FROM Nothing)", "INVALID_TYPE")


# -- TYPEOF ----------------------------------------------------------------------------------

def test_typeof_shapes_the_parent_by_its_type(world: tuple[Rest, dict[str, str]]) -> None:
    rest, ids = world
    body = rest.query("SELECT Subject, TYPEOF What WHEN Account THEN Name, Phone "
                      "WHEN Opportunity THEN Amount ELSE Name END FROM Task ORDER BY Subject")
    by_subject = {r["Subject"]: r for r in body["records"]}
    acme = by_subject["Call Acme"]["What"]
    assert acme == {"attributes": {"type": "Account",
                                   "url": f"/services/data/v59.0/sobjects/Account/{ids['acme']}"},
                    "Name": "Acme", "Phone": "555-0100"}
    deal = by_subject["Deal follow-up"]["What"]
    assert deal["attributes"]["type"] == "Opportunity"
    assert {k: v for k, v in deal.items() if k != "attributes"} == {"Amount": 1200}
    assert by_subject["Loose end"]["What"] is None
    assert list(by_subject["Call Acme"]) == ["attributes", "Subject", "What"]


def test_typeof_else_and_unmatched_types(world: tuple[Rest, dict[str, str]]) -> None:
    rest, _ = world
    body = rest.query("SELECT Subject, TYPEOF Who WHEN Lead THEN Company ELSE Name, Email END, "
                      "TYPEOF What WHEN Opportunity THEN StageName, Account.Name END "
                      "FROM Task WHERE WhoId != null ORDER BY Subject")
    call, follow_up, lead_call = body["records"]
    assert call["Who"]["attributes"]["type"] == "Contact"
    assert {k: call["Who"][k] for k in ("Name", "Email")} == {"Name": "Ann", "Email": None}
    assert "Company" not in call["Who"]
    # No WHEN for Account and no ELSE: only the attributes.
    assert list(call["What"]) == ["attributes"]
    assert call["What"]["attributes"]["type"] == "Account"
    assert follow_up["What"]["StageName"] == "Prospecting"
    assert follow_up["What"]["Account"]["Name"] == "Acme"
    assert lead_call["Who"]["Company"] == "LeeCo" and "Name" not in lead_call["Who"]
    assert lead_call["What"] is None


@pytest.mark.parametrize(("soql", "code", "reason"), [
    ("SELECT What.Name, TYPEOF What WHEN Account THEN Name END FROM Task", "MALFORMED_QUERY",
     "can't also be selected outside this TYPEOF"),
    ("SELECT TYPEOF What WHEN Lead THEN Name END FROM Task", "MALFORMED_QUERY",
     "Lead is not an object What can refer to"),
    ("SELECT TYPEOF What WHEN Account THEN Amount END FROM Task", "INVALID_FIELD",
     "No such column 'Amount' on entity 'Account'"),
    ("SELECT TYPEOF Nope WHEN Account THEN Name END FROM Task", "INVALID_FIELD",
     "Didn't understand relationship 'Nope'"),
    ("SELECT COUNT(), TYPEOF What WHEN Account THEN Name END FROM Task", "MALFORMED_QUERY",
     "COUNT() must be the only element in the SELECT list"),
    ("SELECT TYPEOF What WHEN Account THEN Name FROM Task", "MALFORMED_QUERY",
     "unexpected token: 'FROM'"),
])
def test_typeof_errors(world: tuple[Rest, dict[str, str]], soql: str, code: str, reason: str
                       ) -> None:
    rest, _ = world
    assert reason in refused(rest, soql, code)


def test_typeof_columns(world: tuple[Rest, dict[str, str]]) -> None:
    rest, _ = world
    body = columns(rest, "SELECT Subject, TYPEOF What WHEN Account THEN Name, Phone "
                         "WHEN Opportunity THEN Amount, Name END FROM Task")
    assert sf_cli_columns(body["columnMetadata"]) == [
        "Subject", "What.Name", "What.Phone", "What.Amount"]
    assert body["columnMetadata"][1]["foreignKeyName"] == "WhatId"


# -- FIELDS() --------------------------------------------------------------------------------

def test_fields_standard_needs_no_limit(world: tuple[Rest, dict[str, str]]) -> None:
    rest, ids = world
    body = rest.query(f"SELECT FIELDS(STANDARD) FROM Account WHERE Id = '{ids['acme']}'")
    [acme] = body["records"]
    assert acme["Name"] == "Acme" and acme["Phone"] == "555-0100"
    assert "Tier__c" not in acme
    assert list(acme)[:3] == ["attributes", "Id", "IsDeleted"]  # describe order


def test_fields_all_and_custom_with_a_limit(world: tuple[Rest, dict[str, str]]) -> None:
    rest, _ = world
    custom = rest.query("SELECT Name, FIELDS(CUSTOM) FROM Account ORDER BY Name LIMIT 200")
    assert [list(r) for r in custom["records"]] == [["attributes", "Name", "Tier__c"]] * 2
    assert custom["records"][0]["Tier__c"] == "Gold"
    everything = rest.query("SELECT FIELDS(ALL) FROM Account ORDER BY Name LIMIT 1")
    [acme] = everything["records"]
    assert {"Id", "Name", "Industry", "OwnerId", "Tier__c"} <= set(acme)
    sub = rest.query("SELECT Name, (SELECT FIELDS(STANDARD) FROM Contacts) FROM Account "
                     "WHERE Name = 'Beta'")
    assert sub["records"][0]["Contacts"]["records"][0]["LastName"] == "Cat"


@pytest.mark.parametrize("soql", [
    "SELECT FIELDS(ALL) FROM Account",
    "SELECT FIELDS(CUSTOM) FROM Account LIMIT 201",
    "SELECT Name, (SELECT FIELDS(ALL) FROM Contacts) FROM Account LIMIT 10",
])
def test_unbounded_fields_need_a_limit_of_at_most_200(world: tuple[Rest, dict[str, str]],
                                                      soql: str) -> None:
    rest, _ = world
    assert refused(rest, soql).endswith("The SOQL FIELDS function must have a LIMIT of at most "
                                        "200")


def test_fields_errors(world: tuple[Rest, dict[str, str]]) -> None:
    rest, _ = world
    assert refused(rest, "SELECT Id, FIELDS(ALL) FROM Account LIMIT 200").endswith(
        "duplicate field selected: Id")
    assert "unexpected token: 'EVERYTHING'" in refused(
        rest, "SELECT FIELDS(EVERYTHING) FROM Account")


def test_fields_columns(world: tuple[Rest, dict[str, str]]) -> None:
    rest, _ = world
    body = columns(rest, "SELECT FIELDS(CUSTOM) FROM Account LIMIT 200")
    assert sf_cli_columns(body["columnMetadata"]) == ["Tier__c"]


# -- simple-salesforce -----------------------------------------------------------------------

def _simple_salesforce(sfemu: Sfemu, username: str) -> Salesforce:
    session = requests.Session()
    session.verify = sfemu.ca_file
    session.trust_env = False  # else REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override verify
    session_id, instance = SalesforceLogin(username=username, password="tether-demo",
                                           security_token="", scratch_url=sfemu.base_url,
                                           session=session)
    return Salesforce(session_id=session_id, instance=instance, session=session)


def test_simple_salesforce_count_and_semi_join(sfemu: Sfemu,
                                               world: tuple[Rest, dict[str, str]]) -> None:
    _, ids = world
    sf = _simple_salesforce(sfemu, ids["user"])
    count = sf.query("SELECT COUNT() FROM Contact WHERE AccountId != null")
    assert (count["totalSize"], count["done"], count["records"]) == (3, True, [])
    roles = sf.query_all("SELECT LastName FROM Contact WHERE Id IN (SELECT ContactId FROM "
                         "OpportunityContactRole) ORDER BY LastName")
    assert [r["LastName"] for r in roles["records"]] == ["Ann", "Cat"]
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query("SELECT Id FROM Contact WHERE LastName = 'Ann' OR Id IN (SELECT ContactId "
                 "FROM OpportunityContactRole)")
    content = exc.value.content
    assert isinstance(content, list)
    assert content[0]["errorCode"] == "MALFORMED_QUERY"

"""A sequence's recipients as given, pure: a JSON list or a CSV (``Email`` and the variables'
labels in its header), each error naming the row and the column, and the people lacking a
field a record needs."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether.domain.recipients import (
    MAX_LABEL,
    MAX_RECIPIENTS,
    MAX_VALUE,
    MAX_VARIABLES,
    Given,
    RecipientsError,
    from_csv,
    from_list,
    header_of,
    missing_required,
)

ADA, BOB = "ada@globex.example", "bob@initech.example"


def list_refused(raw: Any) -> RecipientsError:
    with pytest.raises(RecipientsError) as caught:
        from_list(raw)
    return caught.value


def csv_refused(text: str) -> RecipientsError:
    with pytest.raises(RecipientsError) as caught:
        from_csv(text)
    return caught.value


# A list


def test_a_list_is_read_with_addresses_normalized_and_values_trimmed() -> None:
    assert from_list([{"email": "  Ada@Globex.EXAMPLE ",
                       "variables": {" First Name ": " Ada ", "Seats": 12, "Score": 1.5,
                                     "Empty": "  ", "Gone": None}},
                      {"email": BOB}]) == [
        Given(1, ADA, {"First Name": "Ada", "Seats": "12", "Score": "1.5"}),
        Given(2, BOB, {}),
    ]


@pytest.mark.parametrize("raw,field,detail", [
    (None, "recipients", "recipients: a list of {email, variables}"),
    ({"email": ADA}, "recipients", "recipients: a list of {email, variables}"),
    ("ada@globex.example", "recipients", "recipients: a list of {email, variables}"),
    ([], "recipients", "no recipients given"),
    ([ADA], "recipients[0]", "recipients[0]: an object {email, variables}"),
    ([{"email": ADA}, {"email": BOB, "name": "Bob", "age": 3}], "recipients[1].age",
     "recipients[1].age: not a field (email, variables)"),
    ([{"email": "nobody"}], "recipients[0].email",
     "recipients[0].email: 'nobody' is not an email address"),
    ([{"variables": {}}], "recipients[0].email",
     "recipients[0].email: '' is not an email address"),
    ([{"email": BOB}, {"email": "a b@x.example"}], "recipients[1].email",
     "recipients[1].email: 'a b@x.example' is not an email address"),
    ([{"email": "Ada <ada@globex.example>"}], "recipients[0].email",
     "recipients[0].email: 'Ada <ada@globex.example>' is not an email address"),
    ([{"email": "ada@globex.example,bob@initech.example"}], "recipients[0].email",
     "recipients[0].email: 'ada@globex.example,bob@initech.example' is not an email address"),
    ([{"email": "ada@globex.example;"}], "recipients[0].email",
     "recipients[0].email: 'ada@globex.example;' is not an email address"),
    ([{"email": ADA, "variables": ["Ada"]}], "recipients[0].variables",
     "recipients[0].variables: variables are an object of label: value"),
    ([{"email": ADA, "variables": {"  ": "x"}}], "recipients[0].variables",
     "recipients[0].variables: a label of 1 to 100 characters ('  ')"),
    ([{"email": ADA, "variables": {"L" * 101: "x"}}], "recipients[0].variables",
     f"recipients[0].variables: a label of 1 to 100 characters ('{'L' * 40}')"),
    ([{"email": ADA, "variables": {"Paid": True}}], "recipients[0].variables.Paid",
     "recipients[0].variables.Paid: must be text or a number"),
    ([{"email": ADA, "variables": {"Tags": ["a"]}}], "recipients[0].variables.Tags",
     "recipients[0].variables.Tags: must be text or a number"),
    ([{"email": ADA, "variables": {"Bio": "b" * 1_001}}], "recipients[0].variables.Bio",
     "recipients[0].variables.Bio: at most 1000 characters"),
    ([{"email": ADA, "variables": {f"v{i}": "x" for i in range(51)}}],
     "recipients[0].variables", "recipients[0].variables: at most 50 variables"),
])
def test_a_lists_errors_name_their_path(raw: Any, field: str, detail: str) -> None:
    error = list_refused(raw)
    assert (error.field, error.detail, str(error), error.problems) == (field, detail, detail, [])


def test_a_list_at_its_limits_is_taken() -> None:
    variables = {f"{i:03}" + "L" * (MAX_LABEL - 3): "v" * MAX_VALUE
                 for i in range(MAX_VARIABLES)}
    assert from_list([{"email": ADA, "variables": variables}])[0].variables == variables
    assert len(from_list([{"email": ADA}] * MAX_RECIPIENTS)) == MAX_RECIPIENTS


def test_a_list_of_more_than_ten_thousand_is_refused() -> None:
    error = list_refused([{"email": ADA}] * (MAX_RECIPIENTS + 1))
    assert (error.field, error.detail) == (
        "recipients", "at most 10,000 recipients at a time (10,001 given)")


# A CSV


def test_a_csv_is_read_row_by_row() -> None:
    text = "Email,First Name,Company\nAda@Globex.example,Ada,Globex\nbob@initech.example,,\n"
    assert from_csv(text) == [
        Given(2, ADA, {"First Name": "Ada", "Company": "Globex"}),
        Given(3, BOB, {}),
    ]


def test_the_email_column_is_found_in_any_case_and_place() -> None:
    assert from_csv("Company, EMAIL \nGlobex,ada@globex.example") == \
        [Given(2, ADA, {"Company": "Globex"})]


def test_a_byte_order_mark_and_crlf_are_read_through() -> None:
    text = "\ufeffEmail,First Name\r\nada@globex.example,Ada\r\nbob@initech.example,Bob\r\n"
    assert from_csv(text) == [Given(2, ADA, {"First Name": "Ada"}),
                              Given(3, BOB, {"First Name": "Bob"})]
    assert header_of(text) == ["Email", "First Name"]


def test_quoted_cells_keep_their_commas_quotes_and_lines() -> None:
    text = ('Email,Company,Note\n'
            'ada@globex.example,"Globex, Inc.","She said ""hi""\non two lines"\n'
            'bob@initech.example,Initech,x\n')
    assert from_csv(text) == [
        Given(2, ADA, {"Company": "Globex, Inc.", "Note": 'She said "hi"\non two lines'}),
        Given(3, BOB, {"Company": "Initech", "Note": "x"}),
    ]


def test_empty_rows_are_skipped_and_rows_keep_their_numbers() -> None:
    text = "Email,Company\n\nada@globex.example,Globex\n , \n,\nbob@initech.example,Initech\n\n"
    assert [(g.row, g.email) for g in from_csv(text)] == [(3, ADA), (6, BOB)]


def test_cells_are_trimmed_and_empty_ones_left_out() -> None:
    text = "  Email  ,  First Name ,Company\n  ada@globex.example  ,  Ada  ,   \n"
    assert from_csv(text) == [Given(2, ADA, {"First Name": "Ada"})]


def test_a_short_row_has_the_variables_it_has() -> None:
    assert from_csv("Email,First Name,Company\nada@globex.example,Ada\n") == \
        [Given(2, ADA, {"First Name": "Ada"})]


@pytest.mark.parametrize("text,field,detail", [
    ("", "csv", "the CSV is empty: its first row names the columns (Email and the variables' "
     "labels)"),
    ("\ufeff", "csv", "the CSV is empty: its first row names the columns (Email and the "
     "variables' labels)"),
    (" , ,\nada@globex.example", "csv", "the CSV is empty: its first row names the columns "
     "(Email and the variables' labels)"),
    ("Address,Company\nada@globex.example,Globex", "csv.Email",
     "the CSV has no Email column (its first row names the columns: Address, Company)"),
    ("E-mail\nada@globex.example", "csv.Email",
     "the CSV has no Email column (its first row names the columns: E-mail)"),
    ("Email,,Company\nada@globex.example,x,Globex", "csv",
     "the CSV has a column without a name in its first row"),
    ("Email,Company,\nada@globex.example,Globex,", "csv",
     "the CSV has a column without a name in its first row"),
    ("Email,Company,company\nada@globex.example,a,b", "csv.company",
     "the CSV has two columns named company"),
    ("email,Company,EMAIL\nada@globex.example,a,b", "csv.EMAIL",
     "the CSV has two columns named EMAIL"),
    ("Email,Company\n", "recipients", "no recipients given"),
    ("Email,Company\n\n,\n", "recipients", "no recipients given"),
])
def test_a_csvs_header_errors(text: str, field: str, detail: str) -> None:
    error = csv_refused(text)
    assert (error.field, error.detail, error.problems) == (field, detail, [])


def test_a_csv_without_an_email_column_names_at_most_300_characters_of_its_header() -> None:
    error = csv_refused(",".join(f"Column {i}" for i in range(100)) + "\nx")
    listed = error.detail.removeprefix("the CSV has no Email column (its first row names "
                                       "the columns: ").removesuffix(")")
    assert len(listed) == 300 and listed.startswith("Column 0, Column 1, ")


def test_every_bad_row_is_named_by_row_and_column() -> None:
    text = ("Email,Company,Bio\n"
            "ada@globex.example,Globex,ok\n"          # row 2: fine
            "not-an-address,Initech,ok\n"             # row 3
            "bob@initech.example,Initech,ok,extra\n"  # row 4
            f"carol@acme.example,Acme,{'b' * 1_001}\n"  # row 5
            ",Nobody Inc,\n"                          # row 6
            "dan@acme.example\n")                     # row 7: fine
    error = csv_refused(text)
    assert error.field == "csv"
    assert error.problems == [
        {"row": 3, "column": "Email",
         "detail": "row 3, column Email: 'not-an-address' is not an email address"},
        {"row": 4, "column": None,
         "detail": "row 4: 4 cells, but the header names 3 columns"},
        {"row": 5, "column": "Bio", "detail": "row 5, column Bio: at most 1000 characters"},
        {"row": 6, "column": "Email", "detail": "row 6, column Email: '' is not an email address"},
    ]
    assert error.detail == "; ".join(p["detail"] for p in error.problems)


def test_a_missing_email_cell_is_named() -> None:
    error = csv_refused("Company,Email\nGlobex\n")
    assert error.problems == [{"row": 2, "column": "Email",
                               "detail": "row 2, column Email: '' is not an email address"}]


def test_a_column_named_column_is_not_taken_for_the_email() -> None:
    error = csv_refused(f"Email,column\nada@globex.example,{'x' * 1_001}\n")
    assert error.problems == [{"row": 2, "column": "column",
                               "detail": "row 2, column column: at most 1000 characters"}]


def test_the_email_columns_own_name_is_used() -> None:
    error = csv_refused("E-MAIL ADDRESS,EMAIL\nx,nope\n")
    assert error.problems[0]["detail"] == "row 2, column EMAIL: 'nope' is not an email address"


def test_twenty_bad_rows_are_told_and_the_rest_counted() -> None:
    text = "Email\n" + "".join(f"bad{i}\n" for i in range(25))
    error = csv_refused(text)
    assert len(error.problems) == 25
    assert error.detail.count("is not an email address") == 20
    assert error.detail.startswith("row 2, column Email: 'bad0' is not an email address; ")
    assert error.detail.endswith("row 21, column Email: 'bad19' is not an email address; "
                                 "and 5 more")


def test_ten_thousand_rows_are_taken_and_one_more_refused() -> None:
    rows = "".join(f"p{i}@acme.example,{i}\n" for i in range(MAX_RECIPIENTS))
    taken = from_csv("Email,N\n" + rows)
    assert len(taken) == MAX_RECIPIENTS
    assert taken[-1] == Given(MAX_RECIPIENTS + 1, "p9999@acme.example", {"N": "9999"})
    error = csv_refused("Email,N\n" + rows + "last@acme.example,x\n")
    assert (error.field, error.detail) == (
        "recipients", "at most 10,000 recipients at a time (10,001 given)")


def test_a_header_is_read_alone() -> None:
    assert header_of("") == []
    assert header_of(" Email , First Name,\nada@globex.example,Ada,\n") == \
        ["Email", "First Name", ""]
    assert header_of('"Company, Inc.",Email') == ["Company, Inc.", "Email"]


_addresses = st.builds(lambda local, domain: f"{local}@{domain}.example",
                       st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,20}", fullmatch=True),
                       st.from_regex(r"[a-z0-9-]{1,20}", fullmatch=True))
# No lone carriage return: csv.writer leaves a cell holding one unquoted (with a "\n"
# line terminator), and a reader, as a spreadsheet, takes it for the end of the row.
_values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"),
                  max_size=30)


# Regex-drawn addresses are slow to make on a loaded machine: not a failure of the code.
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_addresses, _values, _values), min_size=1, max_size=30),
       st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_a_csv_written_by_csv_writer_comes_back(rows: list[tuple[str, str, str]],
                                                newline: str, bom: bool) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(["Email", "Company", "Note"])
    writer.writerows(rows)
    text = ("\ufeff" if bom else "") + out.getvalue()
    expected = [Given(i, e, {k: v.strip() for k, v in (("Company", c), ("Note", n))
                             if v.strip()})
                for i, (e, c, n) in enumerate(rows, start=2)]
    assert from_csv(text) == expected
    assert header_of(text) == ["Email", "Company", "Note"]


def test_a_csv_a_reader_cannot_read_is_refused_naming_its_line() -> None:
    before = csv.field_size_limit(500)  # a cell over the csv module's limit (others raise it)
    try:
        with pytest.raises(RecipientsError) as caught:
            from_csv("Email,Note\na@b.example,ok\nc@d.example," + "x" * 600 + "\n")
    finally:
        csv.field_size_limit(before)
    assert "cannot be read at line 3" in caught.value.detail, caught.value.detail


@given(st.lists(st.tuples(_addresses, st.dictionaries(
    st.text(min_size=1, max_size=20).filter(str.strip).map(str.strip), _values,
    max_size=5)), min_size=1, max_size=20))
def test_a_list_comes_back_as_given(items: list[tuple[str, dict[str, str]]]) -> None:
    raw = [{"email": e.upper(), "variables": v} for e, v in items]
    assert from_list(raw) == [
        Given(i, e, {k: x.strip() for k, x in v.items() if x.strip()})
        for i, (e, v) in enumerate(items, start=1)]


# Who lacks a field a record needs


PEOPLE = [Given(2, ADA, {"Company": "Globex", "Last Name": "Lovelace"}),
          Given(3, BOB, {"company": "Initech"}),
          Given(5, "carol@acme.example", {})]


def test_the_people_lacking_a_required_field_are_named_by_row() -> None:
    assert missing_required(PEOPLE, ["Company", "Last Name"], "Lead") == [
        {"row": 3, "email": BOB, "column": "Last Name",
         "detail": "row 3 (bob@initech.example): Last Name is empty, required to create a "
         "Lead"},
        {"row": 5, "email": "carol@acme.example", "column": "Company",
         "detail": "row 5 (carol@acme.example): Company, Last Name are empty, required to "
         "create a Lead"},
    ]


def test_labels_are_matched_in_any_case() -> None:
    assert missing_required(PEOPLE[:2], ["COMPANY"], "Lead") == []
    assert missing_required(PEOPLE[:1], ["last name"], "Contact") == []


def test_nothing_required_lacks_nothing() -> None:
    assert missing_required(PEOPLE, [], "Lead") == []
    assert missing_required([], ["Company"], "Lead") == []


def test_a_csv_without_a_required_column_is_named_once_as_a_column() -> None:
    assert missing_required(PEOPLE, ["Company", "Last Name", "Title"], "Lead",
                            csv_columns=["Email", " company ", "Other"]) == [
        {"row": None, "column": "Last Name",
         "detail": "the CSV has no Last Name column, required to create a Lead"},
        {"row": None, "column": "Title",
         "detail": "the CSV has no Title column, required to create a Lead"},
    ]


def test_a_csv_with_the_columns_is_checked_by_row() -> None:
    problems = missing_required(PEOPLE, ["Company"], "Lead",
                                csv_columns=["EMAIL", "COMPANY"])
    assert [(p["row"], p["column"]) for p in problems] == [(5, "Company")]


def test_a_csvs_rows_are_checked_end_to_end() -> None:
    text = "Email,Company,Last Name\nada@globex.example,Globex,Lovelace\nbob@initech.example,,\n"
    people = from_csv(text)
    assert [p["row"] for p in missing_required(people, ["company"], "Lead",
                                               csv_columns=header_of(text))] == [3]
    assert [p["column"] for p in missing_required(people, ["Title"], "Lead",
                                                  csv_columns=header_of(text))] == ["Title"]

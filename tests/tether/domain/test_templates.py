"""Email templates' own language: labels in double braces with fallbacks, parsed and rendered
without executing anything; values escaped in a body and kept to one line in a subject."""

from __future__ import annotations

import html

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.domain import templates as tpl
from tether.domain.templates import Source, Variable

LEAD = {"FirstName": "First Name", "LastName": "Last Name", "Phone": "Phone",
        "Company": "Company"}
CONTACT = {"FirstName": "First Name", "LastName": "Last Name", "Phone": "Business Phone"}
ACCOUNT = {"Name": "Account Name", "Phone": "Account Phone"}
KNOWN = [*LEAD.values(), *CONTACT.values(), *ACCOUNT.values()]


def body(text: str, values: dict[str, str]) -> tpl.Rendered:
    return tpl.render(tpl.parse(text), {tpl.key(k): v for k, v in values.items()},
                      html_body=True)


def subject(text: str, values: dict[str, str]) -> tpl.Rendered:
    return tpl.render(tpl.parse(text), {tpl.key(k): v for k, v in values.items()},
                      html_body=False)


def test_parse_splits_text_and_variables() -> None:
    parsed = tpl.parse("Hi {{ First Name | there }}, call {{Phone}}.")
    assert parsed.parts == ("Hi ", Variable("First Name", "there", 3), ", call ",
                            Variable("Phone", None, 34), ".")
    assert parsed.labels == ["First Name", "Phone"]
    assert tpl.parse("{{First Name|}}").variables[0].fallback == ""  # an empty fallback
    assert tpl.parse("").parts == ()
    assert tpl.parse("a } b }} c {").parts == ("a } b }} c {",)  # lone braces are text


def test_labels_once_whatever_the_case_and_spacing() -> None:
    assert tpl.parse("{{First Name}} {{first  name}} {{FIRST NAME|x}}").labels == [
        "First Name"]


@pytest.mark.parametrize(("text", "position"), [
    ("Hi {{First Name", 3), ("{{", 0), ("ok {{A}} then {{B", 14),
    ("{{A {{B}}", 0), ("x {{}}", 2), ("{{ | there}}", 0)])
def test_parse_errors_name_the_position(text: str, position: int) -> None:
    with pytest.raises(tpl.TemplateError) as caught:
        tpl.parse(text)
    assert caught.value.position == position
    assert f"character {position + 1}" in caught.value.message


def test_values_fallbacks_and_missing() -> None:
    out = body("Hi {{First Name|there}}, {{Last Name}} at {{Account Name}}",
               {"first name": "", "Account Name": "Globex"})
    assert out.text == "Hi there,  at Globex"
    assert out.missing == ["Last Name"]
    # Fallback text is the author's HTML, as the rest of the body is.
    assert body("{{First Name|<b>friend</b>}}", {}).text == "<b>friend</b>"
    assert body("{{A}}{{a}}", {}).missing == ["A"]


def test_body_values_are_escaped() -> None:
    out = body('<p title="{{Last Name}}">{{Last Name}}</p>',
               {"Last Name": "<b>O'Brien & Co</b>\"x"})
    assert out.text == ('<p title="&lt;b&gt;O&#x27;Brien &amp; Co&lt;/b&gt;&quot;x">'
                        "&lt;b&gt;O&#x27;Brien &amp; Co&lt;/b&gt;&quot;x</p>")


def test_subject_is_plain_text_on_one_line() -> None:
    out = subject("Hello {{Last Name}} & co", {"Last Name": "<O'Brien>\r\nBcc: x@evil.example"})
    assert out.text == "Hello <O'Brien> Bcc: x@evil.example & co"
    assert "\r" not in out.text and "\n" not in out.text
    assert subject("{{A|a\u2028b}}", {}).text == "a b"


def test_unknown_labels_and_nearest() -> None:
    labels = tpl.parse("{{Frist Name}} {{phone}} {{Acount Name}} {{Zzzz}}").labels
    assert tpl.unknown(labels, KNOWN) == ["Frist Name", "Acount Name", "Zzzz"]
    assert tpl.nearest("Frist Name", KNOWN)[0] == "First Name"
    assert tpl.nearest("acount name", KNOWN)[0] == "Account Name"
    assert tpl.nearest("Zzzz", KNOWN) == []


def test_resolution_own_labels_first_then_the_account() -> None:
    contact = {"FirstName": "Jane", "Phone": "+1 555 0100", "LastName": "Doe"}
    account = {"Name": "Globex", "Phone": "+1 555 0199"}
    sources = [Source.of(CONTACT, contact), Source.of(ACCOUNT, account)]
    values = tpl.values_for(["First Name", "Business Phone", "Account Name", "Account Phone",
                             "Phone", "Company"], sources)
    assert values == {"first name": "Jane", "business phone": "+1 555 0100",
                      "account name": "Globex", "account phone": "+1 555 0199"}
    # A field the person has decides, even empty: the Account's is another field.
    both = {"Name": "Name"}
    assert tpl.values_for(["Name"], [Source.of(both, {"Name": None}),
                                     Source.of(both, {"Name": "Globex"})]) == {}


def test_a_leads_company_stands_in_for_its_account_name() -> None:
    lead = {"FirstName": None, "Company": "Initech", "Phone": "555", "NumberOfEmployees": 12.0}
    sources = [Source.of({**LEAD, "NumberOfEmployees": "Employees"}, lead),
               tpl.lead_as_account(ACCOUNT, lead)]
    values = tpl.values_for(["Account Name", "Phone", "First Name", "Employees"], sources)
    assert values == {"account name": "Initech", "phone": "555", "employees": "12"}
    assert tpl.as_text(True) == "Yes" and tpl.as_text(1.5) == "1.5"


@given(st.text().filter(lambda t: "{" not in t and "}" not in t))
def test_text_without_braces_renders_unchanged(text: str) -> None:
    assert body(text, {}).text == text
    assert subject(text, {}).text == tpl.one_line(text)
    assert body(text, {}).missing == []


@given(st.text(), st.sampled_from(["First Name", "Last Name", "Account Name"]))
def test_no_value_can_inject_markup_or_a_header(value: str, label: str) -> None:
    out = body(f"<p>{{{{{label}}}}}</p>", {label: value}).text
    inner = out.removeprefix("<p>").removesuffix("</p>")
    assert not set(inner) & set("<>\"'")
    assert html.unescape(inner) == value
    line = subject(f"Re: {{{{{label}}}}}", {label: value}).text
    assert not tpl.LINE_BREAKS.search(line)

"""Building and parsing messages: headers, alternatives, threading, unsubscribe, injection."""

from __future__ import annotations

import datetime
import html
from dataclasses import replace
from email.message import EmailMessage

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.mail import mime

BASE = mime.Outgoing(
    message_id="<abc.123@acme.example>", from_address="rep@acme.example",
    from_name="Renée Rep", to=["ann@globex.example"], cc=["cc@globex.example"],
    subject="Quarterly review — Globex", html='<p>Hello <b>Ann</b>,</p><p>See '
    '<a href="https://acme.example/deck">the deck</a>.</p><style>p{color:red}</style>')


def roundtrip(out: mime.Outgoing) -> tuple[bytes, EmailMessage]:
    raw = mime.to_bytes(mime.build(out))
    return raw, mime.parse(raw)


def test_headers_survive_the_wire() -> None:
    when = datetime.datetime(2026, 3, 4, 9, 30, tzinfo=datetime.timezone(
        datetime.timedelta(hours=2)))
    raw, msg = roundtrip(replace(BASE, date=when))
    assert mime.header_message_id(msg) == "<abc.123@acme.example>"
    assert msg["Date"] == "Wed, 04 Mar 2026 09:30:00 +0200"
    assert msg["From"].addresses[0].display_name == "Renée Rep"
    assert msg["From"].addresses[0].addr_spec == "rep@acme.example"
    assert [a.addr_spec for a in msg["To"].addresses] == ["ann@globex.example"]
    assert [a.addr_spec for a in msg["Cc"].addresses] == ["cc@globex.example"]
    assert msg["Subject"] == "Quarterly review — Globex"
    assert msg["MIME-Version"] == "1.0"
    assert "Bcc" not in msg and "In-Reply-To" not in msg and "References" not in msg
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert raw.isascii()


def test_date_defaults_to_now_with_its_offset() -> None:
    _, msg = roundtrip(BASE)
    sent = msg["Date"].datetime
    assert sent.tzinfo is not None
    assert abs(sent - datetime.datetime.now(datetime.UTC)) < datetime.timedelta(minutes=1)


def test_text_and_html_alternatives() -> None:
    _, msg = roundtrip(BASE)
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert all("MIME-Version" not in p for p in parts)
    text = parts[0].get_content()
    assert "Hello Ann," in text and "the deck (https://acme.example/deck)" in text
    assert "color" not in text
    assert parts[1].get_content().startswith("<p>Hello <b>Ann</b>")


def test_explicit_text_is_kept() -> None:
    _, msg = roundtrip(replace(BASE, text="Plain words, naïvely."))
    plain = next(msg.iter_parts())
    assert plain.get_content().strip() == "Plain words, naïvely."


def test_threading_headers() -> None:
    _, msg = roundtrip(replace(BASE, in_reply_to="<p2@globex.example>",
                               references=("<p1@globex.example>", "<p2@globex.example>")))
    assert msg["In-Reply-To"] == "<p2@globex.example>"
    assert msg["References"].split() == ["<p1@globex.example>", "<p2@globex.example>"]


def test_list_unsubscribe_and_one_click() -> None:
    _, msg = roundtrip(replace(BASE, list_unsubscribe="https://t.acme.example/u/tok"))
    assert msg["List-Unsubscribe"] == "<https://t.acme.example/u/tok>"
    assert "List-Unsubscribe-Post" not in msg
    _, msg = roundtrip(replace(BASE, list_unsubscribe="https://t.acme.example/u/tok",
                               one_click=True))
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_extra_headers() -> None:
    _, msg = roundtrip(replace(BASE, headers=(("X-Tether-Delivery", "d-42"),)))
    assert msg["X-Tether-Delivery"] == "d-42"


@pytest.mark.parametrize(("change", "header"), [
    ({"subject": "Hi\r\nBcc: victim@example.com"}, "Subject"),
    ({"from_name": "Rep\nBcc: victim@example.com"}, "From"),
    ({"to": ["ann@globex.example\r\nBcc: victim@example.com"]}, "To"),
    ({"cc": ["cc@globex.example\nX: y"]}, "Cc"),
    ({"message_id": "<a@b>\r\nBcc: v@example.com"}, "Message-ID"),
    ({"headers": (("X-Note", "a\r\nBcc: v@example.com"),)}, "X-Note"),
])
def test_header_injection_is_refused(change: dict[str, object], header: str) -> None:
    with pytest.raises(ValueError, match=header):
        mime.build(replace(BASE, **change))  # type: ignore[arg-type]


def test_html_to_text() -> None:
    source = ("<html><head><title>T</title><script>alert(1)</script></head><body>"
              "<h1>Hi&nbsp;there</h1><p>One   two<br>three</p><ul><li>a &amp; b</li>"
              "<li>c</li></ul><a href='https://x.example/'>https://x.example/</a></body></html>")
    assert mime.html_to_text(source) == ("Hi there\n\nOne two\nthree\n\n- a & b\n- c\n\n"
                                         "https://x.example/")


urls = st.from_regex(r"https://[a-z]{1,12}\.example/[A-Za-z0-9_\-/]{0,20}", fullmatch=True)


@given(st.text())
def test_html_to_text_never_raises(source: str) -> None:
    assert isinstance(mime.html_to_text(source), str)


@given(before=st.text(), label=st.text(), url=urls, after=st.text())
def test_html_to_text_keeps_link_urls(before: str, label: str, url: str, after: str) -> None:
    source = (f"<p>{html.escape(before)}</p><a href=\"{url}\">{html.escape(label)}</a>"
              f"{html.escape(after)}")
    assert url in mime.html_to_text(source)

"""Tracking's pure core: tokens that fail verification when altered or used as another kind,
link rewriting that touches trackable hrefs only, and the person-or-machine verdict on a hit
with its evidence."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.domain import tracking as tr
from tether.domain.tracking import Hit, Kind

KEY = tr.tracking_key("a secret")
AT = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/126.0.0.0 Safari/537.36")
GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
kinds = st.sampled_from(list(Kind))
ids = st.integers(min_value=0, max_value=2**64 - 1)
positions = st.integers(min_value=0, max_value=2**16 - 1)


# -- tokens -----------------------------------------------------------------------------------
@given(kinds, ids, positions)
def test_a_token_verifies_as_its_own_kind_only(kind: Kind, delivery: int, n: int) -> None:
    token = tr.sign(KEY, kind, delivery, n)
    assert tr.verify(KEY, kind, token) == (delivery, n)
    for other in Kind:
        if other is not kind:
            assert tr.verify(KEY, other, token) is None
    assert tr.verify(tr.tracking_key("another secret"), kind, token) is None


@given(kinds, ids, positions, st.data())
def test_an_altered_token_fails(kind: Kind, delivery: int, n: int, data: st.DataObject) -> None:
    token = tr.sign(KEY, kind, delivery, n)
    i = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    replacement = data.draw(st.sampled_from([c for c in alphabet if c != token[i]]))
    altered = token[:i] + replacement + token[i + 1:]
    # Any change fails, even to the last character's spare bits, which the decoder alone
    # would ignore (a token has one spelling).
    assert tr.verify(KEY, kind, altered) is None


@given(st.text(max_size=80))
def test_garbage_never_verifies(token: str) -> None:
    assert tr.verify(KEY, Kind.CLICK, token) is None


def test_a_truncated_or_extended_token_fails() -> None:
    token = tr.sign(KEY, Kind.CLICK, 42, 3)
    assert tr.verify(KEY, Kind.CLICK, token[:-1]) is None
    assert tr.verify(KEY, Kind.CLICK, token + "A") is None


# -- links ------------------------------------------------------------------------------------
def test_rewrite_replaces_trackable_links_in_order_and_leaves_the_rest() -> None:
    body = ('<p><a href="https://a.example/x?y=1&amp;z=2">A</a> <a href=\'mailto:j@x.example\'>'
            'mail</a> <A HREF=http://b.example>B</A> <a class="k" href="https://a.example/x'
            '?y=1&amp;z=2">again</a></p>')
    assert tr.links(body) == ["https://a.example/x?y=1&z=2", "http://b.example",
                              "https://a.example/x?y=1&z=2"]
    out = tr.rewrite(body, lambda n: f"https://t.example/t/c/{n}?q=\"x\"")
    assert tr.links(out) == [f"https://t.example/t/c/{n}?q=\"x\"" for n in range(3)]
    assert "mailto:j@x.example" in out and ">A</a>" in out and 'class="k"' in out


@given(st.lists(st.sampled_from(["https://a.example/", "http://b.example/p", "#top",
                                 "tel:123"]), max_size=6))
def test_rewrite_changes_exactly_the_trackable_links(hrefs: list[str]) -> None:
    body = "".join(f'<a href="{h}">x</a>\n' for h in hrefs)
    trackable = [h for h in hrefs if tr.trackable(h)]
    out = tr.rewrite(body, lambda n: f"https://t.example/{n}")
    assert tr.links(out) == [f"https://t.example/{n}" for n in range(len(trackable))]
    assert out.count('href="#top"') == hrefs.count("#top")


# -- verdicts ---------------------------------------------------------------------------------
def hit(kind: Kind = Kind.OPEN, *, method: str = "GET", agent: str = CHROME,
        ip: str = "203.0.113.9", since: float | None = 3600.0, n: int | None = None,
        at: dt.datetime = AT) -> Hit:
    return Hit(kind, method, agent, ip, at, since,
               n if n is not None or kind is Kind.OPEN else 0)


def judge(h: Hit, neighbours: list[Hit] | None = None, links: int = 1
          ) -> tuple[str, list[str]]:
    return tr.judge(h, neighbours=neighbours or [], link_count=links, scanner_seconds=10.0)


def test_a_browser_open_and_click_are_a_person() -> None:
    assert judge(hit()) == ("person", ["a browser: Chrome"])
    assert judge(hit(Kind.CLICK)) == ("person", ["a browser: Chrome"])


def test_a_head_request_is_a_machine() -> None:
    verdict, evidence = judge(hit(Kind.CLICK, method="HEAD"))
    assert verdict == "machine" and "HEAD request" in evidence[0]


@pytest.mark.parametrize("agent", [
    "Mozilla/5.0 (compatible; Barracuda Sentinel)", "Mimecast-URL-Protect/1.0",
    "Proofpoint URL Defense", "Mozilla/5.0 (compatible; bingbot/2.0)",
    "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 BingPreview/1.0b",
    "python-requests/2.32.3", "curl/8.5.0", "Go-http-client/1.1",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/126.0.0.0",
    "SomeCrawler/3", "Slackbot-LinkExpanding 1.0", "LinkScanner 2"])
def test_a_user_agent_announcing_a_machine_is_one(agent: str) -> None:
    verdict, evidence = judge(hit(Kind.CLICK, agent=agent))
    assert verdict == "machine"
    assert any(e.startswith("the user agent announces") for e in evidence)


def test_no_user_agent_is_a_machine() -> None:
    assert judge(hit(agent=""))[0] == "machine"


def test_a_webmail_image_proxy_is_a_person_on_an_open() -> None:
    assert judge(hit(agent=GMAIL)) == (
        "person", ["an image proxy fetching for a person (Gmail)"])
    yahoo = "Mozilla/5.0 (compatible; YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy)"
    assert judge(hit(agent=yahoo)) == (
        "person", ["an image proxy fetching for a person (Yahoo Mail)"])


def test_apple_mail_privacy_protection_prefetch_is_a_machine() -> None:
    for h in (hit(agent="Mozilla/5.0"), hit(ip="17.58.101.3")):
        verdict, evidence = judge(h)
        assert verdict == "machine"
        assert any("Mail Privacy Protection" in e for e in evidence)
    # A person's browser on another address, or a click from Apple's range, is not MPP.
    assert judge(hit(ip="18.58.101.3"))[0] == "person"
    assert judge(hit(Kind.CLICK, ip="17.58.101.3"))[0] == "person"


@pytest.mark.parametrize("kind", [Kind.CLICK, Kind.DOWNLOAD])
def test_a_click_soon_after_delivery_is_a_scanner(kind: Kind) -> None:
    verdict, evidence = judge(hit(kind, since=2.0))
    assert verdict == "machine"
    assert any("2.0 s after delivery" in e and "under 10 s" in e for e in evidence)
    assert judge(hit(kind, since=10.0))[0] == "person"
    assert judge(hit(kind, since=None))[0] == "person"  # acceptance time unknown


def test_an_open_soon_after_delivery_is_not_judged_by_time() -> None:
    assert judge(hit(Kind.OPEN, since=0.5))[0] == "person"


def test_every_link_followed_at_once_is_a_scanner() -> None:
    first = hit(Kind.CLICK, n=0)
    second = hit(Kind.CLICK, n=1, at=AT + dt.timedelta(seconds=2))
    verdict, evidence = judge(first, [second], links=2)
    assert verdict == "machine" and any("every link of the message (2)" in e for e in evidence)
    later = hit(Kind.CLICK, n=1, at=AT + dt.timedelta(seconds=60))
    assert judge(first, [later], links=2)[0] == "person"
    assert judge(first, [hit(Kind.CLICK, n=0, at=AT + dt.timedelta(seconds=1))],
                 links=2)[0] == "person"  # the same link twice is not every link


def test_three_links_within_five_seconds_is_a_scanner() -> None:
    near = [hit(Kind.CLICK, n=i, at=AT + dt.timedelta(seconds=i * 2)) for i in (1, 2)]
    verdict, evidence = judge(hit(Kind.CLICK, n=0), near, links=10)
    assert verdict == "machine" and any("3 links were followed within 5 s" in e
                                        for e in evidence)
    spread = [hit(Kind.CLICK, n=i, at=AT + dt.timedelta(seconds=i * 6)) for i in (1, 2)]
    assert judge(hit(Kind.CLICK, n=0), spread, links=10)[0] == "person"


@given(st.sampled_from([Kind.OPEN, Kind.CLICK, Kind.DOWNLOAD]), st.sampled_from(["GET", "HEAD"]),
       st.text(max_size=200), st.sampled_from(["203.0.113.9", "17.1.2.3", "", "not an ip"]),
       st.one_of(st.none(), st.floats(min_value=-5, max_value=1e6)))
def test_every_verdict_carries_evidence(kind: Kind, method: str, agent: str, ip: str,
                                        since: float | None) -> None:
    verdict, evidence = judge(hit(kind, method=method, agent=agent, ip=ip, since=since))
    assert verdict in ("person", "machine")
    assert evidence and all(e and len(e) <= 1000 for e in evidence)
    if method == "HEAD":
        assert verdict == "machine"


def test_stored_kinds_round_trip() -> None:
    for kind in (Kind.OPEN, Kind.CLICK, Kind.DOWNLOAD):
        assert tr.kind_of(tr.stored_kind(kind)) is kind
    assert tr.stored_kind(Kind.DOWNLOAD) == "download"

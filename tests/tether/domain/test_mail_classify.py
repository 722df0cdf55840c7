"""Mail classification: bounces as the common MTAs write them (standard reports and plain text),
out-of-office answers by their headers and subjects in many languages but never by a person's
words, the Message-IDs a message refers to, the date an auto-reply says its writer is back, and
a parser that reads whatever bytes a mailbox holds without raising."""

from __future__ import annotations

import datetime as dt
from email.header import Header
from email.message import EmailMessage
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tether.domain import mail
from tether.domain.mail import Bounce, Parsed

SAMPLES = Path(__file__).parent / "mail_samples"
TODAY = dt.date(2026, 11, 28)  # a Saturday


def sample(name: str) -> Parsed:
    """A stored message as IMAP hands it over: CRLF line ends."""
    return mail.parse((SAMPLES / name).read_bytes().replace(b"\n", b"\r\n"))


def message(body: str = "Hello", subtype: str = "plain", **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "Dana Buyer <dana@acme.example>")
    msg["To"] = headers.pop("To", "sales@tether.example")
    msg["Subject"] = headers.pop("Subject", "Re: Quick question")
    msg["Date"] = "Sat, 28 Nov 2026 11:00:00 +0100"
    msg["Message-ID"] = headers.pop("Message_ID", "<reply-1@acme.example>")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body, subtype=subtype)
    return msg.as_bytes()


def ooo(body: str, subject: str = "Out of Office: Quick question") -> Parsed:
    return mail.parse(message(body, Subject=subject, Auto_Submitted="auto-replied"))


# -- standard delivery reports ----------------------------------------------------------------
def test_a_postfix_report_names_the_recipient_and_our_original() -> None:
    msg = sample("postfix_dsn.eml")
    assert mail.bounces(msg) == [Bounce(
        recipient="nobody@acme.example", status="5.1.1", hard=True,
        diagnostic="550 5.1.1 <nobody@acme.example>: Recipient address rejected: "
                   "User unknown in local recipient table",
        action="failed",
    )]
    # The original's own In-Reply-To is not ours to follow: only its Message-ID is.
    assert msg.original_ids == ("<abc@tether.example>",)
    assert msg.refs == ("<abc@tether.example>",)
    assert msg.report_type == "delivery-status"
    assert msg.from_name == "Mail Delivery System"
    # Postfix marks its bounces Auto-Submitted, yet a bounce is not an 'automatic answer'.
    assert msg.headers["auto-submitted"] == "auto-replied"
    assert mail.automatic(msg) is None
    assert "Reporting-MTA" not in msg.text and "ten minutes" not in msg.text
    assert msg.text.startswith("This is the mail system at host mail.tether.example.")


def test_a_delayed_report_is_soft_and_its_headers_part_gives_the_original() -> None:
    msg = sample("postfix_delayed.eml")
    assert mail.bounces(msg) == [Bounce("slow@acme.example", "4.2.2", False,
                                        "452 4.2.2 Mailbox full", "delayed")]
    assert msg.original_ids == ("<def@tether.example>",)  # text/rfc822-headers, folded id


def test_gmail_address_not_found_is_a_hard_bounce_with_one_reply_text() -> None:
    msg = sample("gmail_not_found.eml")
    (bounce,) = mail.bounces(msg)
    assert (bounce.recipient, bounce.status, bounce.hard, bounce.action) == (
        "ghost@acme.example", "5.1.1", True, "failed")
    assert bounce.diagnostic == (
        "550 5.1.1 The email account that you tried to reach does not exist. Please try "
        "double-checking the recipient's email address for typos or unnecessary spaces. For "
        "more information, go to https://support.google.com/mail/?p=NoSuchUser "
        "4si1234567qkb.12 - gsmtp")
    assert msg.refs == ("<abc@tether.example>",)  # In-Reply-To, References, original: once
    assert msg.text.startswith("** Address not found **")
    assert mail.automatic(msg) is None


def test_an_exchange_ndr_is_read_from_its_report() -> None:
    msg = sample("exchange_ndr.eml")
    assert mail.bounces(msg) == [Bounce(
        "pat@acme.example", "5.1.10", True,
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup")]
    assert msg.original_ids == ("<abc@tether.example>",)


def test_an_exchange_ndr_without_its_report_is_read_from_its_words() -> None:
    raw = (SAMPLES / "exchange_ndr.eml").read_bytes()
    human = raw.split(b"Content-Type: text/plain; charset=\"us-ascii\"\n")[1].split(b"\n--b7c9")[0]
    headers = b"From: postmaster@acme.onmicrosoft.example\nSubject: Undeliverable: Quick question\n"
    msg = mail.parse(headers + b"Content-Type: text/plain; charset=us-ascii\n" + human)
    assert msg.report_type == ""
    assert mail.bounces(msg) == [Bounce(
        "pat@acme.example", "5.1.10", True,
        "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not "
        "found by SMTP address lookup'")]
    assert msg.original_ids == ("<abc@tether.example>",)  # quoted in "Original message headers"


def test_a_report_of_delivery_is_no_bounce_but_is_automatic() -> None:
    msg = mail.parse(_report(action="delivered", status="2.0.0"))
    assert mail.bounces(msg) == []
    assert mail.automatic(msg) == "report (delivery-status: delivered)"
    assert msg.original_ids == ("<abc@tether.example>",)


def test_a_report_prefers_the_address_tether_wrote_and_skips_delivered_ones() -> None:
    groups = ("Original-Recipient: rfc822;Sales@Acme.example\n"
              "Final-Recipient: rfc822; <jo@mail.acme.example>\nAction: failed\n"
              "Status: 5.2.1 (mailbox disabled)\n\n"
              "Final-Recipient: rfc822;ok@acme.example\nAction: delivered\nStatus: 2.0.0\n")
    msg = mail.parse(_report(groups=groups))
    assert mail.bounces(msg) == [Bounce("sales@acme.example", "5.2.1", True, "")]


def _report(action: str = "failed", status: str = "5.0.0", groups: str = "") -> bytes:
    fields = groups or (f"Final-Recipient: rfc822; pat@acme.example\nAction: {action}\n"
                        f"Status: {status}\n")
    return f"""From: Mail Delivery System <MAILER-DAEMON@mx.tether.example>
Subject: Delivery Status Notification
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="RPT"

--RPT
Content-Type: text/plain

Delivery report follows.

--RPT
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.tether.example

{fields}
--RPT
Content-Type: text/rfc822-headers

Message-ID: <abc@tether.example>
Subject: Quick question

--RPT--
""".replace("\n", "\r\n").encode("utf-8", "surrogateescape")


# -- plain bounces ----------------------------------------------------------------------------
def test_a_qmail_failure_notice_lists_each_recipient_with_its_reason() -> None:
    msg = sample("qmail_failure.eml")
    assert mail.bounces(msg) == [
        Bounce("nobody@acme.example", "5.1.1", True,
               "192.0.2.10 does not like recipient. Remote host said: 550 5.1.1 "
               "<nobody@acme.example>: Recipient address rejected: User unknown in virtual "
               "mailbox table Giving up on 192.0.2.10."),
        # No code, and "over quota" outweighs the notice's "This is a permanent error".
        Bounce("full@acme.example", "", False, "user is over quota"),
    ]
    assert msg.original_ids == ("<abc@tether.example>",)  # from the copy below the line
    assert msg.message_id is None
    assert msg.date == dt.datetime(2026, 11, 28, 10, 0, 7, tzinfo=dt.UTC)  # "-0000": aware


def test_an_exim_bounce_reads_the_indented_address_and_smtp_error() -> None:
    msg = sample("exim_failed.eml")
    assert mail.bounces(msg) == [Bounce(
        "nobody@acme.example", "5.1.1", True,
        "host mx.acme.example [192.0.2.10] SMTP error from remote mail server after RCPT "
        "TO:<nobody@acme.example>: 550 5.1.1 <nobody@acme.example>: Recipient address "
        "rejected: User unknown")]
    assert msg.original_ids == ("<abc@tether.example>",)
    assert mail.automatic(msg) is None


def test_an_exim_delay_warning_is_delayed_and_soft() -> None:
    assert mail.bounces(sample("exim_delayed.eml")) == [Bounce(
        "slow@acme.example", "4.7.1", False,
        "host mx.acme.example [192.0.2.10]: 451 4.7.1 Greylisted, please try again later",
        "delayed")]


def test_a_bounce_by_subject_alone_reads_the_failed_recipients_header() -> None:
    raw = message("Sorry, we could not deliver it.", From="relay@isp.example",
                  Subject="Returned mail: see transcript for details",
                  X_Failed_Recipients="Gone@Acme.example")
    assert mail.bounces(mail.parse(raw)) == [
        Bounce("gone@acme.example", "", True, "Sorry, we could not deliver it.")]


def test_wording_decides_hard_or_soft_when_there_is_no_code() -> None:
    def bounce(reason: str) -> Bounce:
        body = f"Delivery has failed.\n\n<pat@acme.example>:\n{reason}\n"
        (found,) = mail.bounces(mail.parse(message(body, Subject="failure notice")))
        return found

    assert bounce("mailbox full, please try again later").hard is False
    assert bounce("the user does not exist; try again with another address").hard is True
    assert bounce("Recipient rejected").hard is True
    assert bounce("something odd happened").hard is True  # no reason stated: taken as gone
    assert bounce("451 temporary local problem").hard is False  # the SMTP code's class
    assert bounce("550 mailbox full").hard is True  # a code, even a basic one, outranks words


def test_a_reply_about_a_bounce_is_not_a_bounce() -> None:
    raw = message("The address bounced, use jo@acme.example instead.",
                  Subject="Re: Undeliverable: Quick question")
    assert mail.bounces(mail.parse(raw)) == []


# -- automatic answers ------------------------------------------------------------------------
def test_auto_submitted_makes_an_out_of_office_automatic() -> None:
    raw = message("I am out of the office until Monday, December 7, with limited access to "
                  "email.", Subject="Quick question", Auto_Submitted="auto-replied",
                  In_Reply_To="<abc@tether.example>")
    msg = mail.parse(raw)
    assert mail.automatic(msg) == "Auto-Submitted: auto-replied"
    assert mail.bounces(msg) == []
    assert msg.refs == ("<abc@tether.example>",)
    assert mail.return_date(msg, TODAY) == dt.date(2026, 12, 7)


def test_auto_submitted_no_is_a_person() -> None:
    assert mail.automatic(mail.parse(message(Auto_Submitted="no"))) is None


def test_an_outlook_automatic_reply_by_its_subject_with_an_html_body() -> None:
    body = ("<html><head><style>p {margin:0}</style></head><body><p>Thank you for your "
            "message.</p><p>I am out of the office, returning on 12/07/2026.</p></body></html>")
    raw = message(body, "html", Subject="Automatic reply: Quick question",
                  X_Auto_Response_Suppress="All",
                  X_MS_Exchange_Inbox_Rules_Loop="dana@acme.example")
    msg = mail.parse(raw)
    assert mail.automatic(msg) == "subject 'Automatic reply: Quick question'"
    assert msg.text == ("Thank you for your message.\n\nI am out of the office, returning on "
                        "12/07/2026.")
    assert mail.return_date(msg, TODAY) == dt.date(2026, 12, 7)  # English: month first


def test_a_german_abwesenheitsnotiz_with_an_encoded_subject() -> None:
    body = "Vielen Dank für Ihre Nachricht. Ich bin bis zum 07.12.2026 nicht im Büro."
    raw = (b"From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@acme.example>\r\n"
           b"To: sales@tether.example\r\n"
           b"Subject: =?iso-8859-1?q?Abwesenheitsnotiz=3A_Angebot_f=FCr_Acme?=\r\n"
           b"Content-Type: text/plain; charset=iso-8859-1\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body.encode("iso-8859-1"))
    msg = mail.parse(raw)
    assert msg.subject == "Abwesenheitsnotiz: Angebot für Acme"
    assert msg.from_name == "Jürgen Müller"
    assert mail.automatic(msg) == "subject 'Abwesenheitsnotiz: Angebot für Acme'"
    assert mail.return_date(msg, TODAY) == dt.date(2026, 12, 7)


def test_a_japanese_auto_answer_subject_in_iso_2022_jp() -> None:
    subject = Header("【自動応答】Re: ご提案について", "iso-2022-jp").encode()
    msg = mail.parse(f"From: taro@acme.example\r\nSubject: {subject}\r\n\r\n不在です\r\n".encode())
    assert msg.subject == "【自動応答】Re: ご提案について"
    assert mail.automatic(msg) == "subject '【自動応答】Re: ご提案について'"


def test_subjects_in_other_languages() -> None:
    for subject in ("Réponse automatique : Devis", "Respuesta automática: Propuesta",
                    "Risposta automatica: Proposta", "Automatisch antwoord: Offerte",
                    "Automatiskt svar: Offert", "Automatyczna odpowiedź: Oferta",
                    "Fuera de la oficina", "AUTO: Dana Buyer is out of the office",
                    "自动回复: 报价", "[Auto-Reply] Quick question", "Absent: Re: Devis",
                    "Fraværende"):
        assert mail.automatic(mail.parse(message(Subject=subject))) == f"subject '{subject}'"


def test_a_persons_reply_mentioning_out_of_office_is_not_automatic() -> None:
    raw = message("Sorry for the slow answer, I was out of office last week.\n"
                  "Automatic reply: no, this is me. Let's talk on Tuesday.",
                  Subject="Re: Out of office next week?", X_Auto_Response_Suppress="All")
    msg = mail.parse(raw)
    assert mail.automatic(msg) is None
    assert mail.bounces(msg) == []


def test_weak_subject_words_need_a_separator_or_outlooks_suppress_header() -> None:
    assert mail.automatic(mail.parse(message(Subject="Absent students list"))) is None
    assert mail.automatic(mail.parse(message(Subject="Abwesend bis 7.12."))) is None
    suppressed = mail.parse(message(Subject="Abwesend bis 7.12.", X_Auto_Response_Suppress="OOF"))
    assert mail.automatic(suppressed) == (
        "subject 'Abwesend bis 7.12.' with X-Auto-Response-Suppress: OOF")
    assert mail.automatic(mail.parse(message(X_Auto_Response_Suppress="All"))) is None


def test_rfc3834_and_common_headers_give_their_reason() -> None:
    assert mail.automatic(mail.parse(message(X_Autoreply="yes"))) == "X-Autoreply: yes"
    assert mail.automatic(mail.parse(message(X_Autorespond="1"))) == "X-Autorespond: 1"
    assert mail.automatic(mail.parse(message(Precedence="auto_reply"))) == "Precedence: auto_reply"
    assert mail.automatic(mail.parse(message(Precedence="Bulk"))) == "Precedence: bulk"
    assert mail.automatic(mail.parse(message(X_Precedence="list"))) == "X-Precedence: list"
    assert mail.automatic(mail.parse(message(Precedence="first-class"))) is None
    assert mail.automatic(mail.parse(message(List_Id="<sales.lists.acme.example>"))) is None


def test_a_long_subject_is_shortened_in_the_reason() -> None:
    subject = "Out of Office: " + "x" * 100
    reason = mail.automatic(mail.parse(message(Subject=subject)))
    assert reason == f"subject '{subject[:79]}…'"


# -- references and parsing -------------------------------------------------------------------
def test_a_reply_refers_to_its_parent_first_then_the_thread_once_each() -> None:
    raw = message(In_Reply_To="<abc@tether.example> (Sam's message of Sat)",
                  References="<root@tether.example>  <mid@tether.example> <abc@tether.example>",
                  Cc="Jo <JO@acme.example>, kim@acme.example", Bcc="crm@Tether.example")
    msg = mail.parse(raw)
    assert msg.in_reply_to == ("<abc@tether.example>",)
    assert msg.references == ("<root@tether.example>", "<mid@tether.example>",
                              "<abc@tether.example>")
    assert msg.refs == ("<abc@tether.example>", "<root@tether.example>", "<mid@tether.example>")
    assert msg.original_ids == ()
    assert (msg.message_id, msg.from_address, msg.from_name) == (
        "<reply-1@acme.example>", "dana@acme.example", "Dana Buyer")
    assert (msg.to, msg.cc) == (("sales@tether.example",), ("jo@acme.example", "kim@acme.example"))
    assert msg.bcc == ("crm@tether.example",)
    assert msg.date == dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
    assert mail.automatic(msg) is None


def test_a_forwarded_attachment_is_not_taken_for_an_original() -> None:
    outer = EmailMessage()
    outer["From"] = "dana@acme.example"
    outer["Subject"] = "Fwd: Quick question"
    outer.set_content("See below.")
    inner = EmailMessage()
    inner["Message-ID"] = "<abc@tether.example>"
    inner.set_content("Hi there")
    outer.add_attachment(inner)
    msg = mail.parse(outer.as_bytes())
    assert msg.original_ids == ()
    assert msg.text == "See below."


def test_garbage_bytes_give_an_empty_reading() -> None:
    msg = mail.parse(bytes(range(256)) * 8)
    assert (msg.message_id, msg.from_address, msg.date, msg.refs) == (None, "", None, ())
    assert mail.automatic(msg) is None
    assert mail.bounces(msg) == []
    assert mail.return_date(msg, TODAY) is None


def test_a_message_without_headers_is_its_body() -> None:
    msg = mail.parse(b"\r\nJust a body, no headers.\r\n")
    assert (msg.message_id, msg.subject, msg.from_address, msg.to, msg.date) == (
        None, "", "", (), None)
    assert msg.text == "Just a body, no headers."
    assert dict(msg.headers) == {}
    assert mail.automatic(msg) is None


def test_an_unknown_charset_falls_back_to_utf8_then_latin1() -> None:
    head = b"From: a@acme.example\r\nContent-Type: text/plain; charset=x-no-such-charset\r\n\r\n"
    assert mail.parse(head + "Grüße".encode()).text == "Grüße"
    assert mail.parse(head + "Grüße".encode("latin-1")).text == "Grüße"
    lying = b"Content-Type: text/plain; charset=utf-8\r\n\r\nGr\xfc\xdfe"
    assert mail.parse(lying).text == "Grüße"
    broken_subject = mail.parse(b"Subject: =?x-unknown?q?Hi_there?=\r\n\r\n")
    assert "Hi" in broken_subject.subject


def test_a_multipart_without_its_boundary_is_read_as_text() -> None:
    raw = b"Content-Type: multipart/mixed; boundary=never\r\n\r\nHello in the wrong place\r\n"
    assert mail.parse(raw).text == "Hello in the wrong place"


def test_an_unparsable_date_is_none_and_a_long_body_is_cut() -> None:
    msg = mail.parse(message("x" * 30_000).replace(
        b"Date: Sat, 28 Nov 2026 11:00:00 +0100", b"Date: the day after tomorrow"))
    assert msg.date is None
    assert len(msg.text) == mail.TEXT_LIMIT


def test_nul_bytes_and_undecodable_headers_come_out_as_valid_text() -> None:
    msg = mail.parse(b"Subject: caf\xe9 \x00bar\r\nFrom: J\xf6 <jo@acme.example>\r\n\r\nhi\x00")
    assert "\x00" not in msg.subject + msg.text
    msg.subject.encode()
    msg.from_name.encode()
    assert msg.from_address == "jo@acme.example"


# -- never raises -----------------------------------------------------------------------------
def _classify_all(msg: Parsed) -> None:
    mail.automatic(msg)
    mail.bounces(msg)
    mail.return_date(msg, TODAY)
    for text in (msg.subject, msg.text, msg.from_name, msg.from_address, *msg.to, *msg.refs):
        text.encode("utf-8")  # no lone surrogates left for the database to refuse


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_parse_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    _classify_all(mail.parse(raw))


NAMES = ["From", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
         "Content-Type", "Content-Transfer-Encoding", "Auto-Submitted", "Precedence",
         "X-Failed-Recipients", "Content-Disposition"]
values = st.one_of(st.binary(max_size=200).map(lambda b: b.replace(b"\n", b" ")),
                   st.text(max_size=200).map(lambda s: s.replace("\n", " ").encode()))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(NAMES), values), max_size=8),
       st.binary(max_size=300))
def test_parse_never_raises_on_arbitrary_header_values(
        headers: list[tuple[str, bytes]], body: bytes) -> None:
    raw = b"".join(n.encode() + b": " + v + b"\r\n" for n, v in headers) + b"\r\n" + body
    _classify_all(mail.parse(raw))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_a_report_with_arbitrary_status_fields_never_raises(fields: str) -> None:
    _classify_all(mail.parse(_report(groups=fields)))


# -- return dates -----------------------------------------------------------------------------
def test_return_dates_in_english() -> None:
    cases = {
        "I will be back on Monday, December 7.": dt.date(2026, 12, 7),
        "I am returning on 12/07/2026.": dt.date(2026, 12, 7),
        "Back on 7 December, thanks.": dt.date(2026, 12, 7),
        "I am away until 2026-12-07.": dt.date(2026, 12, 7),
        "I am out of the office until Dec 7th.": dt.date(2026, 12, 7),
        "I'm travelling and back on the 3rd of January 2027.": dt.date(2027, 1, 3),
        "I'm back on Monday.": dt.date(2026, 11, 30),  # the next Monday after a Saturday
        "Out of the office today, back tomorrow.": None,
        "Thanks for your email.": None,
    }
    assert {text: mail.return_date(ooo(text), TODAY) for text in cases} == cases


def test_return_dates_in_german_french_and_spanish() -> None:
    cases = {
        "Ich bin bis zum 07.12.2026 nicht im Büro.": dt.date(2026, 12, 7),
        "Ab dem 7. Dezember bin ich wieder erreichbar.": dt.date(2026, 12, 7),
        "Je suis absent, de retour le 7 décembre.": dt.date(2026, 12, 7),
        "Je serai absente jusqu\u2019au 1er février.": dt.date(2027, 2, 1),  # typographic '

        "De retour le 12/07/2027.": dt.date(2027, 7, 12),  # not English: day first
        "Estoy fuera de la oficina hasta el 7 de diciembre.": dt.date(2026, 12, 7),
        "Regreso el 15 de enero de 2027.": dt.date(2027, 1, 15),
    }
    assert {text: mail.return_date(ooo(text), TODAY) for text in cases} == cases


def test_a_date_without_a_year_is_the_next_one_on_or_after_today() -> None:
    late = dt.date(2026, 12, 20)
    assert mail.return_date(ooo("Back on January 5."), late) == dt.date(2027, 1, 5)
    assert mail.return_date(ooo("Back on 15 December."), late) == dt.date(2027, 12, 15)
    assert mail.return_date(ooo("Back on 20 December."), late) == dt.date(2026, 12, 20)
    assert mail.return_date(ooo("Back on February 29."), late) == dt.date(2028, 2, 29)


def test_a_past_or_far_year_is_no_return_date() -> None:
    assert mail.return_date(ooo("I was back on December 7, 2025."), TODAY) is None
    assert mail.return_date(ooo("Back on 1 January 2031."), TODAY) is None


def test_the_latest_date_near_a_return_word_wins() -> None:
    text = ("I am away from November 30 to December 4 and back in the office on Tuesday, "
            "December 8. For urgent matters before December 2, call Jo.")
    assert mail.return_date(ooo(text), TODAY) == dt.date(2026, 12, 8)
    assert mail.return_date(ooo("On leave, 30 November - 4 December."), TODAY) == dt.date(
        2026, 12, 4)  # no return word: the latest date stated


def test_the_quoted_original_and_numbers_that_are_not_dates_are_ignored() -> None:
    quoted = ("I am out of the office with no access to email.\n\n"
              "On Sat, Nov 28, 2026 at 10:00 Sam Seller <sales@tether.example> wrote:\n"
              "> Could we meet on December 15?\n")
    assert mail.return_date(ooo(quoted), TODAY) is None
    assert mail.return_date(ooo("Our support desk is available 24/7."), TODAY) is None
    assert mail.return_date(ooo("Back 12/7, see you then."), TODAY) == dt.date(2026, 12, 7)


def test_the_subject_can_carry_the_return_date() -> None:
    msg = ooo("", subject="AUTO: Dana Buyer is out of the office (returning 12/07/2026)")
    assert mail.return_date(msg, TODAY) == dt.date(2026, 12, 7)
    meeting = ooo("Thanks for your note.", subject="Automatic reply: Meeting on December 15")
    assert mail.return_date(meeting, TODAY) is None  # the original's subject, not a return

"""SMTP and IMAP adapters against a real local mail server: login checks and how each failure
is told apart, deliveries and their outcomes under injected faults, append and search.
IMAP runs on Dovecot (skipped when it is not installed) and on pymap."""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import replace

import pytest
from imapclient import IMAPClient

from tests.mail_fixtures import MakeLocalMail
from tether.mail import MailCheckError, imap, mime, smtp
from tether.mail.local_server import LocalMailServer

REP, PASSWORD = "rep@acme.example", "s3cret-Pass"
ANN = "ann@globex.example"


@pytest.fixture(params=["dovecot", "pymap"])
def mail(request: pytest.FixtureRequest, make_local_mail: MakeLocalMail) -> LocalMailServer:
    server = make_local_mail(request.param)
    server.add_user(REP, PASSWORD, saves_sent=True)
    return server


@pytest.fixture
def tls_mail(request: pytest.FixtureRequest, make_local_mail: MakeLocalMail) -> LocalMailServer:
    server = make_local_mail("auto", tls=True)
    server.add_user(REP, PASSWORD)
    return server


def smtp_server(mail: LocalMailServer, **change: object) -> smtp.Server:
    server = smtp.Server(host="127.0.0.1", port=mail.smtp_port,
                         security="starttls" if mail.tls else "none", username=REP,
                         secret=PASSWORD, timeout=5, ca_file=mail.ca_file)
    return replace(server, **change)  # type: ignore[arg-type]


def imap_server(mail: LocalMailServer, **change: object) -> imap.Server:
    server = imap.Server(host="127.0.0.1", port=mail.imap_port,
                         security="starttls" if mail.tls else "none", username=REP,
                         secret=PASSWORD, timeout=5, ca_file=mail.ca_file)
    return replace(server, **change)  # type: ignore[arg-type]


def message(n: int = 1) -> tuple[str, bytes]:
    message_id = f"<t{n}.{id(message)}@acme.example>"
    out = mime.Outgoing(message_id=message_id, from_address=REP, from_name="Rep", to=[ANN],
                        cc=[], subject=f"Hello {n}", html=f"<p>Message {n}</p>")
    return message_id, mime.to_bytes(mime.build(out))


def ids(mail: LocalMailServer, address: str, folder: str = "INBOX") -> list[str | None]:
    return [mime.header_message_id(m) for m in mail.messages(address, folder)]


def deliver(server: smtp.Server, *raws: bytes, to: str = ANN) -> list[smtp.Outcome]:
    async def run() -> list[smtp.Outcome]:
        async with smtp.Session(server) as session:
            return [await session.deliver(REP, to, raw) for raw in raws]
    return asyncio.run(run())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- login checks ----------------------------------------------------------------------------

def test_check_login_ok(mail: LocalMailServer) -> None:
    asyncio.run(smtp.check_login(smtp_server(mail)))
    imap.check_login(imap_server(mail), "Sent")
    asyncio.run(imap.acheck_login(imap_server(mail), "Sent"))


def test_xoauth2_login(mail: LocalMailServer) -> None:
    asyncio.run(smtp.check_login(smtp_server(mail, auth="xoauth2")))
    imap.check_login(imap_server(mail, auth="xoauth2"), "Sent")
    with pytest.raises(MailCheckError) as smtp_error:
        asyncio.run(smtp.check_login(smtp_server(mail, auth="xoauth2", secret="expired")))
    assert smtp_error.value.stage == "authentication"
    with pytest.raises(MailCheckError) as imap_error:
        imap.check_login(imap_server(mail, auth="xoauth2", secret="expired"), "Sent")
    assert imap_error.value.stage == "authentication"


def test_wrong_password_is_authentication(mail: LocalMailServer) -> None:
    with pytest.raises(MailCheckError) as smtp_error:
        asyncio.run(smtp.check_login(smtp_server(mail, secret="wrong")))
    assert (smtp_error.value.service, smtp_error.value.stage) == ("SMTP", "authentication")
    assert str(smtp_error.value) == ("SMTP authentication failed: 535 5.7.8 Authentication "
                                     "credentials invalid")
    with pytest.raises(MailCheckError) as imap_error:
        imap.check_login(imap_server(mail, secret="wrong"), "Sent")
    assert (imap_error.value.service, imap_error.value.stage) == ("IMAP", "authentication")
    assert "b'" not in str(imap_error.value)


def test_missing_sent_folder(mail: LocalMailServer) -> None:
    with pytest.raises(MailCheckError) as error:
        imap.check_login(imap_server(mail), "[Gmail]/Sent Mail")
    assert error.value.stage == "folder"
    assert '"[Gmail]/Sent Mail"' in error.value.detail
    assert '"INBOX"' in error.value.detail and '"Sent"' in error.value.detail


def test_unknown_host_is_name_resolution() -> None:
    for check in (lambda s: asyncio.run(smtp.check_login(smtp.Server(**vars(s)))),
                  lambda s: imap.check_login(imap.Server(**vars(s)), "Sent")):
        with pytest.raises(MailCheckError) as error:
            check(smtp.Server("no-such-host.invalid", 587, "starttls", REP, PASSWORD, timeout=5))
        assert error.value.stage == "name resolution"
        assert "no-such-host.invalid" in error.value.detail


def test_nothing_listening_is_connection() -> None:
    port = free_port()
    with pytest.raises(MailCheckError) as smtp_error:
        asyncio.run(smtp.check_login(smtp.Server("127.0.0.1", port, "none", REP, PASSWORD)))
    assert smtp_error.value.stage == "connection"
    assert f"127.0.0.1:{port}" in str(smtp_error.value)
    with pytest.raises(MailCheckError) as imap_error:
        imap.check_login(imap.Server("127.0.0.1", port, "none", REP, PASSWORD), "Sent")
    assert imap_error.value.stage == "connection"


def test_tls_against_a_plain_server_is_tls(mail: LocalMailServer) -> None:
    with pytest.raises(MailCheckError) as smtp_error:
        asyncio.run(smtp.check_login(smtp_server(mail, security="tls")))
    assert smtp_error.value.stage == "TLS"
    with pytest.raises(MailCheckError) as starttls_error:
        asyncio.run(smtp.check_login(smtp_server(mail, security="starttls")))
    assert starttls_error.value.stage == "TLS"
    assert "STARTTLS" in starttls_error.value.detail
    for security in ("tls", "starttls"):
        with pytest.raises(MailCheckError) as imap_error:
            imap.check_login(imap_server(mail, security=security), "Sent")
        assert imap_error.value.stage == "TLS"


def test_starttls_verified_with_ca_file(tls_mail: LocalMailServer) -> None:
    assert tls_mail.ca_file is not None
    asyncio.run(smtp.check_login(smtp_server(tls_mail)))
    imap.check_login(imap_server(tls_mail), "Sent")
    _, raw = message()
    assert deliver(smtp_server(tls_mail), raw)[0].status == "accepted"


def test_untrusted_certificate_is_tls(tls_mail: LocalMailServer) -> None:
    with pytest.raises(MailCheckError) as smtp_error:
        asyncio.run(smtp.check_login(smtp_server(tls_mail, ca_file=None)))
    assert smtp_error.value.stage == "TLS"
    assert "not trusted" in smtp_error.value.detail
    with pytest.raises(MailCheckError) as imap_error:
        imap.check_login(imap_server(tls_mail, ca_file=None), "Sent")
    assert imap_error.value.stage == "TLS"


# -- deliveries ------------------------------------------------------------------------------

def test_deliveries_on_one_connection(local_mail: LocalMailServer) -> None:
    local_mail.add_user(REP, PASSWORD)
    (id1, raw1), (id2, raw2) = message(1), message(2)
    outcomes = deliver(smtp_server(local_mail), raw1, raw2)
    assert [o.status for o in outcomes] == ["accepted", "accepted"]
    assert outcomes[0].reply.startswith("250")
    assert ids(local_mail, ANN) == [id1, id2]
    assert ids(local_mail, REP, "Sent") == []  # this user's server keeps no Sent copies


def test_refused_recipient(local_mail: LocalMailServer) -> None:
    local_mail.add_user(REP, PASSWORD)
    local_mail.faults.refuse[ANN] = "550 5.1.1 <ann@globex.example>: Recipient address rejected"
    (_, raw), (id2, raw2) = message(1), message(2)
    outcome = deliver(smtp_server(local_mail), raw)[0]
    assert outcome == smtp.Outcome(
        "refused", "550 5.1.1 <ann@globex.example>: Recipient address rejected")
    assert ids(local_mail, ANN) == []
    # The connection stays usable for the next recipient.
    async def two() -> list[smtp.Outcome]:
        async with smtp.Session(smtp_server(local_mail)) as session:
            return [await session.deliver(REP, ANN, raw),
                    await session.deliver(REP, "bob@globex.example", raw2)]
    assert [o.status for o in asyncio.run(two())] == ["refused", "accepted"]
    assert ids(local_mail, "bob@globex.example") == [id2]


def test_temporary_failure_at_mail_is_transient(local_mail: LocalMailServer) -> None:
    local_mail.add_user(REP, PASSWORD)
    local_mail.faults.temp_fail_rate = 1.0
    (_, raw), (id2, raw2) = message(1), message(2)
    server = smtp_server(local_mail)

    async def run() -> list[smtp.Outcome]:
        async with smtp.Session(server) as session:
            first = await session.deliver(REP, ANN, raw)
            local_mail.faults.temp_fail_rate = 0.0
            return [first, await session.deliver(REP, ANN, raw2)]  # reconnects

    first, second = asyncio.run(run())
    assert first.status == "transient" and first.reply.startswith("421 4.3.2")
    assert second.status == "accepted"
    assert ids(local_mail, ANN) == [id2]
    assert local_mail.faults.counts["temp_fail"] == 1


def test_temporary_failure_after_data_is_transient(local_mail: LocalMailServer) -> None:
    local_mail.add_user(REP, PASSWORD)
    local_mail.faults.data_fail_rate = 1.0
    _, raw = message()
    outcome = deliver(smtp_server(local_mail), raw)[0]
    assert outcome.status == "transient" and outcome.reply.startswith("451")
    assert ids(local_mail, ANN) == []


def test_drop_after_data_is_unknown_and_delivered(mail: LocalMailServer) -> None:
    mail.faults.drop_after_data_rate = 1.0
    message_id, raw = message()
    outcome = deliver(smtp_server(mail), raw)[0]
    assert outcome == smtp.Outcome("unknown", "connection dropped after the message was sent")
    assert ids(mail, ANN) == [message_id]
    assert ids(mail, REP, "Sent") == [message_id]
    # What a sender does next: look in Sent over IMAP to settle it.
    assert imap.find_message_ids(imap_server(mail), "Sent", [message_id]) == {message_id}


def test_no_reply_within_the_timeout_is_unknown(local_mail: LocalMailServer) -> None:
    local_mail.add_user(REP, PASSWORD)
    local_mail.faults.delay_seconds = 2.0
    _, raw = message()
    outcome = deliver(smtp_server(local_mail, timeout=0.5), raw)[0]
    assert outcome.status == "unknown"
    assert "no reply within 0.5 s" in outcome.reply


def test_connection_failure_before_data_is_transient() -> None:
    _, raw = message()
    outcome = deliver(smtp.Server("127.0.0.1", free_port(), "none", REP, PASSWORD), raw)[0]
    assert outcome.status == "transient"
    assert outcome.reply.startswith("SMTP connection failed")


def test_login_refused_at_delivery_is_refused(local_mail: LocalMailServer) -> None:
    local_mail.add_user(REP, PASSWORD)
    _, raw = message()
    outcome = deliver(smtp_server(local_mail, secret="wrong"), raw)[0]
    assert outcome.status == "refused"
    assert outcome.reply.startswith("SMTP authentication failed: 535")
    assert ids(local_mail, ANN) == []


# -- IMAP append and search ------------------------------------------------------------------

def test_append_and_find_message_ids(mail: LocalMailServer) -> None:
    message_id, raw = message()
    imap.append(imap_server(mail), "Sent", raw)
    assert ids(mail, REP, "Sent") == [message_id]
    bare = message_id.strip("<>")
    found = imap.find_message_ids(imap_server(mail), "Sent",
                                  [message_id, bare, "<missing@acme.example>"])
    assert found == {message_id, bare}
    assert imap.find_message_ids(imap_server(mail), "INBOX", [message_id]) == set()
    # A prefix of an id that is there is not that id.
    assert imap.find_message_ids(imap_server(mail), "Sent", [message_id[:-5] + ">"]) == set()


def test_async_append_and_find(mail: LocalMailServer) -> None:
    message_id, raw = message()

    async def run() -> set[str]:
        await imap.aappend(imap_server(mail), "Sent", raw, seen=False)
        return await imap.afind_message_ids(imap_server(mail), "Sent", [message_id])

    assert asyncio.run(run()) == {message_id}


def test_imap_restarts_on_the_same_port(mail: LocalMailServer) -> None:
    message_id, raw = message()
    imap.append(imap_server(mail), "Sent", raw)
    port = mail.imap_port
    mail.stop_imap()
    with pytest.raises(MailCheckError) as error:
        imap.check_login(imap_server(mail), "Sent")
    assert error.value.stage == "connection"
    mail.start_imap()
    assert mail.imap_port == port
    assert imap.find_message_ids(imap_server(mail), "Sent", [message_id]) == {message_id}


def test_idle_sees_a_delivery(mail: LocalMailServer) -> None:
    mail.add_user(ANN, "ann-pass")
    client = IMAPClient("127.0.0.1", port=mail.imap_port, ssl=False, timeout=10)
    try:
        client.login(ANN, "ann-pass")
        client.select_folder("INBOX")
        client.idle()
        message_id, raw = message()
        assert deliver(smtp_server(mail), raw)[0].status == "accepted"
        deadline = time.monotonic() + 10
        responses: list[tuple[object, ...]] = []
        while time.monotonic() < deadline and not any(r[1:2] == (b"EXISTS",)
                                                      for r in responses):
            responses += client.idle_check(timeout=1)
        assert (1, b"EXISTS") in [r[:2] for r in responses], (responses, mail.imap_log())
        client.idle_done()
        uids = client.search(["HEADER", "Message-ID", message_id])
        fetched = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"])
        # pymap serves Maildir messages with bare LF line ends (Dovecot with CRLF).
        assert [d[b"BODY[HEADER.FIELDS (SUBJECT)]"].replace(b"\r\n", b"\n")
                for d in fetched.values()] == [b"Subject: Hello 1\n\n"]
    finally:
        client.logout()

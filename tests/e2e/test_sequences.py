"""Sequences end to end (SQLite and PostgreSQL): Tether's worker runs the stages against the
local mail server, the watcher sees replies and bounces in the real IMAP server, and sfemu
shows what Salesforce would."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest

from tests.e2e.activity_env import make_env
from tests.e2e.conftest import Tether
from tests.e2e.mail_env import Mail, connect_mailbox
from tests.e2e.seq_env import (
    add,
    api,
    email,
    people,
    received,
    recipients,
    sequence,
    states,
    task,
    until,
)
from tests.e2e.test_watch_mail import deliver, dsn, reply, tasks, watching
from tether.mail.local_server import LocalMailServer


@pytest.fixture
def mail(watch_tether: Tether, local_mail: LocalMailServer) -> Mail:
    """A connected workspace whose admin's mailbox is on the local mail server."""
    return connect_mailbox(make_env(watch_tether), local_mail)


def test_three_stages_for_twenty_of_whom_five_reply(mail: Mail) -> None:
    watching(mail)
    everyone = people(mail, 20)
    seq = sequence(mail, "Q4 Outreach", [
        email("Hello {{First Name}}"),
        task("call", "Call about the intro", notes="Ask about Q1", delay={"days": 1}),
        email(None, "<p>Following up, {{First Name}}.</p>")])
    assert add(mail, seq["id"], everyone)["added"] == 20
    api(mail, "POST", f"/api/v1/sequences/{seq['id']}/activate")
    firsts = until(lambda: {a: m[0] for a in everyone if (m := received(mail, a))}
                   if all(received(mail, a) for a in everyone) else None,
                   what="the first email in every inbox")
    assert firsts[everyone[3]]["Subject"] == "Hello First3"
    repliers = everyone[:5]
    for a in repliers:
        deliver(mail, reply(firsts[a], a))
    until(lambda: all(s == "stopped" for a, s in states(mail, seq["id"]).items()
                      if a in repliers), what="the five who replied stopped",
          said=lambda: recipients(mail, seq["id"]))
    # The call stage is a day off: brought forward by hand for everyone (those who
    # replied have left; they cannot be).
    for a in everyone:
        r = mail.request("PATCH", f"/api/v1/sequences/{seq['id']}/recipients/{a}",
                         json={"next_at": "2026-01-01T00:00:00Z"})
        assert r.status_code == (409 if a in repliers else 200), r.text
    calls = until(lambda: (found := [t for t in api(mail, "GET", "/api/v1/tasks?status=open")
                                     ["items"] if t["kind"] == "call"])
                  and len(found) >= 15 and found, what="15 call tasks")
    assert sorted(t["who"] for t in calls) == sorted(everyone[5:])
    for t in calls:
        api(mail, "PATCH", f"/api/v1/tasks/{t['id']}", json={
            "status": "completed", "call": {"duration_s": 95, "disposition": "Connected",
                                            "notes": "Interested"}})
    until(lambda: Counter(states(mail, seq["id"]).values()) == {"finished": 15, "stopped": 5},
          what="15 finished and 5 stopped", said=lambda: recipients(mail, seq["id"]))
    for a in everyone[5:]:
        got = until(lambda a=a: len(received(mail, a)) == 2 and received(mail, a),
                    what=f"the third stage in {a}'s inbox")
        assert got[1]["Subject"] == f"Re: Hello {got[0]['Subject'].split()[-1]}"
        assert got[1]["In-Reply-To"] == got[0]["Message-ID"]
    for a in repliers:
        assert len(received(mail, a)) == 1, f"{a} replied and still got more"
        assert recipients(mail, seq["id"])[a]["stopped_reason"] == "replied"
    sent1 = until(lambda: len(found := tasks(mail.env, "Sent [Q4 Outreach (#1)]: ")) == 20
                  and found, what="20 stage-1 Sent Tasks in Salesforce")
    assert {t["Subject"] for t in sent1} == {f"Sent [Q4 Outreach (#1)]: Hello First{i}"
                                              for i in range(20)}
    # The third stage answers in the first one's thread: the guide's "Reply [… (#3)]".
    third = until(lambda: len(found := tasks(mail.env, "Reply [Q4 Outreach (#3)]: ")) == 15
                  and found, what="15 stage-3 Reply Tasks")
    assert {t["Subject"] for t in third} == {f"Reply [Q4 Outreach (#3)]: Re: Hello First{i}"
                                              for i in range(5, 20)}
    until(lambda: len(tasks(mail.env, "Replied [Q4 Outreach (#1)]: ")) == 5,
          what="5 Replied Tasks in the sequence form")
    logged = until(lambda: len(found := mail.env.soql(
        "SELECT Subject, Status, CallDurationInSeconds, TaskSubtype FROM Task "
        "WHERE TaskSubtype = 'Call'")) == 15 and all(
        f["Status"] == "Completed" for f in found) and found, what="15 completed call Tasks")
    assert {f["Subject"] for f in logged} == {"Call about the intro"}
    counts = api(mail, "GET", f"/api/v1/sequences/{seq['id']}")["counts"]
    assert counts["replied"] == 5 and counts["finished"] == 15
    assert [s["sent"] for s in counts["stages"]] == [20, 0, 15]
    assert counts["stages"][1]["tasks"] == 15 and counts["stages"][0]["replied"] == 5


def test_a_bounce_and_an_unsubscribe_stop_their_recipients(mail: Mail) -> None:
    watching(mail)
    mail.env.api("PATCH", "/api/v1/workspace", json={"unsubscribe_links": True})
    bouncer, leaver, stayer = people(mail, 3, "b")
    seq = sequence(mail, "Nurture", [email("News"), email("More news", delay={"days": 2})])
    add(mail, seq["id"], [bouncer, leaver, stayer])
    api(mail, "POST", f"/api/v1/sequences/{seq['id']}/activate")
    until(lambda: all(received(mail, a) for a in (bouncer, leaver, stayer)),
          what="the first stage delivered")
    deliver(mail, dsn(received(mail, bouncer)[0], bouncer))
    target = str(received(mail, leaver)[0]["List-Unsubscribe"]).strip("<>")
    assert httpx.post(target, content=b"List-Unsubscribe=One-Click", headers={
        "Content-Type": "application/x-www-form-urlencoded"}).status_code == 200
    got = until(lambda: (r := recipients(mail, seq["id"]))[bouncer]["state"] == "stopped"
                and r[leaver]["state"] == "stopped" and r, what="both stopped")
    assert got[bouncer]["stopped_reason"] == "bounced"
    assert got[leaver]["stopped_reason"] == "unsubscribed"
    assert got[stayer]["state"] == "active" and got[stayer]["stage"] == 2
    # Their second stage was two days off: brought forward by hand for everyone left.
    for a in (bouncer, leaver, stayer):
        r = mail.request("PATCH", f"/api/v1/sequences/{seq['id']}/recipients/{a}",
                         json={"next_at": "2026-01-01T00:00:00Z"})
        assert r.status_code == (200 if a == stayer else 409), r.text
    until(lambda: len(received(mail, stayer)) == 2, what="the stayer's second stage")
    assert len(received(mail, bouncer)) == 1 and len(received(mail, leaver)) == 1


def test_a_csv_missing_a_required_column_is_refused_and_records_are_created(
        mail: Mail) -> None:
    seq = sequence(mail, "Webinar", [email("Thanks for coming, {{First Name}}")],
                   create_records="Lead")
    path = f"/api/v1/sequences/{seq['id']}/recipients"
    r = mail.request("POST", path, content=b"Email,First Name\nann@new.example,Ann\n",
                     headers={"Content-Type": "text/csv"})
    assert r.status_code == 422, r.text
    assert "no Last Name column" in r.json()["detail"] and "Lead" in r.json()["detail"]
    r = mail.request("POST", path, content=(
        b"Email,First Name,Last Name,Company\nann@new.example,Ann,Ames,Newco\n"
        b"bo@new.example,Bo,,Newco\nnot-an-address,Cy,Cole,Newco\n"),
        headers={"Content-Type": "text/csv"})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "row 4, column Email: 'not-an-address' is not an email address" in detail
    r = mail.request("POST", path, content=(
        b"Email,First Name,Last Name,Company\nann@new.example,Ann,Ames,Newco\n"
        b"bo@new.example,Bo,,Newco\n"), headers={"Content-Type": "text/csv"})
    assert r.status_code == 422 and "row 3 (bo@new.example): Last Name is empty" in \
        r.json()["detail"], r.text
    assert not mail.env.soql("SELECT Id FROM Lead WHERE Email = 'ann@new.example'")
    r = mail.request("POST", path, content=(
        b"Email,First Name,Last Name,Company\nann@new.example,Ann,Ames,Newco\n"
        b"jane@globex.example,Jane,,\n"), headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.json()["added"] == 2 and list(r.json()["created"]) == ["ann@new.example"]
    [lead] = mail.env.soql("SELECT Id, LastName, Company, FirstName FROM Lead "
                           "WHERE Email = 'ann@new.example'")
    assert (lead["LastName"], lead["Company"], lead["FirstName"]) == ("Ames", "Newco", "Ann")
    api(mail, "POST", f"/api/v1/sequences/{seq['id']}/activate")
    got = until(lambda: received(mail, "ann@new.example"), what="Ann's email")
    assert got[0]["Subject"] == "Thanks for coming, Ann"
    until(lambda: tasks(mail.env, "Sent [Webinar (#1)]: Thanks for coming, Ann"),
          what="the Sent Task on the new Lead")

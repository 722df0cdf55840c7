"""The real-time package: one post per transaction, token header, retries until delivered."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import Sfemu


class Receiver:
    """A webhook that records what it receives and can be told to fail for a while."""

    def __init__(self, port: int = 0) -> None:
        self.posts: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.fail_next = 0
        self.failures = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    if receiver.fail_next > 0:
                        receiver.fail_next -= 1
                        receiver.failures += 1
                        self.send_response(503)
                        self.end_headers()
                        return
                    receiver.posts.append((dict(self.headers), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/salesforce/w1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.posts) >= count:
                    return [body for _, body in self.posts]
            time.sleep(0.05)
        raise AssertionError(f"expected {count} posts, got {len(self.posts)}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def _records(body: dict[str, Any], obj: str, op: str) -> list[dict[str, Any]]:
    return [r for c in body["changes"] if c["object"] == obj and c["operation"] == op
            for r in c["records"]]


def test_each_operation_is_posted_with_the_token(sfemu: Sfemu, receiver: Receiver) -> None:
    org = sfemu.new_org()
    assert sfemu.admin("POST", f"/orgs/{org['name']}/package",
                       json={"webhook_url": receiver.url, "token": "s3cret"}).status_code == 200
    token = sfemu.token(org["admin"])
    with sfemu.client(headers={"Authorization": f"Bearer {token}"}) as c:
        rid = c.post("/services/data/v59.0/sobjects/Lead",
                     json={"LastName": "Lovelace", "Company": "Engines"}).json()["id"]
        c.patch(f"/services/data/v59.0/sobjects/Lead/{rid}", json={"Title": "CTO"})
        c.delete(f"/services/data/v59.0/sobjects/Lead/{rid}")
    sfemu.admin("POST", f"/orgs/{org['name']}/records/Lead/{rid}/undelete")
    bodies = receiver.wait_for(4)
    headers = [h for h, _ in receiver.posts]
    assert all(h["X-Tether-Token"] == "s3cret" for h in headers)
    ops = [(c["object"], c["operation"]) for b in bodies for c in b["changes"]]
    assert ops == [("Lead", "insert"), ("Lead", "update"), ("Lead", "delete"),
                   ("Lead", "undelete")]
    updated = _records(bodies[1], "Lead", "update")[0]
    assert updated["Id"] == rid and updated["Title"] == "CTO"
    assert updated["Company"] == "Engines"  # all fields, not just the changed one
    assert bodies[0]["org_id"] == org["id"] and bodies[0]["schema"] == "tether.realtime.v1"
    stamps = [_records(b, "Lead", op)[0]["SystemModstamp"]
              for b, op in zip(bodies, ["insert", "update", "delete", "undelete"], strict=True)]
    assert stamps == sorted(stamps) and len(set(stamps)) == 4


def test_a_collection_of_200_is_one_post(sfemu: Sfemu, receiver: Receiver) -> None:
    org = sfemu.new_org()
    sfemu.admin("POST", f"/orgs/{org['name']}/package",
                json={"webhook_url": receiver.url, "token": "t"})
    token = sfemu.token(org["admin"])
    records = [{"attributes": {"type": "Contact"}, "LastName": f"C{i}",
                "Email": f"c{i}@x.example"} for i in range(200)]
    with sfemu.client(headers={"Authorization": f"Bearer {token}"}) as c:
        r = c.post("/services/data/v59.0/composite/sobjects",
                   json={"allOrNone": False, "records": records})
        assert all(x["success"] for x in r.json())
    (body,) = receiver.wait_for(1)
    time.sleep(0.5)
    assert len(receiver.posts) == 1
    assert len(_records(body, "Contact", "insert")) == 200


def test_rolled_back_work_is_never_posted(sfemu: Sfemu, receiver: Receiver) -> None:
    org = sfemu.new_org()
    sfemu.admin("POST", f"/orgs/{org['name']}/package",
                json={"webhook_url": receiver.url, "token": "t"})
    token = sfemu.token(org["admin"])
    records = [{"attributes": {"type": "Contact"}, "LastName": "Ok"},
               {"attributes": {"type": "Contact"}, "Email": "missing-last-name@x.example"}]
    with sfemu.client(headers={"Authorization": f"Bearer {token}"}) as c:
        c.post("/services/data/v59.0/composite/sobjects",
               json={"allOrNone": True, "records": records})
        c.post("/services/data/v59.0/sobjects/Account", json={"Name": "After"})
    (body,) = receiver.wait_for(1)
    time.sleep(0.5)
    assert len(receiver.posts) == 1
    assert [c["object"] for c in body["changes"]] == ["Account"]


def test_failing_receiver_gets_everything_once_it_recovers(sfemu: Sfemu,
                                                           receiver: Receiver) -> None:
    org = sfemu.new_org()
    receiver.fail_next = 3
    sfemu.admin("POST", f"/orgs/{org['name']}/package",
                json={"webhook_url": receiver.url, "token": "t"})
    token = sfemu.token(org["admin"])
    with sfemu.client(headers={"Authorization": f"Bearer {token}"}) as c:
        ids = [c.post("/services/data/v59.0/sobjects/Account",
                      json={"Name": f"A{i}"}).json()["id"] for i in range(5)]
    bodies = receiver.wait_for(5, timeout=30)
    assert receiver.failures == 3
    delivered = {r["Id"] for b in bodies for r in _records(b, "Account", "insert")}
    assert delivered == set(ids)
    status = sfemu.admin("GET", f"/orgs/{org['name']}/package").json()
    assert status["pending"] == 0 and status["delivered"] == 5


def test_receiver_down_then_up(sfemu: Sfemu) -> None:
    """Nothing listens at the webhook at first: deliveries wait, then arrive once it is up."""
    org = sfemu.new_org()
    first = Receiver()
    port, url = first.server.server_address[1], first.url
    first.server.shutdown()
    first.server.server_close()
    sfemu.admin("POST", f"/orgs/{org['name']}/package", json={"webhook_url": url, "token": "t"})
    token = sfemu.token(org["admin"])
    with sfemu.client(headers={"Authorization": f"Bearer {token}"}) as c:
        rid = c.post("/services/data/v59.0/sobjects/Account", json={"Name": "Late"}).json()["id"]
    time.sleep(1.0)
    status = sfemu.admin("GET", f"/orgs/{org['name']}/package").json()
    assert status["pending"] == 1 and status["attempts"] >= 1
    revived = Receiver(port)
    try:
        (body,) = revived.wait_for(1, timeout=30)
        assert _records(body, "Account", "insert")[0]["Id"] == rid
    finally:
        revived.server.shutdown()

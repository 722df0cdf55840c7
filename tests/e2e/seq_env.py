"""Helpers for the sequence tests: people in sfemu, a sequence through the API, waiting on
recipients' states, and replying to what a recipient received."""

from __future__ import annotations

import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any, TypeVar

from tests.e2e.mail_env import Mail

T = TypeVar("T")


def until(probe: Callable[[], T | None], timeout: float = 60.0, what: str = "",
          said: Callable[[], Any] | None = None) -> T:
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        assert time.monotonic() < deadline, f"not within {timeout:g} s: {what}" + (
            f"; {said()}" if said is not None else "")
        time.sleep(0.2)


def people(mail: Mail, n: int, prefix: str = "p") -> list[str]:
    """n Contacts at their own domains (so no one is another's colleague), mirrored."""
    env = mail.env
    addresses = []
    for i in range(n):
        address = f"{prefix}{i}@co{i}.example"
        env.create("Contact", LastName=f"Person{i}", FirstName=f"First{i}", Email=address,
                   AccountId=env.records["account"])
        addresses.append(address)
    env.sync("audit")
    return addresses


def api(mail: Mail, method: str, path: str, status: int = 200, **kw: Any) -> Any:
    r = mail.request(method, path, **kw)
    assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text}"
    return r.json() if r.content else None


def sequence(mail: Mail, name: str, stages: list[dict[str, Any]], **settings: Any
             ) -> dict[str, Any]:
    return dict(api(mail, "POST", "/api/v1/sequences", 201,
                    json={"name": name, "stages": stages, **settings}))


def add(mail: Mail, seq_id: str, addresses: list[str], **variables: Any) -> dict[str, Any]:
    return dict(api(mail, "POST", f"/api/v1/sequences/{seq_id}/recipients", json={
        "recipients": [{"email": a, "variables": variables} for a in addresses]}))


def recipients(mail: Mail, seq_id: str) -> dict[str, dict[str, Any]]:
    got = api(mail, "GET", f"/api/v1/sequences/{seq_id}/recipients")
    return {r["email"]: r for r in got["items"]}


def states(mail: Mail, seq_id: str) -> dict[str, str]:
    return {a: r["state"] for a, r in recipients(mail, seq_id).items()}


def received(mail: Mail, address: str) -> list[EmailMessage]:
    return mail.inbox(address)


def email(subject: str | None, body: str = "<p>Hello {{First Name|there}}</p>",
          **extra: Any) -> dict[str, Any]:
    return {"kind": "email", "subject": subject, "body": body, **extra}


def task(task_kind: str, subject: str, next_when: str = "completed", **extra: Any
         ) -> dict[str, Any]:
    return {"kind": "task", "task_kind": task_kind, "subject": subject,
            "next_when": next_when, **extra}

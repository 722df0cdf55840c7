"""One Lead or Contact per address, whatever happens: creates racing for one address, and a
create whose answer Salesforce lost (sfemu carries it out, then answers too late)."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Sfemu
from tests.e2e.activity_env import Env, connected_env
from tests.e2e.conftest import Tether, serve

LEAD = {"LastName": "Once", "Company": "Acme", "Email": "once@only.example"}


def create(env: Env, sobject: str = "Lead") -> httpx.Response:
    fields = LEAD if sobject == "Lead" else {k: v for k, v in LEAD.items() if k != "Company"}
    with env.tether.client(env.key) as c:
        return c.post(f"/api/v1/salesforce/records/{sobject}", json={"fields": fields})


def leads(env: Env) -> list[dict[str, object]]:
    return env.soql("SELECT Id FROM Lead WHERE Email = 'once@only.example'")


def test_racing_creates_for_one_address_make_one_lead(tether: Tether) -> None:
    env = connected_env(tether)
    env.sync("fields")
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: create(env), range(6)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201, 409, 409, 409, 409, 409], [a.text for a in answers]
    assert len(leads(env)) == 1


@pytest.fixture
def impatient(migrated_url: str, sfemu: Sfemu, tmp_path: Path) -> Iterator[Tether]:
    """Tether waiting 1 s for Salesforce, so that sfemu's slow answers are lost answers."""
    with serve(migrated_url, sfemu, tmp_path, salesforce_timeout=1.0) as server:
        yield server


def test_a_create_whose_answer_was_lost_is_found_not_sent_again(impatient: Tether) -> None:
    env = connected_env(impatient)
    env.sync("fields")
    # Answers 5 s late to a Tether waiting 1 s: a wide margin, so that a loaded machine
    # (Tether's event loop stalled past the answer) still sees them as lost.
    env.act("POST", "/faults", json={"timeout_rate": 1.0, "timeout_seconds": 5})
    lost = create(env)
    assert lost.status_code == 503, lost.text
    assert len(leads(env)) == 1  # carried out: only its answer was lost
    env.act("POST", "/faults", json={})
    # Tether looks for it before sending another create for the address, and finds it.
    again = create(env, "Contact")
    assert again.status_code == 409, again.text
    assert again.json()["existing"]["Id"] == leads(env)[0]["Id"]
    assert len(leads(env)) == 1
    assert not env.soql("SELECT Id FROM Contact WHERE Email = 'once@only.example'")
    view = env.api("GET", "/api/v1/people", params={"email": "once@only.example"})
    assert [r["Id"] for r in view["records"]] == [leads(env)[0]["Id"]]

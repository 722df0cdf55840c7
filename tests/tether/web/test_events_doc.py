"""docs/events.md cannot drift from what Tether accepts: every ```json example in it is
posted to a running Tether and accepted, it has one of every event type, and its field tables
name exactly the fields of the domain's dataclasses."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.tether.web.conftest import World
from tests.tether.web.live_server import serving
from tether.domain import events as domain

DOC = Path(__file__).resolve().parents[3] / "docs" / "events.md"
TABLES = {"Fields every event has": domain.Event, "message": domain.Message,
          "sequence": domain.Sequence, "meeting": domain.Meeting, "task": domain.TaskInfo,
          "call": domain.Call}


def examples() -> list[Any]:
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", DOC.read_text(),
                                                      flags=re.S)]


def events_of(example: Any) -> list[dict[str, Any]]:
    return list(example["events"]) if "events" in example else [example]


def sections() -> dict[str, str]:
    """Each heading's text (without backticks) -> what follows it, up to the next heading."""
    parts = re.split(r"^#{2,4} (.+)$", DOC.read_text(), flags=re.M)
    return {title.replace("`", ""): body for title, body in zip(parts[1::2], parts[2::2],
                                                                 strict=True)}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, str]]:
    with serving(tmp_path_factory.mktemp("events-doc")) as running:
        yield running


def test_the_doc_shows_every_event_type_once_on_its_own() -> None:
    lone = [e["type"] for e in examples() if "events" not in e]
    assert sorted(lone) == sorted(t.value for t in domain.EventType)
    assert any("events" in e for e in examples()), "an example of several events at once"
    headings = sections()
    for kind in domain.EventType:
        assert kind.value in headings, f"docs/events.md has no section for {kind}"


@pytest.mark.parametrize("example", examples(),
                         ids=lambda e: "+".join(x["type"] for x in events_of(e)))
def test_every_example_is_accepted_by_a_running_tether(live: tuple[World, str],
                                                       example: Any) -> None:
    world, base_url = live
    r = httpx.post(f"{base_url}/api/v1/events", json=example, headers=world.as_admin(),
                   timeout=30)
    assert r.status_code == 202, r.text
    assert r.json() == {"accepted": [e["id"] for e in events_of(example)]}
    again = httpx.post(f"{base_url}/api/v1/events", json=example, headers=world.as_admin(),
                       timeout=30)
    assert again.json() == r.json(), "an id seen before is accepted again"


@pytest.mark.parametrize("title", list(TABLES))
def test_each_field_table_names_every_field_of_its_part(title: str) -> None:
    body = sections()[title]
    rows = [line for line in body.splitlines() if line.startswith("| `")]
    named = {name for row in rows for name in re.findall(r"`([a-z_]+)`", row.split("|")[1])}
    assert named == {f.name for f in dataclasses.fields(TABLES[title])}, title

"""The API's own documentation: ``POST /api/v1/events`` has a request schema (the event
union, discriminated by type) in the OpenAPI document, which agrees with what the API accepts
and refuses; /docs and /redoc load only Tether's own assets, which answer, so they work
offline."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from pydantic import TypeAdapter

from tests.tether.web.conftest import World
from tests.tether.web.live_server import serving
from tests.tether.web.test_events_doc import events_of, examples
from tether.domain.events import EventType
from tether.web.api import event_schema

Live = tuple[World, str]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with serving(tmp_path_factory.mktemp("api-docs")) as running:
        yield running


@pytest.fixture(scope="module")
def openapi(live: Live) -> dict[str, Any]:
    return dict(httpx.get(f"{live[1]}/openapi.json", timeout=30).json())


def _ref(schema: dict[str, Any]) -> str:
    return str(schema["$ref"]).rsplit("/", 1)[1]


def test_the_events_operation_has_the_event_union_discriminated_by_type(
        openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    body = openapi["paths"]["/api/v1/events"]["post"]["requestBody"]
    request = schemas[_ref(body["content"]["application/json"]["schema"])]
    one, batch = (schemas[_ref(s)] for s in request["anyOf"])
    assert batch["properties"]["events"]["maxItems"] == 1000
    assert batch["properties"]["events"]["items"]["$ref"].endswith("/Event")
    assert one["discriminator"]["propertyName"] == "type"
    mapping = one["discriminator"]["mapping"]
    assert set(mapping) == {t.value for t in EventType}
    for kind, ref in mapping.items():
        model = schemas[ref.rsplit("/", 1)[1]]
        assert model["properties"]["type"]["const"] == kind
        assert {"id", "type", "occurred_at", "user"} <= set(model["required"])
        assert model["additionalProperties"] is False
    clicked = schemas[mapping["email.clicked"].rsplit("/", 1)[1]]
    assert {"message", "recipient", "url"} <= set(clicked["required"])
    assert clicked["properties"]["url"]["maxLength"] == 8192
    assert schemas["Message"]["properties"]["to"]["items"]["maxLength"] == 320
    responses = openapi["paths"]["/api/v1/events"]["post"]["responses"]
    assert _ref(responses["202"]["content"]["application/json"]["schema"]) == "Accepted"


@pytest.mark.parametrize("example", examples(),
                         ids=lambda e: "+".join(x["type"] for x in events_of(e)))
def test_the_docs_examples_fit_the_schema(example: Any) -> None:
    TypeAdapter(event_schema.EventBatch if "events" in example
                else event_schema.Event).validate_python(example)


@pytest.mark.parametrize("kind", list(EventType))
def test_each_field_the_schema_requires_is_refused_when_missing(live: Live,
                                                                kind: EventType) -> None:
    world, base_url = live
    full = next(e for e in examples() if e.get("type") == kind.value)
    model = event_schema.EVENT_MODELS[kind].model_json_schema()
    for name in model["required"]:
        if name == "type":
            continue
        event = {k: v for k, v in full.items() if k != name}
        r = httpx.post(f"{base_url}/api/v1/events", json=event, headers=world.as_admin(),
                       timeout=30)
        assert r.status_code == 422 and r.json()["field"] == name, (kind, name, r.text)


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_pages_load_only_local_assets_which_answer(live: Live, path: str) -> None:
    base_url = live[1]
    page = httpx.get(f"{base_url}{path}", timeout=30)
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href|spec-url)="([^"]+)"', page.text)
    urls += re.findall(r"url: '([^']+)'", page.text)
    assert any(u.endswith(".js") for u in urls), urls
    for url in urls:
        assert not urlsplit(url).netloc, f"{path} loads {url} from another host"
        asset = httpx.get(urljoin(f"{base_url}{path}", url), timeout=30)
        assert asset.status_code == 200, url
        assert asset.content, url
    assert "http://" not in page.text and "https://" not in page.text
    csp = page.headers["content-security-policy"]
    assert "http" not in csp, f"the docs' policy allows another host: {csp}"

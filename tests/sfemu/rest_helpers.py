"""A tiny REST caller for behaviour tests: an org, a user's token, JSON in and out."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Sfemu

V = "/services/data/v59.0"


class Rest:
    def __init__(self, sfemu: Sfemu, username: str, sandbox: bool = False) -> None:
        self.sfemu = sfemu
        self.token = sfemu.token(username, sandbox=sandbox)
        self.client = sfemu.client(headers={"Authorization": f"Bearer {self.token}"})

    def __enter__(self) -> Rest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return self.client.request(method, path if path.startswith("/") else f"{V}/{path}",
                                   **kw)

    def create(self, sobject: str, **fields: Any) -> str:
        r = self.call("POST", f"sobjects/{sobject}", json=fields)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def get(self, sobject: str, rid: str) -> dict[str, Any]:
        r = self.call("GET", f"sobjects/{sobject}/{rid}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def query(self, soql: str, all_rows: bool = False) -> dict[str, Any]:
        r = self.call("GET", "queryAll" if all_rows else "query", params={"q": soql})
        assert r.status_code == 200, r.text
        return dict(r.json())

    def error(self, response: httpx.Response) -> dict[str, Any]:
        body = response.json()
        assert isinstance(body, list) and len(body) == 1, body
        return dict(body[0])

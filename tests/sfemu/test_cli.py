"""The sfemu command: serve --seed, and the admin commands against a running server."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Sfemu, start_sfemu
from tests.sfemu.rest_helpers import Rest


def test_serve_with_seed_and_admin_commands(tmp_path_factory: pytest.TempPathFactory) -> None:
    server = start_sfemu(tmp_path_factory.mktemp("seeded"), "--seed", "60")
    try:
        with Rest(server, "admin@acme.example") as rest:
            counts = {t: rest.query(f"SELECT COUNT() FROM {t}")["totalSize"]
                      for t in ("Account", "Contact", "Lead", "Opportunity",
                                "OpportunityContactRole")}
            assert counts["Contact"] == 60 and counts["Account"] == 6
            assert counts["Lead"] == 30 and counts["Opportunity"] == 12
            assert counts["OpportunityContactRole"] >= 12
            converted = rest.query("SELECT ConvertedContactId, Email FROM Lead "
                                   "WHERE IsConverted = true")["records"]
            assert converted, "some seeded leads are converted"
            contact = rest.get("Contact", converted[0]["ConvertedContactId"])
            assert contact["Email"] == converted[0]["Email"]
            owners = rest.query("SELECT OwnerId FROM Contact")["records"]
            assert len({o["OwnerId"] for o in owners}) > 1
        env = {"SSL_CERT_FILE": server.ca_file}
        out = subprocess.run(
            [sys.executable, "-m", "sfemu", "query", "SELECT Id, Name FROM Account LIMIT 2",
             "--url", server.base_url], capture_output=True, text=True, check=True,
            env={**env, "PATH": ""})
        assert json.loads(out.stdout)["totalSize"] == 2
        bad = subprocess.run([sys.executable, "-m", "sfemu", "query", "SELECT FROM",
                              "--url", server.base_url], capture_output=True, text=True,
                             env=env)
        assert bad.returncode == 1 and "MALFORMED_QUERY" in bad.stdout
    finally:
        server.stop()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=0, max_size=80) | st.builds(
    lambda a, b: f"SELECT {a} FROM Contact WHERE {b}", st.text(max_size=20),
    st.text(max_size=30)))
def test_rest_never_answers_500_to_a_query(sfemu: Sfemu, soql: str) -> None:
    with Rest(sfemu, "admin@acme.example") as rest:
        r = rest.call("GET", "query", params={"q": soql})
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        assert r.json()[0]["errorCode"] in ("MALFORMED_QUERY", "INVALID_FIELD", "INVALID_TYPE",
                                            "INVALID_QUERY_FILTER_OPERATOR",
                                            "NUMBER_OUTSIDE_VALID_RANGE",
                                            "QUERY_TOO_COMPLICATED")

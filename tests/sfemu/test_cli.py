"""The sfemu command: serve --seed, and the admin commands against a running server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from sfemu.cli import app
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
             "--url", server.base_url, "--json"], capture_output=True, text=True, check=True,
            env={**env, "PATH": ""})
        assert json.loads(out.stdout)["totalSize"] == 2
        bad = subprocess.run([sys.executable, "-m", "sfemu", "query", "SELECT FROM",
                              "--url", server.base_url], capture_output=True, text=True,
                             env=env)
        assert bad.returncode == 1 and "Traceback" not in bad.stderr
        assert bad.stderr.startswith("Error: MALFORMED_QUERY: ") and bad.stdout == ""
        assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    finally:
        server.stop()


def sfemu_cli(server: Sfemu, *args: str) -> Result:
    return CliRunner(env={"SSL_CERT_FILE": server.ca_file}).invoke(
        app, [*args, "--url", server.base_url])


def told(result: Result, code: int, *words: str) -> str:
    """The one line the command printed on stderr, which says each of ``words``."""
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.exit_code == code, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_results_read_as_text(sfemu: Sfemu) -> None:
    org = sfemu.new_org()["name"]
    seeded = sfemu_cli(sfemu, "seed", "--org", org, "--accounts", "2", "--contacts", "3",
                       "--leads", "1", "--opportunities", "1")
    assert seeded.exit_code == 0 and f"Seeded {org}" in seeded.stdout
    assert "Contacts" in seeded.stdout and "{" not in seeded.stdout
    table = sfemu_cli(sfemu, "query", "SELECT Id, LastName, Account.Name FROM Contact "
                      "ORDER BY Id LIMIT 2", "--org", org)
    assert table.exit_code == 0, table.stderr
    assert "Account.Name" in table.stdout and table.stdout.rstrip().endswith("2 records")
    assert "attributes" not in table.stdout and "{" not in table.stdout
    created = sfemu_cli(sfemu, "create", "Contact", '{"LastName": "Lovelace"}', "--org", org)
    assert created.exit_code == 0 and created.stdout.startswith("Created Contact 003")
    record_id = created.stdout.split()[-1]
    updated = sfemu_cli(sfemu, "update", "Contact", record_id, '{"FirstName": "Ada"}',
                        "--org", org)
    assert updated.stdout.strip() == f"Updated Contact {record_id}"
    deleted = sfemu_cli(sfemu, "delete", "Contact", record_id, "--org", org)
    assert deleted.stdout.startswith(f"Deleted Contact {record_id}")
    used = sfemu_cli(sfemu, "usage", "--org", org)
    assert "API calls since the server started" in used.stdout
    as_json = json.loads(sfemu_cli(sfemu, "usage", "--org", org, "--json").stdout)
    assert set(as_json) >= {"total", "by_user"}


def test_mistakes_are_one_line_on_stderr(sfemu: Sfemu) -> None:
    told(sfemu_cli(sfemu, "create", "Contact", "{bad"), 2, "FIELDS is not valid JSON")
    told(sfemu_cli(sfemu, "update", "Contact", "003000000000000AAA", "[1]"), 2,
         "FIELDS must be a JSON object")
    told(sfemu_cli(sfemu, "query", "SELECT Id FROM Contact", "--org", "bogus"), 2,
         "no org named 'bogus'")
    told(sfemu_cli(sfemu, "create", "Bogus", "{}"), 1, "INVALID_TYPE")
    told(CliRunner().invoke(app, ["usage", "--url", "nowhere"]), 2, "--url nowhere is not")


def test_no_server_at_the_url_is_one_line() -> None:
    """As a user runs it (it printed a 247-line traceback)."""
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{free.getsockname()[1]}"
    run = subprocess.run([sys.executable, "-m", "sfemu", "query", "SELECT Id FROM Contact",
                          "--url", url], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.startswith(f"Error: no sfemu answers at {url}")
    assert "sfemu serve" in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_serve_on_a_busy_port_says_so() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        told(CliRunner().invoke(app, ["serve", "--port", str(port)]), 1,
             f"port {port} on 127.0.0.1 is taken", "--port chooses another")


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

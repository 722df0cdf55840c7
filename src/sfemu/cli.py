"""The ``sfemu`` command: run the emulator, and drive its admin API from a shell.

Results print for a person (lines, tables), or as the admin API's JSON with ``--json``; a
mistake (no server at --url, an unknown org, a bad JSON argument, a port in use) is one line
on stderr (sfemu.clikit).
"""

from __future__ import annotations

import json
import logging
import re
import socket
import sqlite3
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from sfemu.clikit import JsonFlag, cannot_listen, commands, fail, print_json
from sfemu.core import Emulator
from sfemu.seed import seed_org
from sfemu.store import Store

app = typer.Typer(help="sfemu: a Salesforce API emulator (OAuth, REST, SOQL, Bulk 2.0, "
                       "composite, limits, real-time package, faults).", no_args_is_help=True,
                  pretty_exceptions_enable=False)
command = commands(app)
out = Console(highlight=False, soft_wrap=True)
DEFAULT_URL = "http://127.0.0.1:8765"


class LogLevel(StrEnum):
    CRITICAL, ERROR, WARNING = "critical", "error", "warning"
    INFO, DEBUG, TRACE = "info", "debug", "trace"


def build(db: str, base_url: str, token_ttl: float, seed: int) -> Emulator:
    store = Store(db)
    emu = Emulator(store, base_url=base_url, token_ttl=token_ttl)
    emu.ensure_builtin_orgs()
    if seed:
        acme = emu.org_by_name("acme")
        if emu.store.count("Contact", acme.id) == 0:
            seed_org(emu, acme, accounts=max(1, seed // 10), contacts=seed, leads=seed // 2,
                     opportunities=max(1, seed // 5), seed=seed)
    return emu


@command
def serve(
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The port to listen on (0: any free port).")
                    ] = 8765,
    db: Annotated[str, typer.Option(
        help="The SQLite file the orgs are kept in, or :memory: for none.")] = ":memory:",
    seed: Annotated[int, typer.Option(
        help="Seed acme with this many contacts (and accounts, leads and opportunities in "
             "proportion) when it has none.")] = 0,
    tls: Annotated[bool, typer.Option(help="Serve HTTPS with a generated CA.")] = False,
    cert_dir: Annotated[Path, typer.Option(
        help="Where --tls writes ca.pem, the CA certificate clients can trust.")] = Path(
        ".sfemu-certs"),
    token_ttl: Annotated[float, typer.Option(
        help="How long an access token lasts, in seconds.")] = 7200,
    log_level: Annotated[LogLevel, typer.Option(help="How much the server logs.")
                         ] = LogLevel.WARNING,
) -> None:
    """Run the emulator; it prints 'sfemu listening on <base-url>' once it accepts
    requests."""
    from sfemu.app import create_app
    from sfemu.tls import ensure_certificates

    logging.basicConfig(level=logging.INFO)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this; without it every response that is written in two
    # parts (headers, body) waits ~40 ms for a delayed ACK (Nagle).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        cannot_listen(exc, host, port, "--port")
    actual_port = sock.getsockname()[1]
    scheme = "https" if tls else "http"
    base = f"{scheme}://{host}:{actual_port}"
    try:
        emu = build(db, base, token_ttl, seed)
    except sqlite3.Error as exc:
        fail(f"cannot open the database {db}: {exc}")
    ssl: dict[str, Any] = {}
    if tls:
        try:
            cert, key = ensure_certificates(cert_dir, [host, "localhost", "127.0.0.1"])
        except OSError as exc:
            fail(f"cannot write the certificates in {cert_dir}: {exc.strerror}")
        ssl = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    config = uvicorn.Config(create_app(emu), log_level=log_level.value, timeout_graceful_shutdown=3,
                            **ssl)
    server = uvicorn.Server(config)

    original_startup = server.startup

    async def startup(sockets: Any = None) -> None:
        await original_startup(sockets=sockets)
        typer.echo(f"sfemu listening on {base}", err=False)

    server.startup = startup  # type: ignore[method-assign]
    server.run(sockets=[sock])


# -- the admin API, from a shell ----------------------------------------------------------------
URL = Annotated[str, typer.Option(help="The base URL of a running sfemu.")]
ORG = Annotated[str, typer.Option(help="The org to act in, by name.")]


def _call(method: str, url: str, org: str, path: str = "", body: dict[str, Any] | None = None,
          params: dict[str, str] | None = None) -> Any:
    """The admin API's answer for ``org`` (JSON, or None when it has no body); anything else
    (no server there, an error answer) ends the command with its reason."""
    base = url.rstrip("/")
    try:
        response = httpx.request(method, f"{base}/__sfemu__/orgs/{org}{path}", json=body,
                                 params=params, timeout=600)
    except (httpx.UnsupportedProtocol, httpx.InvalidURL):
        fail(f"--url {url} is not an http:// or https:// URL", 2)
    except httpx.HTTPError as exc:
        fail(f"no sfemu answers at {url} ({exc or type(exc).__name__}): start one with "
             "`sfemu serve`, or name its URL with --url")
    if response.status_code == 404 and _missing_org(base, org):
        fail(f"no org named {org!r} in the sfemu at {url}", 2)
    if response.status_code >= 400:
        fail(_refusal(response))
    return response.json() if response.content else None


def _missing_org(base: str, org: str) -> bool:
    try:
        return httpx.get(f"{base}/__sfemu__/orgs/{org}", timeout=30).status_code == 404
    except httpx.HTTPError:
        return False


def _refusal(response: httpx.Response) -> str:
    """Salesforce's error list as one line: 'MALFORMED_QUERY: ...'."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text.strip()[:500]}"
    items = body if isinstance(body, list) else [body]
    said = [" ".join(f"{e.get('errorCode', 'ERROR')}: {e.get('message', '')}".split())
            for e in items if isinstance(e, dict)]
    return "; ".join(said) or f"HTTP {response.status_code}"


def _fields(text: str) -> dict[str, Any]:
    """A FIELDS argument: a JSON object such as '{"LastName": "Lovelace"}'."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        fail(f"FIELDS is not valid JSON ({exc}); give an object such as "
             "'{\"LastName\": \"Lovelace\"}'", 2)
    if not isinstance(value, dict):
        fail("FIELDS must be a JSON object such as '{\"LastName\": \"Lovelace\"}'", 2)
    return value


FIELDS = Annotated[str, typer.Argument(
    help="The fields as a JSON object, such as '{\"LastName\": \"Lovelace\"}'.")]
SOBJECT = Annotated[str, typer.Argument(help="The object's API name, such as Contact.")]
RECORD_ID = Annotated[str, typer.Argument(help="The record's id.")]


@command
def seed(org: ORG = "acme",
         accounts: Annotated[int, typer.Option(help="How many Accounts to add.")] = 10,
         contacts: Annotated[int, typer.Option(help="How many Contacts to add.")] = 50,
         leads: Annotated[int, typer.Option(help="How many Leads to add.")] = 20,
         opportunities: Annotated[int, typer.Option(
             help="How many Opportunities to add.")] = 10,
         random_seed: Annotated[int, typer.Option(
             help="The seed of the generated data (the same seed, the same data).")] = 0,
         url: URL = DEFAULT_URL, as_json: JsonFlag = False) -> None:
    """Seed an org of a running emulator with realistic data."""
    counts = _call("POST", url, org, "/seed", {
        "accounts": accounts, "contacts": contacts, "leads": leads,
        "opportunities": opportunities, "seed": random_seed})
    if as_json:
        print_json(counts)
        return
    table = Table("Records", "Added", title=f"Seeded {org}")
    for name, n in counts.items():
        table.add_row(name.replace("_", " ").capitalize(), f"{n:,}")
    out.print(table)


@command
def query(soql: Annotated[str, typer.Argument(help="The SOQL query.")], org: ORG = "acme",
          all_rows: Annotated[bool, typer.Option(
              help="Include deleted and archived records (queryAll).")] = False,
          url: URL = DEFAULT_URL, as_json: JsonFlag = False) -> None:
    """Run SOQL as the org's administrator (what was written, without API usage)."""
    result = _call("GET", url, org, "/query", params={"q": soql,
                                                      "all": str(all_rows).lower()})
    if as_json:
        print_json(result)
    elif not result["records"] and re.search(r"\bCOUNT\(\s*\)", soql, re.IGNORECASE):
        out.print(f"{result['totalSize']:,}")
    else:
        out.print(records_table(result["records"]))
        out.print(f"{result['totalSize']:,} record{'' if result['totalSize'] == 1 else 's'}")


def flat(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A record's fields by path (``Account.Name``), without ``attributes``; a child query's
    result as its count."""
    found: dict[str, Any] = {}
    for name, value in record.items():
        if name == "attributes":
            continue
        if isinstance(value, dict) and "records" in value:
            found[prefix + name] = f"{len(value['records'])} records"
        elif isinstance(value, dict):
            found.update(flat(value, f"{prefix}{name}."))
        else:
            found[prefix + name] = value
    return found


def records_table(records: list[dict[str, Any]]) -> Table:
    rows = [flat(r) for r in records]
    columns = list(dict.fromkeys(name for row in rows for name in row))
    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row[c]) for c in columns))
    return table


@command
def create(sobject: SOBJECT, fields: FIELDS, org: ORG = "acme", url: URL = DEFAULT_URL,
           as_json: JsonFlag = False) -> None:
    """Create a record as the org's administrator."""
    created = _call("POST", url, org, f"/records/{sobject}", _fields(fields))
    if as_json:
        print_json(created)
    else:
        out.print(f"Created {sobject} {created['id']}", markup=False)


@command
def update(sobject: SOBJECT, record_id: RECORD_ID, fields: FIELDS, org: ORG = "acme",
           url: URL = DEFAULT_URL, as_json: JsonFlag = False) -> None:
    """Edit a record as the org's administrator."""
    _call("PATCH", url, org, f"/records/{sobject}/{record_id}", _fields(fields))
    _done(as_json, f"Updated {sobject} {record_id}", {"id": record_id, "success": True})


@command
def delete(sobject: SOBJECT, record_id: RECORD_ID, org: ORG = "acme", url: URL = DEFAULT_URL,
           as_json: JsonFlag = False) -> None:
    """Delete a record (it goes to the recycle bin)."""
    _call("DELETE", url, org, f"/records/{sobject}/{record_id}")
    _done(as_json, f"Deleted {sobject} {record_id} (it is in the recycle bin)",
          {"id": record_id, "success": True})


def _done(as_json: bool, line: str, value: dict[str, Any]) -> None:
    if as_json:
        print_json(value)
    else:
        out.print(line, markup=False)


@command
def convert(lead_id: Annotated[str, typer.Argument(help="The Lead's id.")],
            create_opportunity: Annotated[bool, typer.Option(
                help="Create an Opportunity too.")] = True,
            org: ORG = "acme", url: URL = DEFAULT_URL, as_json: JsonFlag = False) -> None:
    """Convert a lead into an account, a contact and (optionally) an opportunity."""
    ids = _call("POST", url, org, f"/leads/{lead_id}/convert",
                {"create_opportunity": create_opportunity})
    if as_json:
        print_json(ids)
        return
    opportunity = ids.get("opportunityId")
    out.print(f"Converted Lead {ids['leadId']}: Account {ids['accountId']}, Contact "
              f"{ids['contactId']}, " + (f"Opportunity {opportunity}" if opportunity
                                         else "no Opportunity"), markup=False)


@command
def merge(sobject: SOBJECT, master_id: Annotated[str, typer.Argument(
              help="The record that is kept.")],
          merged_ids: Annotated[list[str], typer.Argument(
              help="One or two records merged into it, then deleted.")],
          org: ORG = "acme", url: URL = DEFAULT_URL, as_json: JsonFlag = False) -> None:
    """Merge one or two records into a master record."""
    merged = _call("POST", url, org, "/merge", {"object": sobject, "master_id": master_id,
                                                "merged_ids": merged_ids})
    if as_json:
        print_json(merged)
        return
    moved = len(merged.get("updatedRelatedIds") or [])
    out.print(f"Merged {', '.join(merged['mergedRecordIds'])} into {sobject} {merged['id']}; "
              f"{moved} related record{'' if moved == 1 else 's'} moved to it", markup=False)


@command
def usage(org: ORG = "acme", url: URL = DEFAULT_URL, as_json: JsonFlag = False) -> None:
    """Show the API calls counted against the org's daily limit since the server started."""
    used = _call("GET", url, org, "/api-usage")
    if as_json:
        print_json(used)
        return
    if used["by_user"]:
        table = Table("User", "API calls")
        for user, calls in sorted(used["by_user"].items()):
            table.add_row(user, f"{calls:,}")
        out.print(table)
    out.print(f"{used['total']:,} API calls since the server started; today "
              f"{used['today']:,} of the org's daily limit of {used['daily_limit']:,}",
              markup=False)


def main() -> None:
    app()

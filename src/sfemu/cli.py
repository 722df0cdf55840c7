"""The ``sfemu`` command: run the emulator, and drive its admin API from a shell."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
import uvicorn

from sfemu.core import Emulator
from sfemu.seed import seed_org
from sfemu.store import Store

app = typer.Typer(help="sfemu: a Salesforce API emulator (OAuth, REST, SOQL, Bulk 2.0, "
                       "composite, limits, real-time package, faults).", no_args_is_help=True)
DEFAULT_URL = "http://127.0.0.1:8765"


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


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    db: Annotated[str, typer.Option(help="SQLite file, or :memory:")] = ":memory:",
    seed: Annotated[int, typer.Option(help="Seed acme with N contacts (and accounts, leads, "
                                            "opportunities in proportion)")] = 0,
    tls: Annotated[bool, typer.Option(help="Serve HTTPS with a generated CA")] = False,
    cert_dir: Annotated[Path, typer.Option(help="Where --tls writes ca.pem")] = Path(
        ".sfemu-certs"),
    token_ttl: Annotated[float, typer.Option(help="Access token lifetime in seconds")] = 7200,
    log_level: str = "warning",
) -> None:
    """Run the emulator; prints 'sfemu listening on <base-url>' once it accepts requests."""
    from sfemu.app import create_app
    from sfemu.tls import ensure_certificates

    logging.basicConfig(level=logging.INFO)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this; without it every response that is written in two
    # parts (headers, body) waits ~40 ms for a delayed ACK (Nagle).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    actual_port = sock.getsockname()[1]
    scheme = "https" if tls else "http"
    base = f"{scheme}://{host}:{actual_port}"
    emu = build(db, base, token_ttl, seed)
    ssl: dict[str, Any] = {}
    if tls:
        cert, key = ensure_certificates(cert_dir, [host, "localhost", "127.0.0.1"])
        ssl = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    config = uvicorn.Config(create_app(emu), log_level=log_level, timeout_graceful_shutdown=3,
                            **ssl)
    server = uvicorn.Server(config)

    original_startup = server.startup

    async def startup(sockets: Any = None) -> None:
        await original_startup(sockets=sockets)
        typer.echo(f"sfemu listening on {base}", err=False)

    server.startup = startup  # type: ignore[method-assign]
    server.run(sockets=[sock])


def _call(method: str, url: str, path: str, body: dict[str, Any] | None = None,
          params: dict[str, str] | None = None) -> None:
    response = httpx.request(method, f"{url.rstrip('/')}/__sfemu__{path}", json=body,
                             params=params, timeout=600)
    try:
        typer.echo(json.dumps(response.json(), indent=2))
    except ValueError:
        typer.echo(response.text)
    if response.status_code >= 400:
        raise typer.Exit(1)


URL = Annotated[str, typer.Option(help="Base URL of a running sfemu")]


@app.command()
def seed(org: str = "acme", accounts: int = 10, contacts: int = 50, leads: int = 20,
         opportunities: int = 10, random_seed: int = 0, url: URL = DEFAULT_URL) -> None:
    """Seed an org of a running emulator with realistic data."""
    _call("POST", url, f"/orgs/{org}/seed", {"accounts": accounts, "contacts": contacts,
                                               "leads": leads, "opportunities": opportunities,
                                               "seed": random_seed})


@app.command()
def query(soql: str, org: str = "acme", all_rows: bool = False, url: URL = DEFAULT_URL) -> None:
    """Run SOQL as the org's administrator (what was written, without API usage)."""
    _call("GET", url, f"/orgs/{org}/query", params={"q": soql, "all": str(all_rows).lower()})


@app.command()
def create(sobject: str, fields: Annotated[str, typer.Argument(help="JSON object of fields")],
           org: str = "acme", url: URL = DEFAULT_URL) -> None:
    """Create a record as the org's administrator."""
    _call("POST", url, f"/orgs/{org}/records/{sobject}", json.loads(fields))


@app.command()
def update(sobject: str, record_id: str, fields: str, org: str = "acme",
           url: URL = DEFAULT_URL) -> None:
    """Edit a record as the org's administrator."""
    _call("PATCH", url, f"/orgs/{org}/records/{sobject}/{record_id}", json.loads(fields))


@app.command()
def delete(sobject: str, record_id: str, org: str = "acme", url: URL = DEFAULT_URL) -> None:
    """Delete a record (it goes to the recycle bin)."""
    _call("DELETE", url, f"/orgs/{org}/records/{sobject}/{record_id}")


@app.command()
def convert(lead_id: str, create_opportunity: bool = True, org: str = "acme",
            url: URL = DEFAULT_URL) -> None:
    """Convert a lead into an account, a contact and (optionally) an opportunity."""
    _call("POST", url, f"/orgs/{org}/leads/{lead_id}/convert",
          {"create_opportunity": create_opportunity})


@app.command()
def merge(sobject: str, master_id: str, merged_ids: list[str], org: str = "acme",
          url: URL = DEFAULT_URL) -> None:
    """Merge one or two records into a master record."""
    _call("POST", url, f"/orgs/{org}/merge", {"object": sobject, "master_id": master_id,
                                              "merged_ids": merged_ids})


@app.command()
def usage(org: str = "acme", url: URL = DEFAULT_URL) -> None:
    """API calls counted against the org's daily limit since the server started."""
    _call("GET", url, f"/orgs/{org}/api-usage")


def main() -> None:
    app()

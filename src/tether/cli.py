"""The ``tether`` command."""

from __future__ import annotations

import typer

from tether.config import Settings

app = typer.Typer(help="Tether: sales engagement with a two-way Salesforce integration.",
                  no_args_is_help=True)


@app.command()
def config() -> None:
    """Print the effective configuration (from TETHER_* environment variables)."""
    settings = Settings()
    for name, value in settings.model_dump().items():
        typer.echo(f"{name} = {value}")
    typer.echo(f"effective_database_url = {settings.effective_database_url}")


@app.command()
def demo(port: int = 8000, emulator_port: int = 8765, data_dir: str = ".tether") -> None:
    """Run the whole system on the embedded default with the emulator (not built yet)."""
    typer.echo("tether demo is not built yet: it arrives with the Tether core issue. "
               "Run the emulator alone with `uv run sfemu serve`.", err=True)
    raise typer.Exit(2)


def main() -> None:
    app()

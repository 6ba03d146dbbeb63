"""What every command module shares: the typer app, the global options, and error handling.

Command modules (main.py's batch commands, feedback.py, scoring.py, serve.py, templates.py) import
from here, never from each other, so any of them can be imported first.

Errors: a BannergenError becomes one line on stderr and its exit code (2 input rejected,
3 environment failure); a traceback is shown only with --debug. Heavy imports (pandas, the
pipeline) happen inside the commands so `bannergen --help` stays fast.
"""

from __future__ import annotations

import logging
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from bannergen.errors import BannergenError

app = typer.Typer(
    name="bannergen",
    help="Personalized e-commerce banners from a shop's catalog and behaviour.\n\n"
    "Example: bannergen render --segment camera-fans",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


class State:
    project: Path | None = None
    debug: bool = False
    catalog: Path | None = None
    events: Path | None = None


state = State()


@app.callback()
def _global(
    project: Annotated[
        Path | None,
        typer.Option("--project", help="project folder (holds bannergen.toml); default: found from the current folder"),
    ] = None,
    catalog: Annotated[Path | None, typer.Option("--catalog", help="catalog file, overriding bannergen.toml")] = None,
    events: Annotated[Path | None, typer.Option("--events", help="events file, overriding bannergen.toml")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks")] = False,
) -> None:
    state.project, state.catalog, state.events, state.debug = project, catalog, events, debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def engine():
    """The Engine for the selected project, with command-line path overrides applied."""
    from bannergen.config import load_project
    from bannergen.pipeline import Engine

    overrides = {
        "data.catalog": str(state.catalog.resolve()) if state.catalog else None,
        "data.events": str(state.events.resolve()) if state.events else None,
    }
    return Engine(load_project(state.project, overrides))


def shown(path: Path) -> str:
    """``path`` relative to the current folder when it is inside it (shorter, and the same on every machine)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def fail(error: BannergenError) -> None:
    if state.debug:
        raise error
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(error.exit_code)


class TableOrJson(str, Enum):
    """The --format of commands that print either a terminal table or one JSON document."""

    table = "table"
    json = "json"

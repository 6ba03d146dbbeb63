"""What every command module shares: the typer app, the global options, and error handling.

Command modules (main.py's batch commands, feedback.py, scoring.py, serve.py, templates.py) import
from here, never from each other, so any of them can be imported first.

Errors are caught in one place, the command group's ``invoke``: a BannergenError from any command
becomes one line on stderr and its exit code (2 input rejected, 3 environment failure); a
traceback is shown only with --debug. Commands raise, they never print errors themselves. Heavy
imports (pandas, the pipeline) happen inside the commands so `bannergen --help` stays fast.
"""

from __future__ import annotations

import logging
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from bannergen.errors import BannergenError

if TYPE_CHECKING:
    from bannergen.config import Project
    from bannergen.pipeline import Engine


class BannergenGroup(TyperGroup):
    """The command group every bannergen command runs inside: the one place errors are reported."""

    def invoke(self, ctx: Any) -> Any:  # a click Context (typer's own copy of click; its type is private)
        try:
            return super().invoke(ctx)
        except BannergenError as error:
            if state.debug:
                raise
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(error.exit_code) from None


app = typer.Typer(
    cls=BannergenGroup,
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


def project() -> Project:
    """The selected project: --project, else the nearest folder at or above the current one that
    holds bannergen.toml, with --catalog and --events applied (the one way commands find it)."""
    from bannergen.config import load_project

    overrides = {
        "data.catalog": str(state.catalog.resolve()) if state.catalog else None,
        "data.events": str(state.events.resolve()) if state.events else None,
    }
    return load_project(state.project, overrides)


def project_if_any() -> Project | None:
    """The selected project, or None outside any (for commands that also work from their own
    options, such as --store); a broken bannergen.toml is still an error."""
    from bannergen.config import find_project_root

    if state.project is None:
        try:
            find_project_root()
        except BannergenError:
            return None
    return project()


def engine() -> Engine:
    """The Engine for the selected project."""
    from bannergen.pipeline import Engine

    return Engine(project())


def shown(path: Path) -> str:
    """``path`` relative to the current folder when it is inside it (shorter, and the same on every machine)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class TableOrJson(str, Enum):
    """The --format of commands that print either a terminal table or one JSON document."""

    table = "table"
    json = "json"

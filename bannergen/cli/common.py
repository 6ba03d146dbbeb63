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
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer._click.exceptions import NoSuchOption
from typer.core import TyperGroup

from bannergen.errors import BannergenError

if TYPE_CHECKING:
    from bannergen.config import Project
    from bannergen.pipeline import Engine


GLOBAL_OPTIONS = ("--project", "--catalog", "--events", "--debug")
# Options that changed name because the old name meant something else elsewhere.
RENAMED = {"templates lint --catalog": "to check every item of the catalog, it is now --all-items"}
# What an interrupted command leaves behind, where it is worth saying (the command's path).
INTERRUPTED = {
    "render": "interrupted; finished banners are kept and reused on the next run",
    "feedback ingest": "interrupted; events stored so far are kept, and ingesting the file again adds only the rest",
    "templates preview": "interrupted; the contact sheet was not written",
    "fit": "interrupted; the previous model is unchanged",
    "publish": "interrupted; the published manifests are unchanged (they are written last)",
}


class BannergenGroup(TyperGroup):
    """The command group every bannergen command runs inside: the one place errors are reported.

    A BannergenError is one line and its exit code; with --debug the traceback comes first, and
    the exit code stays the same (a script's handling must not change when someone debugs it).
    Ctrl-C says what was kept and exits 130. A global option given after the command is named as
    such, with where it goes.
    """

    def invoke(self, ctx: Any) -> Any:  # a click Context (typer's own copy of click; its type is private)
        # the command line after the global options (typer's click keeps the command name in _protected_args)
        words = [*getattr(ctx, "_protected_args", []), *ctx.args]
        try:
            return super().invoke(ctx)
        except BannergenError as error:
            if state.debug:
                traceback.print_exc(file=sys.stderr)
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            typer.echo(interrupted_note(words), err=True)
            raise typer.Exit(130) from None
        except NoSuchOption as error:
            option = error.option_name
            command = error.ctx.command_path.partition(" ")[2] if error.ctx else "COMMAND"
            if option in GLOBAL_OPTIONS:
                value = "" if option == "--debug" else " VALUE"
                error.message += (f"; {option} is a global option: put it before the command "
                                  f"(bannergen {option}{value} {command} ...)")
            if f"{command} {option}" in RENAMED:
                error.message += f"; {RENAMED[f'{command} {option}']}"
            raise


def interrupted_note(words: list[str]) -> str:
    """The Ctrl-C message of a command line (``words``: the command path, then its arguments)."""
    for length in (2, 1):
        note = INTERRUPTED.get(" ".join(words[:length]))
        if note:
            return note
    return "interrupted"


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


@contextmanager
def working(message: str) -> Iterator[Callable[[str], None]]:
    """A spinner with the elapsed time on stderr while a long step runs, so a command that takes
    seconds never looks hung; transient, and only on a terminal (a pipe or a log gets nothing).
    Yields a function that changes the message (the step now running)."""
    if not sys.stderr.isatty():
        yield lambda _text: None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(message, total=None)
        yield lambda text: bar.update(task, description=text)


def shown(path: Path) -> str:
    """``path`` relative to the current folder when it is inside it (shorter, and the same on every machine)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class OutputFormat(str, Enum):
    """``--format`` of every command whose output is structured: a table for people, JSON or CSV
    for scripts (CSV: one row per record, nested values as JSON text)."""

    table = "table"
    json = "json"
    csv = "csv"


FormatOption = Annotated[OutputFormat, typer.Option("--format", help="table, json or csv")]
# Older scripts say --json: the same as --format json, left out of --help.
JsonAlias = Annotated[bool, typer.Option("--json", hidden=True, help="same as --format json")]


def output_format(fmt: OutputFormat, json_alias: bool = False) -> OutputFormat:
    """The format asked for, --json counting as --format json."""
    return OutputFormat.json if json_alias else fmt


def echo_structured(fmt: OutputFormat, document: Any, rows: list[dict[str, Any]] | None = None) -> None:
    """Print ``document`` as one JSON line, or ``rows`` (default: the document as one row) as CSV
    with a header. NaN and infinities become null / empty, never invalid JSON."""
    import csv
    import io
    import json
    import math

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    if fmt is OutputFormat.json:
        typer.echo(json.dumps(clean(document), ensure_ascii=False, allow_nan=False, default=str))
        return
    records = [clean(r) for r in (rows if rows is not None else [document])]
    columns = list(dict.fromkeys(k for r in records for k in r))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in records:
        writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
                         for k, v in r.items()})
    typer.echo(buffer.getvalue(), nl=False)

"""`bannergen forget` (every record of some users), `bannergen compact` (the retention) and
`bannergen privacy rekey` (a secret rotation).

``register(app)`` adds the commands. The work is bannergen.privacy's; this module parses and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bannergen.cli.common import FormatOption, OutputFormat, echo_structured, project, working


def register(app: typer.Typer) -> None:
    app.command("forget")(forget)
    app.command("compact")(compact)
    group = typer.Typer(help="The project secret user ids are hashed with.", no_args_is_help=True)
    group.command("rekey")(rekey)
    app.add_typer(group, name="privacy")


def forget(
    user_ids: Annotated[list[str], typer.Argument(help="raw user ids, as in the events file or the API")],
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Remove every record of these users: store rows (behaviour, feedback, decision log), their rows in every
    assignments and candidates table under the out folder (manifests rewritten to match), consent records and the
    fitted model. Their pseudonyms go into the forgotten list, so their rows in the shop's files are skipped from
    now on. An unknown id is not an error (0 records). A server running on this project follows the
    forgotten list and drops them from its memory within a second; POST /v1/forget does it all in one call.

    Example: bannergen forget zhangsan u000042
    """
    from bannergen.privacy.forget import forget_users

    with working(f"forgetting {len(user_ids)} user(s)"):
        report = forget_users(project(), user_ids)
    if fmt is not OutputFormat.table:
        echo_structured(fmt, report.as_dict())
        return
    typer.echo(report.line())


def compact(fmt: FormatOption = OutputFormat.table) -> None:
    """Drop behaviour events and logged decisions older than [privacy] retention_days (serve does it daily).

    Example: bannergen compact
    """
    from bannergen.privacy.retention import compact_project

    with working("dropping rows past the retention"):
        done = compact_project(project())
    if fmt is not OutputFormat.table:
        e = done.erased
        echo_structured(fmt, {"retention_days": done.retention_days, "before_us": done.before_us,
                              "behaviour": e.behaviour, "decisions": e.decisions, "decision_candidates": e.candidates})
        return
    typer.echo(done.line())


def rekey(
    old_secret_env: Annotated[str, typer.Option("--old-secret-env", help="the environment variable holding the old "
                                                "secret (never on the command line, where ps and history see it)")],
    ids: Annotated[Path | None, typer.Option("--ids", help="a file of further raw user ids, one a line (users "
                                             "known only through the API)")] = None,
) -> None:
    """After a secret rotation: move every pseudonym made under the old secret (stores, render tables, forgotten list,
    consent records) to the current one. Offline: stop the server first.

    Example: OLD_SECRET=... BANNERGEN_SECRET=... bannergen privacy rekey --old-secret-env OLD_SECRET
    """
    import os

    from bannergen.errors import InputError
    from bannergen.privacy.rekey import rekey_project

    old = os.environ.get(old_secret_env, "")
    if not old:
        raise InputError(f"--old-secret-env: the environment variable {old_secret_env} is not set or empty",
                         hint=f"export {old_secret_env}=THE_OLD_SECRET")
    extra = ids.read_text(encoding="utf-8").split() if ids is not None else []
    with working("re-keying"):
        done = rekey_project(project(), old, extra)
    typer.echo(done.line())

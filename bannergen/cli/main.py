"""`bannergen`: the command line. Each command turns flags into library calls and prints the result.

Errors: a BannergenError becomes one line on stderr and its exit code (2 input rejected,
3 environment failure); a traceback is shown only with --debug. Heavy imports (pandas, the
pipeline) happen inside the commands so `bannergen --help` stays fast. The app, the global
options and the error handling live in bannergen.cli.common.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from bannergen.cli.common import (  # noqa: F401 (_global, app, state: re-exported)
    FormatOption,
    JsonAlias,
    OutputFormat,
    _global,
    app,
    echo_structured,
    engine,
    output_format,
    shown,
    state,
    working,
)


class Executor(str, Enum):
    local = "local"
    dask = "dask"


@app.command()
def render(
    segment: Annotated[
        str, typer.Option("--segment", "-s", help="segment name from scoring/segments.toml, or 'all'")
    ] = "all",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="output folder (default: <paths.out>/<segment>)")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="only the first N users of the segment")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
    fmt: FormatOption = OutputFormat.table,
    json_out: JsonAlias = False,
    force: Annotated[bool, typer.Option("--force", help="recompute even when OUT holds this exact render")] = False,
    executor: Annotated[Executor, typer.Option(
        "--executor", help="local: this machine's processes; dask: a Dask cluster ([dask] in bannergen.toml)")
    ] = Executor.local,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="a running Dask scheduler (tcp://HOST:PORT); implies --executor dask")] = None,
    partitions: Annotated[int | None, typer.Option(
        "--partitions", min=1, help="with --executor dask: cut the users into this many partitions")] = None,
) -> None:
    """Choose and render a banner for every user of a segment; write assets, assignments and manifest.json.

    Example: bannergen render --segment camera-fans --out out/camera-fans
    Example: bannergen render --segment all --executor dask --scheduler tcp://10.0.0.5:8786
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    eng = engine()
    if scheduler is not None or partitions is not None:
        import dataclasses

        dask = eng.project.dask
        dask = dataclasses.replace(dask, scheduler=scheduler or dask.scheduler,
                                   partitions=partitions or dask.partitions)
        eng.project = dataclasses.replace(eng.project, dask=dask)
        executor = Executor.dask if scheduler is not None else executor
    if executor == Executor.dask:
        import contextlib
        import logging

        with contextlib.suppress(ImportError):
            import distributed  # noqa: F401 (it sets its loggers' levels when imported)
        # the scheduler of a local cluster runs in this process: its lifecycle news (workers started,
        # slow ones killed when it stops) is not ours to print
        logging.getLogger("distributed").setLevel(logging.ERROR)
    with Progress(
        TextColumn("rendering"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        disable=quiet or not sys.stderr.isatty(), transient=True,
    ) as bar:
        task = bar.add_task("render", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        summary = eng.render(segment, out=out, limit=limit, progress=progress, force=force, executor=executor.value)
    fmt = output_format(fmt, json_out)
    if fmt is not OutputFormat.table:
        echo_structured(fmt, summary.as_dict())
        return
    t = summary.timings
    order = ("check", "load", "profile", "fit", "score", "select", "plan", "render", "write")
    stages = " ".join(f"{k}={t.get(k, 0.0):.2f}s" for k in order if k != "fit" or k in t)  # fit: on Dask only
    if summary.unchanged:
        cached_note = " (unchanged inputs: nothing recomputed)"
    elif summary.rendered == 0:
        cached_note = " (nothing to render: every variant was cached)"
    else:
        cached_note = ""
    typer.echo(
        f"segment {summary.segment}: {summary.users} users, {summary.assignments} assignments, "
        f"{summary.unique_variants} unique variants, {summary.rendered} rendered, {summary.cached} cache hits"
        f"{cached_note}, {summary.rejects} rejects, {summary.seconds:.1f}s"
    )
    typer.echo(f"stages: {stages}")
    typer.echo(f"manifest: {shown(summary.out / 'manifest.json')}")
    if summary.warnings:
        from bannergen.pipeline import WARNINGS_FILE

        typer.echo(
            f"{len(summary.warnings)} text-fitting warnings (ellipsis, missing glyphs); "
            f"see {shown(summary.out / WARNINGS_FILE)}",
            err=True,
        )


@app.command()
def explain(
    user_id: Annotated[str, typer.Argument(help="the user id as it appears in the events")],
    fmt: FormatOption = OutputFormat.table,
    json_out: JsonAlias = False,
) -> None:
    """Why a user gets their banner: interest weights, every candidate with the probability the
    policy gives it now (the same numbers render and serve use), the chosen one and the reason.
    A user with no events is a cold-start user: they get the default banner, as from serve.

    Example: bannergen explain zhangsan --format json
    """
    with working(f"explaining {user_id}'s banner"):
        ex = engine().explain(user_id)
    fmt = output_format(fmt, json_out)
    if fmt is not OutputFormat.table:
        document = ex.as_dict()
        echo_structured(fmt, document, [{"user_id": ex.user_id, **c} for c in document["candidates"]])
        return
    if not ex.known:
        typer.echo(f"user {ex.user_id}: unknown (no events), a cold-start user: gets the default banner")
        if ex.chosen:
            typer.echo(f"chosen: {ex.chosen.headline} (item {ex.chosen.item_id}, template {ex.chosen.template_id}), "
                       f"policy {ex.policy}")
        else:
            typer.echo("no eligible banner: the rules allow no item")
        return
    typer.echo(f"user {ex.user_id}  segments: {', '.join(ex.segments)}")
    typer.echo("\ninterest weights w_ij (decayed, normalised):")
    for r in ex.item_weights.itertuples(index=False):
        typer.echo(f"  {r.weight:6.3f}  {r.event}  {r.item_id}  {r.title}  "
                   f"({r.brand} / {r.category} / ¥{r.price:,.0f})")
    for r in ex.searches.itertuples(index=False):
        typer.echo(f"  {r.weight:6.3f}  搜索了  “{r.query}”")
    typer.echo("\ninterest vector U_i (top features):")
    for r in ex.interests.itertuples(index=False):
        typer.echo(f"  {r.share:6.3f}  {r.feature}")
    typer.echo(f"\ncandidates, P from the {ex.policy_rule}:")
    for n, c in enumerate(ex.candidates):
        mark = "->" if ex.chosen == c else "  "
        score = "     -" if c.score != c.score else f"{c.score:6.3f}"
        typer.echo(f" {mark} P={c.probability:5.3f}  s={score}  {c.headline}  [{c.template_id}, item {c.item_id}]")
        if n < len(ex.contributions) and c.score == c.score:
            parts = sorted(ex.contributions[n].items(), key=lambda kv: -abs(kv[1]))
            rest = c.score - sum(v for _, v in parts)  # campaign boosts and the template's priority
            parts.append(("boosts+template", rest))
            shown_parts = (f"{name} {value:+.3f}" for name, value in parts if abs(value) >= 5e-4)
            typer.echo("              " + " · ".join(shown_parts))
        if n < len(ex.association_rules) and ex.association_rules[n]:
            typer.echo(f"              {ex.association_rules[n]}")
    if ex.campaign:
        typer.echo("\ncampaign templates:")
        for verdict in ex.campaign:
            typer.echo(f"  {verdict}")
    if ex.chosen:
        typer.echo(f"\nchosen: {ex.chosen.headline} (item {ex.chosen.item_id}, template {ex.chosen.template_id}), "
                   f"policy {ex.policy}, propensity {ex.propensity:.3f}")
        typer.echo(f"reason: {ex.explanation}")
    else:
        typer.echo("\nno eligible banner for this user")


@app.command()
def segments(
    explain_name: Annotated[
        str | None, typer.Option("--explain", help="print this segment's condition and how many users meet each part")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """The segments defined in scoring/segments.toml and how many users each holds.

    Example: bannergen segments --explain new-customers
    """
    if explain_name is not None:
        _explain_segment(explain_name)
        return
    with working("counting the users of every segment"):
        table = engine().segment_sizes()
    if fmt is not OutputFormat.table:
        rows = [{"segment": r.segment, "users": int(r.users), "description": r.description}
                for r in table.itertuples(index=False)]
        echo_structured(fmt, rows, rows)
        return
    width = max(len(s) for s in table["segment"])
    for r in table.itertuples(index=False):
        typer.echo(f"{r.segment:<{width}}  {r.users:>7,}  {r.description}")


def _explain_segment(name: str) -> None:
    from bannergen.segments import explain_condition, get_segment, segment_mask

    eng = engine()
    segment = get_segment(eng.segments, name)
    summary = eng.model.summary
    total = len(summary.purchases)
    typer.echo(f"{segment.name}: {segment.description}" if segment.description else segment.name)
    lines = [("  " * (depth + 1) + text, users) for depth, text, users in explain_condition(segment.condition, summary)]
    width = max([len(text) for text, _ in lines] + [24])
    for text, users in lines:
        typer.echo(f"{text:<{width}}  {users:>7,} users")
    members = int(segment_mask(segment, summary).sum())
    typer.echo(f"{'= in the segment':<{width}}  {members:>7,} of {total:,} users ({members / max(total, 1):.1%})")


def _register_groups() -> None:
    """Command groups live in their own modules; each adds itself to the app."""
    from bannergen.cli import feedback, privacy, scoring, serve, templates

    feedback.register(app)
    privacy.register(app)
    scoring.register(app)
    serve.register(app)
    templates.register(app)


def main() -> None:
    app()


_register_groups()

if __name__ == "__main__":
    main()

"""`bannergen feedback ingest|evaluate` and `bannergen report`: flags in, library calls, one result out.

Wiring (in cli/main.py): ``from bannergen.cli.feedback import register; register(app)``.
The store is ``--store PATH``, else bannergen.toml's ``feedback.store`` (when the settings table
has it), else ``<project root>/.bannergen/feedback.sqlite``.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from bannergen.cli.common import FormatOption, OutputFormat, echo_structured, project_if_any, working
from bannergen.errors import InputError

StoreOpt = Annotated[
    Path | None, typer.Option("--store", help="feedback store file (default: <project>/.bannergen/feedback.sqlite)")
]


class ReportFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    html = "html"


class By(str, Enum):
    variant = "variant"
    template = "template"
    item = "item"
    segment = "segment"
    placement = "placement"


# What each estimate means and when to trust it, one line each (printed under the numbers).
ESTIMATORS = {
    "ipw": "clicks reweighted by target / logged probability: unbiased if propensities are right; noisy",
    "snipw": "ipw over the mean weight: slightly biased, much steadier; read this one first",
    "dr": "a click model corrected by ipw on its errors: right if propensities or model are",
}
TRUST = "trust them when ess is in the hundreds and unsupported near 0%; [low, high]: 95% bootstrap"


def _store_path(store: Path | None) -> Path | str:
    """--store, else the project's feedback store (bannergen.toml ``store.url`` or ``feedback.store``)."""
    if store is not None:
        return store
    selected = project_if_any()
    if selected is None:
        raise InputError("no feedback store: not inside a bannergen project", hint="pass --store PATH or --project DIR")
    return selected.feedback_location


def feedback_app() -> typer.Typer:
    app = typer.Typer(help="Feedback events: ingest impressions/clicks/conversions, evaluate policies offline.",
                      no_args_is_help=True, rich_markup_mode=None)

    @app.command()
    def ingest(
        file: Annotated[Path, typer.Argument(help="events file: .csv, .csv.gz, .jsonl, .jsonl.gz or .parquet")],
        store: StoreOpt = None,
        fmt: FormatOption = OutputFormat.table,
        rejects: Annotated[
            Path | None, typer.Option("--rejects", help="rejects report (default: beside the store)")
        ] = None,
        timeout: Annotated[
            float, typer.Option("--timeout", help="seconds to wait for a locked store before failing (exit 3)")
        ] = 5.0,
    ) -> None:
        """Add feedback events to the store; re-ingesting a file changes nothing.

        Example: bannergen feedback ingest events.csv
        """
        from bannergen.project_feedback import ingest_into

        with working(f"ingesting {file}"):
            result = ingest_into(project_if_any(), file, _store_path(store), rejects, timeout)
        c = result.counts
        if fmt is not OutputFormat.table:
            echo_structured(fmt, result.as_dict())
            return
        for reject in result.first_rejects[:5]:
            typer.echo(str(reject), err=True)
        if c.rejected:
            typer.echo(f"{c.rejected} rejected rows, all listed in {result.rejects_path}", err=True)
        if c.unknown_variant:
            typer.echo(f"unknown_variant={c.unknown_variant} "
                       "(kept and flagged: variant ids in no manifest or decision log)")
        if c.unknown_decision:
            typer.echo(f"unknown_decision={c.unknown_decision} (kept and flagged: decision ids in no decision log)")
        typer.echo(c.line())  # the contract: always the last line

    @app.command()
    def evaluate(
        policy: Annotated[
            str | None, typer.Option("--policy", help="logged, uniform, greedy, softmax or thompson")
        ] = None,
        target: Annotated[
            Path | None, typer.Option("--target", help="CSV of placement (or decision_id), variant_id, probability")
        ] = None,
        store: StoreOpt = None,
        fmt: FormatOption = OutputFormat.table,
        temperature: Annotated[float | None, typer.Option(
            "--temperature", help="softmax temperature on candidate scores (default: the project's)")] = None,
        floor: Annotated[float | None, typer.Option(
            "--floor", help="Thompson exploration floor per candidate (default: scoring/policy.toml)")] = None,
        boot: Annotated[int, typer.Option("--boot", help="bootstrap resamples for the 95% intervals")] = 200,
        seed: Annotated[int, typer.Option("--seed")] = 0,
    ) -> None:
        """Estimate a policy's CTR on the logged decisions (IPW, SNIPW, DR with bootstrap 95% intervals).

        Example: bannergen feedback evaluate --policy greedy --format json
        """
        from bannergen.ope.project import evaluate_logs

        with working(f"evaluating the {policy or 'logged'} policy ({boot} bootstrap resamples)"):
            result = evaluate_logs(_store_path(store), project_if_any(), policy, target, temperature, floor, boot,
                                   seed)
        for warning in result.warnings:
            typer.echo(f"warning: {warning}", err=True)
        if fmt is not OutputFormat.table:
            out = result.as_dict()
            out.pop("warnings")
            echo_structured(fmt, out, [{"estimator": name, **out[name]} for name in ("ipw", "snipw", "dr")])
            return
        typer.echo(f"policy {result.policy}: n={result.n:,} ess={result.ess:,.0f} unmatched={result.unmatched:,} "
                   f"no_propensity={result.no_propensity:,} unsupported={result.unsupported:.2%}")
        for name in ("ipw", "snipw", "dr"):
            e = getattr(result, name)
            typer.echo(f"  {name:<6} {e.estimate:.4f}  [{e.ci_low:.4f}, {e.ci_high:.4f}]")
        for name, meaning in ESTIMATORS.items():
            typer.echo(f"{name + ':':<7} {meaning}")
        typer.echo(TRUST)

    return app


def register(app: typer.Typer) -> None:
    """Add the `feedback` group and the top-level `report` command to ``app``."""
    app.add_typer(feedback_app(), name="feedback")

    @app.command()
    def report(
        by: Annotated[By, typer.Option("--by", help="variant, template, item, segment or placement")] = By.variant,
        fmt: Annotated[ReportFormat, typer.Option("--format", help="table, json, csv or html")] = ReportFormat.table,
        out: Annotated[
            Path | None, typer.Option("--out", "-o", help="write to this file instead of stdout (html: required)")
        ] = None,
        store: StoreOpt = None,
    ) -> None:
        """Per-group CTR (Wilson 95%), CVR, revenue, cost, ROI and lift over the holdout control.

        Example: bannergen report --by template --format html --out report.html
        """
        from bannergen.project_feedback import report as run

        with working(f"building the report by {by.value}"):
            text = run(project_if_any(), _store_path(store), by.value, fmt.value, out)
        typer.echo(f"report: {out}" if text is None else text.rstrip("\n"))

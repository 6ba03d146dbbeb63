"""`bannergen fit | evaluate | recommend USER | association-rules mine`: flags in, library calls, one result out.

Wiring (in cli/main.py): ``from bannergen.cli.scoring import register; register(app)``.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from bannergen.cli.common import FormatOption, OutputFormat, echo_structured, project, shown, working


class Protocol(str, Enum):
    new_items = "new-items"
    repeat = "repeat"


class Algorithm(str, Enum):
    fpgrowth = "fpgrowth"
    apriori = "apriori"


def association_rules_app(old_name: str = "") -> typer.Typer:
    """The association-rules group; ``old_name`` ("rules"): the same commands under a deprecated
    group name, each saying so in one line on stderr before it runs."""
    app = typer.Typer(
        help="Association rules: mine baskets for 'people who bought X also bought Y'.", no_args_is_help=True
    )

    @app.command("mine")
    def mine(
        baskets: Annotated[
            Path,
            typer.Option(
                "--baskets",
                help="one basket per line (comma separated), or a table with --basket-col/--item-col "
                "(CSV, gzip CSV, Parquet)",
            ),
        ],
        min_support: Annotated[
            float, typer.Option("--min-support", help="minimum share of baskets holding the itemset, in (0, 1]")
        ],
        min_confidence: Annotated[
            float, typer.Option("--min-confidence", help="minimum P(consequent | antecedent), in (0, 1]")
        ],
        basket_col: Annotated[
            str | None, typer.Option("--basket-col", help="basket (order) id column of a table")
        ] = None,
        item_col: Annotated[str | None, typer.Option("--item-col", help="item column of a table")] = None,
        max_len: Annotated[
            int | None, typer.Option("--max-len", help="longest itemset (antecedent + consequent)")
        ] = None,
        algorithm: Annotated[
            Algorithm, typer.Option("--algorithm", help="fpgrowth (default) or apriori")
        ] = Algorithm.fpgrowth,
        out: Annotated[
            Path | None, typer.Option("--out", "-o", help="write rules to .csv or .json (default: print the top 10)")
        ] = None,
    ) -> None:
        """Mine association rules from baskets (cancelled orders and empty baskets are skipped and counted).

        Example: bannergen association-rules mine --baskets groceries.csv --min-support 0.006 --min-confidence 0.25
        --out rules.csv
        """
        import time

        if old_name:
            typer.echo(f"note: 'bannergen {old_name} mine' is deprecated; use 'bannergen association-rules mine'",
                       err=True)

        from bannergen.association import mine_rules, read_baskets, write_rules
        from bannergen.association.mining import check_threshold, rules_frame_for_output

        check_threshold("--min-support", min_support)
        check_threshold("--min-confidence", min_confidence)
        start = time.perf_counter()
        with working(f"reading {shown(baskets)}"):
            bs = read_baskets(baskets, basket_col, item_col)
        typer.echo(bs.summary(), err=True)
        with working(f"mining rules ({algorithm.value})"):
            rules = mine_rules(bs, min_support, min_confidence, max_len=max_len, algorithm=algorithm.value)
        seconds = time.perf_counter() - start
        if out is not None:
            write_rules(rules, out)
        typer.echo(f"{len(rules):,} rules ({algorithm.value}, min-support {min_support:g}, min-confidence "
                   f"{min_confidence:g}) in {seconds:.1f}s" + (f": {shown(out)}" if out else ""))
        if out is None and len(rules):
            top = rules_frame_for_output(rules).head(10)
            for r in top.itertuples(index=False):
                typer.echo(f"  {r.antecedents} -> {r.consequents}  support {r.support:.4f}  "
                           f"confidence {r.confidence:.3f}  lift {r.lift:.2f}")

    return app


def register(app: typer.Typer) -> None:
    """Add fit, evaluate, recommend and the association-rules group to the main app (and, hidden, its
    deprecated name "rules")."""
    app.add_typer(association_rules_app(), name="association-rules")
    app.add_typer(association_rules_app(old_name="rules"), name="rules", hidden=True)

    @app.command()
    def fit(
        tune: Annotated[
            bool | None,
            typer.Option(
                "--tune/--no-tune",
                help="tune the blend weights on the last validation_days of data (default: blend.toml [tune] enabled)",
            ),
        ] = None,
    ) -> None:
        """Fit every scorer of scoring/blend.toml on the project's data; save the model (.npz + JSON)
        with a fingerprint.

        Example: bannergen fit --tune
        """
        from bannergen.scorers.fitting import fit_project

        with working("fitting the scorers"):
            s = fit_project(project(), tune)
        times = " ".join(f"{k}={v:.2f}s" for k, v in s.timings.items())
        typer.echo(f"fitted {', '.join(s.scorers)} on {s.users:,} users x {s.items:,} items ({times})")
        typer.echo(
            "weights" + (" (tuned)" if s.tuned else "") + ": " + ", ".join(f"{k}={v:g}" for k, v in s.weights.items())
        )
        typer.echo(f"model: {shown(s.folder / 'model.json')}  fingerprint {s.fingerprint}")

    @app.command()
    def evaluate(
        k: Annotated[int, typer.Option("--k", min=1, help="cut-off of the top-K metrics")] = 10,
        split_date: Annotated[
            str | None,
            typer.Option("--split-date", help="hold out purchases from this date (default: last date - 30 days)"),
        ] = None,
        protocol: Annotated[
            Protocol, typer.Option("--protocol", help="new-items (only items not bought before) or repeat")
        ] = Protocol.new_items,
        fmt: FormatOption = OutputFormat.table,
    ) -> None:
        """Offline metrics (HR, NDCG, precision, recall @K, coverage) of every scorer and the blend on a time split.

        Example: bannergen --project examples/online-retail evaluate --k 10 --format json
        """
        from bannergen.evaluation.project import evaluate_project

        selected = project()
        mapped = selected.mapping_table
        label = shown(mapped) if mapped else f"{shown(selected.catalog)} + {shown(selected.events)}"
        with working(f"evaluating every scorer on {label}"):
            result = evaluate_project(selected, k, split_date, protocol.value, data_label=label)
        if fmt is not OutputFormat.table:
            echo_structured(fmt, result.as_json(), list(result.results))
            return
        typer.echo(
            f"{result.data}: protocol {result.protocol}, split {result.split_date} (tuned on "
            f"{result.validation_split_date} .. {result.split_date}), {result.users:,} users, {result.seconds:.1f}s"
        )
        typer.echo(
            f"{'scorer':<18} {'HR@' + str(k):>8} {'NDCG@' + str(k):>8} {'P@' + str(k):>8} {'R@' + str(k):>8} "
            f"{'coverage':>9}"
        )
        for r in result.results:
            typer.echo(
                f"{r['scorer']:<18} {r['hr']:8.4f} {r['ndcg']:8.4f} {r['precision']:8.4f} {r['recall']:8.4f} "
                f"{r['coverage']:9.4f}"
            )
        typer.echo("blend weights: " + ", ".join(f"{n}={w:g}" for n, w in result.weights.items()))
        for r in result.ratios:
            typer.echo(
                f"{r['metric']} blend / {r['blend_vs']}: {r['ratio']:.3f} "
                f"(95% paired bootstrap {r['low']:.3f} .. {r['high']:.3f})"
            )

    @app.command()
    def recommend(
        user_id: Annotated[str, typer.Argument(help="the user id as it appears in the events")],
        k: Annotated[int, typer.Option("--k", min=1, help="how many items")] = 5,
        fmt: FormatOption = OutputFormat.table,
    ) -> None:
        """Top items for a user through the blend, with each scorer's share of the score and the rule that fired.

        Example: bannergen recommend zhangsan --k 5
        """
        from bannergen.scorers.fitting import recommend as run

        with working(f"recommending for {user_id}"):
            recs, note = run(project(), user_id, k)
        if fmt is not OutputFormat.table:
            rows = [{"rank": n, "item_id": r.item_id, "title": r.title, "score": r.score, "shares": r.shares,
                     "rule": r.rule} for n, r in enumerate(recs, start=1)]
            echo_structured(fmt, {"user_id": user_id, "note": note, "items": rows}, rows)
            return
        typer.echo(f"user {user_id} ({note})")
        for n, r in enumerate(recs, start=1):
            total = sum(abs(v) for v in r.shares.values()) or 1.0
            parts = ", ".join(
                f"{name} {abs(v) / total:.0%}" for name, v in sorted(r.shares.items(), key=lambda x: -abs(x[1])) if v
            )
            typer.echo(f"{n:>2}. {r.item_id}  {r.title}  s={r.score:.3f}  [{parts}]")
            if r.rule:
                typer.echo(f"      {r.rule}")

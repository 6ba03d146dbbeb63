"""`bannergen templates new|validate|preview|lint|list`: campaign templates, checked before they ship.

Wiring (in cli/main.py): ``from bannergen.cli.templates import register; register(app)``.
Each command turns flags into one library call (bannergen.templating / bannergen.render) and
prints the result; a BannergenError is one line and its exit code (2: input rejected).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bannergen.cli.common import (
    FormatOption,
    JsonAlias,
    OutputFormat,
    echo_structured,
    engine,
    output_format,
    project,
    shown,
    working,
)
from bannergen.errors import InputError

templates_app = typer.Typer(
    help="Campaign templates: create, validate, preview, lint against the catalog, list; forecast, publish, pause.\n\n"
    "Example: bannergen templates validate",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    """Add the ``templates`` command group to ``app``."""
    app.add_typer(templates_app, name="templates")


def _templates(project, ids: list[str] | None = None) -> dict:
    """The loadable templates; a broken one is named on stderr and skipped, so the others keep
    working (unless it is one of ``ids``: then its error is the command's error)."""
    from bannergen.errors import TemplateError
    from bannergen.templating import load_templates

    broken: list[TemplateError] = []
    templates = load_templates(project.templates, assets_dir=project.assets, on_error=broken.append)
    for error in broken:
        folder = Path(str(error.message).split(": ", 1)[0]).parent.name
        if ids and folder in ids:
            raise error
        typer.echo(f"skipped template {folder}: {_relative(str(error))}", err=True)
    if ids:
        unknown = [i for i in ids if i not in templates]
        if unknown:
            raise InputError(f"unknown template '{unknown[0]}'", hint=f"templates: {sorted(templates)}")
        templates = {i: templates[i] for i in ids}
    return templates


@templates_app.command("new")
def new(
    template_id: Annotated[str, typer.Argument(help="id of the new template (= its folder name), e.g. double-eleven")],
    source: Annotated[str, typer.Option("--from", help="the template to copy")] = "product-spotlight",
) -> None:
    """Copy a template into a new folder with its id and version set, as a draft; never overwrites.

    Example: bannergen templates new double-eleven --from price-drop
    """
    from bannergen.templating.scaffold import new_template

    dest = new_template(project().templates, template_id, source)
    typer.echo(f"created {shown(dest)}/ from {source} (id {template_id}, version 1, status draft: "
               "only previews show it)")
    typer.echo(f"edit template.toml, layout.toml and banner.html.j2, then: bannergen templates validate {template_id}, "
               f"forecast {template_id}, publish {template_id}")


@templates_app.command("validate")
def validate(
    ids: Annotated[list[str] | None, typer.Argument(help="template ids (default: every template)")] = None,
    fmt: FormatOption = OutputFormat.table,
    json_out: JsonAlias = False,
) -> None:
    """Check every template on its own: schema, Jinja and sandbox, HTML rules, fonts, assets, boxes.

    Prints `file:line: problem (hint: ...)` per finding; exits 2 if there is any.

    Example: bannergen templates validate price-drop
    """
    from bannergen.templating.campaign_check import segment_findings
    from bannergen.templating.validate import validate_templates

    proj = project()
    with working("validating templates"):
        results = validate_templates(proj.templates, proj.assets, tuple(ids or ()))
    for tid, found in segment_findings(proj.templates, proj.scoring / "segments.toml", tuple(ids or ())).items():
        results.setdefault(tid, []).extend(found)
    bad = {tid: fs for tid, fs in results.items() if fs}
    fmt = output_format(fmt, json_out)
    if fmt is not OutputFormat.table:
        echo_structured(fmt, {tid: [f.as_dict() for f in fs] for tid, fs in results.items()},
                        [{"template": tid, **f.as_dict()} for tid, fs in results.items() for f in fs])
    else:
        for findings in results.values():
            for finding in findings:
                typer.echo(_relative(str(finding)), err=False)
        count = sum(len(fs) for fs in bad.values())
        typer.echo(f"{len(results)} templates: {len(results) - len(bad)} valid, {len(bad)} with {count} findings"
                   if bad else f"{len(results)} templates: all valid")
    if bad:
        raise typer.Exit(2)


def _relative(line: str) -> str:
    cwd = str(Path.cwd().resolve()) + "/"
    return line[len(cwd):] if line.startswith(cwd) else line


@templates_app.command("preview")
def preview(
    template_id: Annotated[str, typer.Argument(help="the template to preview")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="output folder (default: <paths.out>/preview)")
    ] = None,
    samples: Annotated[int, typer.Option("--samples", min=1, max=12, help="how many sample items")] = 6,
    browser: Annotated[
        bool, typer.Option("--browser", help="open the contact sheet in a browser when one is available")
    ] = False,
    open_: Annotated[bool, typer.Option("--open", hidden=True, help="deprecated: --browser")] = False,
) -> None:
    """Write a contact sheet (HTML and PNG): every size over sample items, image beside HTML.

    Samples: the shortest and longest titles, the most Chinese and most English, the highest and
    lowest price among the catalog items the template suits.

    Example: bannergen templates preview price-drop --browser
    """
    from bannergen.data import load_catalog
    from bannergen.render import Renderer
    from bannergen.render.preview import write_preview
    from bannergen.render.samples import contexts_for, sample_rows
    from bannergen.templating.manifest import SAMPLE_CONTEXTS

    proj = project()
    template = _templates(proj, [template_id])[template_id]
    with working(f"picking sample items for {template_id}") as step:
        catalog = load_catalog(proj.catalog).frame
        rows = sample_rows(template, catalog, samples)
        by_row = dict(contexts_for(template, catalog, proj.catalog.parent, [r for r, _ in rows]))
        picked = [(why, by_row[row]) for row, why in rows] or [("built-in sample", c) for c in SAMPLE_CONTEXTS]
        renderer = Renderer({template.id: template}, proj.assets, formats=("png", "html"), font_base_url="../fonts")
        step(f"rendering {template_id} over {len(picked)} items x {len(template.sizes)} sizes")
        result = write_preview(renderer, template, picked, out or proj.out / "preview")
    typer.echo(f"{template_id}: {result.banners} banners ({len(picked)} items x {len(template.sizes)} sizes), "
               f"{len(result.warnings)} text-fitting warnings")
    typer.echo(f"contact sheet: {shown(result.html)}")
    typer.echo(f"png sheet: {shown(result.png)}")
    if open_:
        typer.echo("note: 'templates preview --open' is deprecated; use --browser (serve's --open means no API key)",
                   err=True)
    if browser or open_:
        import webbrowser

        if not webbrowser.open(result.html.resolve().as_uri()):
            typer.echo("no browser available; open the contact sheet yourself", err=True)


@templates_app.command("lint")
def lint(
    all_items: Annotated[
        bool, typer.Option("--all-items", help="every item of the project's catalog each template suits "
                           "(default: the built-in sample items)")
    ] = False,
    sample: Annotated[
        int | None, typer.Option("--sample", min=1, help="only N random suited items per template")
    ] = None,
    ids: Annotated[list[str] | None, typer.Option("--template", "-t", help="only this template (repeatable)")] = None,
    sizes: Annotated[
        list[str] | None, typer.Option("--size", help="only this size, e.g. 300x250 or 1200x400@2x (repeatable)")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
    json_out: JsonAlias = False,
    fail_on: Annotated[
        str, typer.Option("--fail-on", help="comma-separated kinds that make the exit code 2, e.g. contrast,no_fit")
    ] = "",
    show: Annotated[int, typer.Option("--show", min=0, help="list at most N issues after the table")] = 20,
    min_text: Annotated[
        float, typer.Option("--min-text", min=1, help="text below this many px at 1x is small_text")
    ] = 12,
) -> None:
    """Fit every template to every item it suits, at every size, and report text needing the
    minimum size, ellipsis, no fit, missing glyphs, WCAG AA contrast, upscaled images and text
    smaller than --min-text px at 1x (small_text).

    Example: bannergen templates lint --all-items --format json > lint.json
    """
    from bannergen.render.lint import KINDS, lint_catalog

    kinds = [k for k in fail_on.split(",") if k]
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise InputError(f"--fail-on: unknown kind '{bad[0]}'", hint=f"kinds: {', '.join(KINDS)}")
    proj = project()
    templates = _templates(proj, ids)
    if all_items or sample:
        from bannergen.data import load_catalog

        frame, folder = load_catalog(proj.catalog).frame, proj.catalog.parent
    else:
        frame, folder = _sample_catalog(), proj.root
    with working(f"linting {len(templates)} templates over {'the catalog' if all_items or sample else 'samples'}"):
        report = lint_catalog(templates, proj.assets, frame, folder, sample=sample, sizes=tuple(sizes or ()),
                              min_text_px=min_text)
    fmt = output_format(fmt, json_out)
    if fmt is not OutputFormat.table:
        document = report.as_dict()
        echo_structured(fmt, document, document["issues"] if fmt is OutputFormat.csv else None)
    else:
        _print_lint(report, show, catalog_items=bool(all_items or sample))
    if kinds and any(i.kind in kinds for i in report.issues):
        raise typer.Exit(2)


def _sample_catalog():
    """Without --all-items: the built-in sample items (a short and a long title, discounted or not)."""
    import pandas as pd

    from bannergen.templating.manifest import SAMPLE_CONTEXTS

    rows = [{"item_id": c.item_id, "title": c.title, "brand": c.brand, "category": c.category, "price": c.price_value,
             "list_price": float(c.list_price.strip("¥").replace(",", "")) if c.list_price else float("nan"),
             "image": "", "stock": 1, "url": c.url} for c in SAMPLE_CONTEXTS]
    return pd.DataFrame(rows)


def _print_lint(report, show: int, catalog_items: bool) -> None:
    from bannergen.render.lint import KINDS

    rows = report.summary()
    head = ["template", "items", "banners", *KINDS]
    widths = [max(len(h), *(len(str(r[h])) for r in rows)) for h in head]
    typer.echo("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths))))
    for r in rows:
        typer.echo(
            "  ".join(
                str(r[h]).ljust(w) if i == 0 else str(r[h]).rjust(w) for i, (h, w) in enumerate(zip(head, widths))
            )
        )
    total = sum(r["banners"] for r in rows)
    items = "catalog items" if catalog_items else "built-in sample items (--all-items: the catalog's)"
    typer.echo(f"{total:,} banners checked over {items} in {report.seconds:.1f}s; {len(report.issues):,} issues")
    for issue in report.issues[:show]:
        typer.echo(f"  {issue}")
    if len(report.issues) > show:
        typer.echo(f"  ... {len(report.issues) - show:,} more (--format json or csv for all)")


@templates_app.command("list")
def list_(fmt: FormatOption = OutputFormat.table) -> None:
    """Every template: id, version, sizes, what it suits, priority, what context it needs, and its
    campaign state (draft, paused, scheduled, live or ended, with its window, segments and share).

    Example: bannergen templates list
    """
    from bannergen.templating.campaign import campaign_line, now_utc

    templates = _templates(project())
    now = now_utc()
    if fmt is not OutputFormat.table:
        rows = [{"id": t.id, "version": t.version, "sizes": [f"{w}x{h}" for w, h in (t.base_sizes or t.sizes)],
                 "scales": list(t.scales), "priority": t.priority, "categories": t.categories,
                 "description": t.description, "campaign": campaign_line(t.campaign, now)}
                for t in templates.values()]
        echo_structured(fmt, rows, rows)
        return
    for t in templates.values():
        base = ", ".join(f"{w}x{h}" for w, h in (t.base_sizes or t.sizes))
        scales = "/".join(f"{k}x" for k in t.scales)
        suits = "all categories" if t.categories is None else "/".join(t.categories)
        if t.requires_discount or t.min_discount_pct:
            suits += f", discount >= {max(t.min_discount_pct, 1)}%"
        needs = [
            n
            for n, on in (("antecedent", t.requires_antecedent), (f"{t.requires_items} items", t.requires_items > 1))
            if on
        ]
        typer.echo(f"{t.id:<18} v{t.version:<3} {base} @ {scales:<6} priority {t.priority:+.2f}  {suits}"
                   + (f"  [needs {', '.join(needs)}]" if needs else ""))
        typer.echo(f"{'':<18} {t.description}")
        if not t.campaign.is_default:
            typer.echo(f"{'':<18} {campaign_line(t.campaign, now)}")


@templates_app.command("publish")
def publish(template_id: Annotated[str, typer.Argument(help="the template to make live")]) -> None:
    """Make a template live: `status = "live"` in its template.toml, edited in place (comments kept).

    It is checked first (a template that does not load, or names a segment that does not exist,
    stays as it was). Its window and segments still apply.

    Example: bannergen templates publish xin-ke
    """
    _set_status(template_id, "live")


@templates_app.command("pause")
def pause(template_id: Annotated[str, typer.Argument(help="the template to take off the air")]) -> None:
    """Pause a template: `status = "paused"`; no render or serve chooses it until it is published again.

    Example: bannergen templates pause double-eleven
    """
    _set_status(template_id, "paused")


def _set_status(template_id: str, status: str) -> None:
    from bannergen.templating.campaign import campaign_line, now_utc, set_status
    from bannergen.templating.campaign_check import check_segments
    from bannergen.templating.manifest import MANIFEST

    proj = project()
    template = _templates(proj, [template_id])[template_id]
    check_segments(template, proj.scoring / "segments.toml")
    previous = set_status(template.folder / MANIFEST, status)
    updated = _templates(proj, [template_id])[template_id]
    typer.echo(f"{template_id}: {previous} -> {status} ({shown(template.folder / MANIFEST)})")
    typer.echo(f"now: {campaign_line(updated.campaign, now_utc())}")


@templates_app.command("forecast")
def forecast(
    template_id: Annotated[str, typer.Argument(help="the template (a draft included)")],
    fmt: FormatOption = OutputFormat.table,
    json_out: JsonAlias = False,
) -> None:
    """How many users of each segment would get a template if it went live now, and which
    templates they would no longer get (the decision kernel run twice: as is, and with it live).

    Example: bannergen templates forecast xin-ke
    """


    from bannergen.selection.forecast import forecast_template

    eng = engine()
    _templates(eng.project, [template_id])
    with working(f"forecasting {template_id}: deciding every user twice"):
        result = forecast_template(eng.model, template_id, eng.project.seed, eng.policy_settings, eng.segments,
                                   eng.feedback)
    fmt = output_format(fmt, json_out)
    if fmt is not OutputFormat.table:
        by_segment = result.by_segment.to_dict(orient="records")
        echo_structured(fmt, {"template": result.template_id, "state": result.state, "users": result.users,
                              "would_get": result.would_get, "gets_now": result.before, "by_segment": by_segment,
                              "no_longer_get": result.displaced.to_dict(orient="records")}, by_segment)
        return
    typer.echo(f"{template_id} ({result.state} now): live now it would go to {result.would_get:,} of "
               f"{result.users:,} users (now {result.before:,})")
    width = max([len(s) for s in result.by_segment["segment"]] + [len(str(t)) for t in result.displaced["template"]])
    typer.echo(f"{'segment':<{width}}  {'users':>7}  {'would get it':>12}")
    for r in result.by_segment.itertuples(index=False):
        typer.echo(f"{r.segment:<{width}}  {r.users:>7,}  {r.would_get:>7,} {r.share:>5.0%}")
    if len(result.displaced):
        typer.echo("they would no longer get:")
        for r in result.displaced.itertuples(index=False):
            typer.echo(f"  {r.template or '(no banner)':<{width}}  {r.users:>7,}")

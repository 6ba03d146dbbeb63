"""The HTML report: the table plus two matplotlib plots, as one self-contained file.

Plots (PNG, embedded as data URIs so the file can be mailed or attached to a ticket):
CTR with its 95% Wilson interval per group (top 30 by impressions), and the CTR over time of the
top 5 variants by impressions (per day, or per hour when the data falls on three days or fewer). The
table's numbers read as in the terminal table: counts with separators, rates as percentages.
"""

from __future__ import annotations

import base64
import io
import os
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from bannergen.cache import atomic_write
from bannergen.feedback.schema import HOLDOUT_POLICY
from bannergen.feedback.store import FeedbackStore
from bannergen.reporting.build import Report
from bannergen.reporting.formats import NUMBER_FORMATS, formatted

TOP_GROUPS = 30
TOP_VARIANTS = 5

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>bannergen report by {{ report.by }}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse;font-size:13px}
td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}td:first-child,th:first-child{text-align:left}
img{max-width:100%}</style></head><body>
<h1>Feedback report by {{ report.by }}</h1>
<p>Generated {{ generated }}. Filtered counts (invalid clicks removed); control = policy "holdout":
{{ "{:,.0f}".format(report.control.impressions) }} impressions,
{{ "{:,.0f}".format(report.control.clicks) }} clicks.</p>
<h2>CTR with 95% interval</h2>
<img alt="CTR per {{ report.by }}" src="data:image/png;base64,{{ ctr_png }}">
{% if time_png %}<h2>CTR over time ({{ time_unit }}), top variants</h2>
<img alt="CTR over time" src="data:image/png;base64,{{ time_png }}">{% endif %}
<h2>Table</h2><table><tr>{% for c in columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for row in rows %}<tr>{% for v in row %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}</table>
</body></html>
"""


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _names(report: Report) -> dict[str, str]:
    """What each group is, for plot labels: a variant as "template · item title", else its key."""
    keys = report.rows[report.key].astype(str)
    if report.by != "variant":
        return dict(zip(keys, keys))
    title = report.rows["title"].astype(str).str.slice(0, 18)
    named = report.rows["template"].astype(str) + " · " + title.where(title != "", report.rows["item_id"].astype(str))
    return dict(zip(keys, named.where(report.rows["template"].astype(str) != "", keys)))


def ctr_over_time(store: FeedbackStore, variant_ids: list[str]) -> tuple[pd.DataFrame, str]:
    """Raw impressions and clicks of ``variant_ids`` per period (holdout excluded): period,
    variant_id, impressions, clicks; and the period ("day", or "hour" when the data falls on three
    calendar days or fewer, so one day of data is a day of hours, not a single point)."""
    daily = store.daily_counts(variant_ids)
    if daily.empty or daily["day"].nunique() > 3:
        return daily.rename(columns={"day": "period"}), "day"
    events = store.events_frame(["ts", "variant_id", "event", "policy"], events=["impression", "click"])
    events = events[events["variant_id"].isin(variant_ids) & (events["policy"] != HOLDOUT_POLICY)]
    period = pd.to_datetime(events["ts"].to_numpy(dtype="int64"), unit="us", utc=True).floor("h")
    counts = pd.crosstab([period, events["variant_id"].to_numpy()], events["event"].to_numpy())
    hourly = counts.reindex(columns=["impression", "click"], fill_value=0).reset_index()
    hourly.columns = ["period", "variant_id", "impressions", "clicks"]
    return hourly, "hour"


def _time_axis(ax, periods: pd.Series, unit: str) -> None:
    """An axis over exactly the data's span (matplotlib widens a single date to years), with
    ticks and labels chosen for that span."""
    import matplotlib.dates as mdates

    step = pd.Timedelta(hours=1) if unit == "hour" else pd.Timedelta(days=1)
    start, end = periods.min(), periods.max()
    ax.set_xlim(start - step / 2, end + step / 2)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel(f"{unit} (UTC)")


def _with_fonts(fonts: Path | None) -> list[str]:
    """Font families for the plots: matplotlib's default, then (for the glyphs it lacks: Chinese
    titles) every font file in ``fonts``, the project's assets/fonts."""
    from matplotlib import font_manager

    families = ["DejaVu Sans"]
    for path in sorted(fonts.glob("*.[ot]tf")) if fonts is not None and fonts.is_dir() else []:
        font_manager.fontManager.addfont(str(path))
        name = font_manager.FontProperties(fname=str(path)).get_name()
        if name not in families:
            families.append(name)
    return families


def render_html(report: Report, store: FeedbackStore | None = None, fonts: Path | None = None) -> str:
    """The report page as text; ``store`` supplies the over-time plot (omitted when None);
    ``fonts``, a folder of font files, the glyphs of item titles in the plots."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import jinja2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with plt.rc_context({"font.family": _with_fonts(fonts)}):
        ctr_png = _ctr_plot(report)
        time_png, unit = _time_plot(report, store) if store is not None else ("", "day")
    columns = list(report.rows.columns)
    env = jinja2.Environment(autoescape=True)
    return env.from_string(_PAGE).render(
        report=report, ctr_png=ctr_png, time_png=time_png, time_unit="hourly" if unit == "hour" else "daily",
        columns=columns,
        rows=[[formatted(c, v) if c in NUMBER_FORMATS else ("" if v is None or v != v else v)
               for c, v in zip(columns, r)] for r in report.rows.itertuples(index=False, name=None)],
        generated=datetime.now(UTC).isoformat(timespec="seconds"))


def _ctr_plot(report: Report) -> str:
    """CTR with its interval per group (top TOP_GROUPS), the holdout control as a line."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    names = _names(report)
    rows = report.rows.head(TOP_GROUPS)
    fig, ax = plt.subplots(figsize=(9, max(2.5, 0.3 * len(rows) + 1)))
    y = range(len(rows))
    ctr = rows["ctr"].fillna(0).to_numpy()
    err = [ctr - rows["ctr_low"].fillna(0).to_numpy(), rows["ctr_high"].fillna(0).to_numpy() - ctr]
    ax.errorbar(ctr, list(y), xerr=err, fmt="o", capsize=3)
    ax.set_yticks(list(y), [names.get(str(v), str(v)) for v in rows[report.key]])
    ax.invert_yaxis()
    if report.control["impressions"]:
        ax.axvline(report.control["ctr"], color="grey", linestyle="--", label="holdout control")
        ax.legend()
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("CTR (filtered), 95% Wilson interval")
    png = _png(fig)
    plt.close(fig)
    return png


def _time_plot(report: Report, store: FeedbackStore) -> tuple[str, str]:
    """The CTR over time of the top TOP_VARIANTS variants ("" without data), and its period."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    top = store.variant_counts().nlargest(TOP_VARIANTS, "impressions")["variant_id"].tolist()
    series, unit = ctr_over_time(store, top)
    if not len(series):
        return "", unit
    names = _names(report)
    fig, ax = plt.subplots(figsize=(9, 3.5))
    for vid, part in series.sort_values("period").groupby("variant_id"):
        ax.plot(part["period"], part["clicks"] / part["impressions"].clip(lower=1), marker=".",
                label=names.get(str(vid), str(vid)))
    ax.set_ylabel("CTR (raw)")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    _time_axis(ax, series["period"], unit)
    ax.legend(fontsize=8)
    png = _png(fig)
    plt.close(fig)
    return png, unit


def write_html(report: Report, path: Path, store: FeedbackStore | None = None, fonts: Path | None = None) -> Path:
    """Write the page atomically to ``path``."""
    atomic_write(Path(path), render_html(report, store, fonts).encode("utf-8"))
    return Path(path)

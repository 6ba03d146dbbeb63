"""The HTML report: the table plus two matplotlib plots, as one self-contained file.

Plots (PNG, embedded as data URIs so the file can be mailed or attached to a ticket):
CTR with its 95% Wilson interval per group (top 30 by impressions), and daily CTR of the
top 5 variants by impressions.
"""

from __future__ import annotations

import base64
import io
import os
from datetime import UTC, datetime
from pathlib import Path

from bannergen.cache import atomic_write
from bannergen.feedback.store import FeedbackStore
from bannergen.reporting.build import Report

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
{% if time_png %}<h2>Daily CTR, top variants</h2>
<img alt="CTR over time" src="data:image/png;base64,{{ time_png }}">{% endif %}
<h2>Table</h2><table><tr>{% for c in columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for row in rows %}<tr>{% for v in row %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}</table>
</body></html>
"""


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def render_html(report: Report, store: FeedbackStore | None = None) -> str:
    """The report page as text; ``store`` supplies the over-time plot (omitted when None)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import jinja2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report.rows.head(TOP_GROUPS)
    fig, ax = plt.subplots(figsize=(9, max(2.5, 0.3 * len(rows) + 1)))
    y = range(len(rows))
    ctr = rows["ctr"].fillna(0).to_numpy()
    err = [ctr - rows["ctr_low"].fillna(0).to_numpy(), rows["ctr_high"].fillna(0).to_numpy() - ctr]
    ax.errorbar(ctr, list(y), xerr=err, fmt="o", capsize=3)
    ax.set_yticks(list(y), [str(v) for v in rows[report.key]])
    ax.invert_yaxis()
    if report.control["impressions"]:
        ax.axvline(report.control["ctr"], color="grey", linestyle="--", label="holdout control")
        ax.legend()
    ax.set_xlabel("CTR (filtered)")
    ctr_png = _png(fig)
    plt.close(fig)

    time_png = ""
    if store is not None:
        top = store.variant_counts().nlargest(TOP_VARIANTS, "impressions")["variant_id"].tolist()
        daily = store.daily_counts(top)
        if len(daily):
            fig, ax = plt.subplots(figsize=(9, 3.5))
            for vid, part in daily.sort_values("day").groupby("variant_id"):
                ax.plot(part["day"], part["clicks"] / part["impressions"].clip(lower=1), marker=".", label=str(vid))
            ax.set_ylabel("CTR (raw)")
            ax.legend(fontsize=8)
            fig.autofmt_xdate()
            time_png = _png(fig)
            plt.close(fig)

    shown = report.rows.astype(object).where(report.rows.notna(), "")
    env = jinja2.Environment(autoescape=True)
    return env.from_string(_PAGE).render(
        report=report, ctr_png=ctr_png, time_png=time_png, columns=list(shown.columns),
        rows=[[f"{v:.4g}" if isinstance(v, float) else v for v in r] for r in shown.itertuples(index=False)],
        generated=datetime.now(UTC).isoformat(timespec="seconds"))


def write_html(report: Report, path: Path, store: FeedbackStore | None = None) -> Path:
    """Write the page atomically to ``path``."""
    atomic_write(Path(path), render_html(report, store).encode("utf-8"))
    return Path(path)

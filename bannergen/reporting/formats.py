"""A Report as a terminal table, JSON, CSV (HTML lives in html.py)."""

from __future__ import annotations

import json
import math
import numbers
import unicodedata

from bannergen.reporting.build import Report

# How each number reads, for people (the table and the HTML page; JSON and CSV keep full precision):
# counts with thousands separators, rates as percentages, money with two decimals.
NUMBER_FORMATS = {"impressions": "{:,.0f}", "clicks": "{:,.0f}", "ctr": "{:.2%}", "ctr_low": "{:.2%}",
                  "ctr_high": "{:.2%}", "conversions": "{:,.0f}", "cvr": "{:.2%}", "revenue": "{:,.2f}",
                  "cost": "{:,.2f}", "roi": "{:.2f}", "raw_impressions": "{:,.0f}", "raw_clicks": "{:,.0f}",
                  "control_ctr": "{:.2%}", "lift": "{:+.1%}", "p_value": "{:.3g}", "p_beat_control": "{:.3f}"}
TABLE_COLUMNS = [(c, NUMBER_FORMATS[c]) for c in ("impressions", "clicks", "ctr", "ctr_low", "ctr_high", "conversions",
                                                  "cvr", "revenue", "cost", "roi", "lift", "p_value",
                                                  "p_beat_control", "raw_clicks")]


def formatted(column: str, value: object) -> str:
    """``value`` of ``column`` as people read it ("-" when missing; a p-value under 0.001 as "<0.001")."""
    if value is None or (isinstance(value, numbers.Real) and math.isnan(value)):
        return "-"
    if column == "p_value" and isinstance(value, numbers.Real) and value < 0.001:
        return "<0.001"
    spec = NUMBER_FORMATS.get(column)
    return spec.format(value) if spec and isinstance(value, numbers.Real) else str(value)

LABEL_WIDTH = 32  # a long item title would push the numbers off the screen


def _clean(value: object) -> object:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


def to_records(report: Report) -> list[dict]:
    """One dict per row, NaN as None (JSON null), numpy scalars as Python numbers."""
    cols = list(report.rows.columns)
    return [{c: _clean(v) for c, v in zip(cols, row)} for row in report.rows.itertuples(index=False, name=None)]


def to_json(report: Report) -> str:
    """The JSON array of the contract: one object per group."""
    return json.dumps(to_records(report), ensure_ascii=False)


def to_csv(report: Report) -> str:
    return report.rows.to_csv(index=False, lineterminator="\n")


def _width(text: str) -> int:
    """Terminal columns of ``text``: CJK titles take two per character."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _clip(text: str, width: int = LABEL_WIDTH) -> str:
    """``text`` cut to ``width`` terminal columns with an ellipsis (the full text is in json/csv/html)."""
    if _width(text) <= width:
        return text
    while _width(text) > width - 1:
        text = text[:-1]
    return text + "…"


def _pad(text: str, width: int, left: bool) -> str:
    fill = " " * (width - _width(text))
    return text + fill if left else fill + text


def to_table(report: Report) -> str:
    """A fixed-width text table, then one line about the control group."""
    names = [report.key, *report.labels]
    header = [*names, *(c for c, _ in TABLE_COLUMNS)]
    body = [[_clip(str(r[c])) for c in names] + [formatted(c, r[c]) for c, _ in TABLE_COLUMNS]
            for _, r in report.rows.iterrows()]
    widths = [max(_width(h), *(_width(b[i]) for b in body)) if body else _width(h) for i, h in enumerate(header)]
    left = len(names)  # names read left-aligned, numbers right-aligned
    lines = ["  ".join(_pad(h, w, i < left) for i, (h, w) in enumerate(zip(header, widths)))]
    lines += ["  ".join(_pad(v, w, i < left) for i, (v, w) in enumerate(zip(b, widths))) for b in body]
    c = report.control
    if c["impressions"]:
        lines.append(f"control (policy=holdout): {c['impressions']:,.0f} impressions, {c['clicks']:,.0f} clicks, "
                     f"ctr {c['ctr']:.2%}")
    else:
        lines.append("control (policy=holdout): no holdout traffic; lift, p_value and p_beat_control are empty")
    return "\n".join(lines)

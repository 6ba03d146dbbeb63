"""A Report as a terminal table, JSON, CSV (HTML lives in html.py)."""

from __future__ import annotations

import json
import math

import pandas as pd

from bannergen.reporting.build import Report

TABLE_COLUMNS = [("impressions", "{:,.0f}"), ("clicks", "{:,.0f}"), ("ctr", "{:.2%}"), ("ctr_low", "{:.2%}"),
                 ("ctr_high", "{:.2%}"), ("conversions", "{:,.0f}"), ("cvr", "{:.2%}"), ("revenue", "{:,.2f}"),
                 ("cost", "{:,.2f}"), ("roi", "{:.2f}"), ("lift", "{:+.1%}"), ("p_value", "{:.3g}"),
                 ("p_beat_control", "{:.3f}"), ("raw_clicks", "{:,.0f}")]


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


def to_table(report: Report) -> str:
    """A fixed-width text table, then one line about the control group."""
    header = [report.key, *(c for c, _ in TABLE_COLUMNS)]
    body = [[str(r[report.key])] + ["-" if pd.isna(r[c]) else f.format(r[c]) for c, f in TABLE_COLUMNS]
            for _, r in report.rows.iterrows()]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths)))]
    lines += ["  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(b, widths))) for b in body]
    c = report.control
    if c["impressions"]:
        lines.append(f"control (policy=holdout): {c['impressions']:,.0f} impressions, {c['clicks']:,.0f} clicks, "
                     f"ctr {c['ctr']:.2%}")
    else:
        lines.append("control (policy=holdout): no holdout traffic; lift, p_value and p_beat_control are empty")
    return "\n".join(lines)

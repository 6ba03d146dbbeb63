"""Reports people read: the HTML table's numbers formatted as in the terminal, a time axis fitted
to the data (one day of data is a day of hours), plot labels that name the banner, and Wilson
intervals that start at exactly 0 for no clicks and end at exactly 1 for all clicks."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bannergen.feedback import open_store
from bannergen.reporting import build_report, wilson_interval
from bannergen.reporting.formats import formatted
from bannergen.reporting.html import ctr_over_time, render_html

ROOT = Path(__file__).resolve().parents[1]
DAY_US = 86_400 * 1_000_000
START_US = 1_795_852_800 * 1_000_000  # 2026-11-28T08:00:00Z


def log(days: float, n: int = 3_000, seed: int = 1) -> pd.DataFrame:
    """Impressions of two variants spread evenly over ``days``, about 5% and 10% clicked, with revenue."""
    rng = np.random.default_rng(seed)
    ts = START_US + (np.arange(n) * (days * DAY_US / n)).astype(np.int64)
    arm = rng.integers(0, 2, n)
    imp = pd.DataFrame({"event_id": [f"i{j}" for j in range(n)], "ts": ts, "user_id": [f"u{j}" for j in range(n)],
                        "variant_id": np.where(arm == 0, "v0", "v1").astype(object), "event": "impression",
                        "value": 0.0, "cost": 0.0, "placement": "home", "propensity": 0.5, "policy": "softmax",
                        "decision_id": ""})
    hit = np.flatnonzero(rng.random(n) < np.where(arm == 0, 0.05, 0.1))
    clk = imp.iloc[hit].assign(event_id=[f"c{j}" for j in hit], ts=ts[hit] + 1_000_000, event="click",
                               propensity=np.nan)
    buy = clk.iloc[::3].assign(event_id=lambda f: "b" + f["event_id"], event="conversion", value=15_180.5)
    return pd.concat([imp, clk, buy], ignore_index=True).sort_values("ts", kind="stable").reset_index(drop=True)


@pytest.fixture()
def one_day(tmp_path):
    with open_store(tmp_path / "s.sqlite") as store:
        store.add(log(days=0.9))
        yield store


# (successes, trials, expected low, expected high); None: not pinned by this case
WILSON = [
    (0, 1, 0.0, None), (0, 35, 0.0, None), (0, 1_000_000, 0.0, None),
    (1, 1, None, 1.0), (35, 35, None, 1.0), (1_000_000, 1_000_000, None, 1.0),
]


@pytest.mark.parametrize("clicks, impressions, low, high", WILSON)
def test_wilson_bounds_are_exact_at_no_clicks_and_all_clicks(clicks, impressions, low, high):
    lo, hi = wilson_interval(np.array([clicks]), np.array([impressions]))
    if low is not None:
        assert lo[0] == low and hi[0] > 0
    if high is not None:
        assert hi[0] == high and lo[0] < 1


# (column, value, as people read it)
NUMBERS = [
    ("ctr", 0.05148, "5.15%"), ("revenue", 15180.5, "15,180.50"), ("impressions", 15180, "15,180"),
    ("impressions", np.int64(15180), "15,180"), ("p_value", 0.0004, "<0.001"), ("p_value", 0.0123, "0.0123"),
    ("lift", 0.25, "+25.0%"), ("cvr", float("nan"), "-"), ("template", "price-drop", "price-drop"),
]


@pytest.mark.parametrize("column, value, text", NUMBERS)
def test_numbers_read_as_people_write_them(column, value, text):
    assert formatted(column, value) == text


def test_the_html_table_shows_formatted_numbers_and_no_raw_floats(one_day):
    page = render_html(build_report(one_day, "variant"), one_day, fonts=ROOT / "assets" / "fonts")
    cells = re.findall(r"<td>([^<]*)</td>", page)
    assert cells and not [c for c in cells if re.fullmatch(r"-?\d+\.\d{4,}|.*\de[+-]\d+", c)]
    assert any(c.endswith("%") for c in cells) and any(re.fullmatch(r"\d{1,3}(,\d{3})+\.\d\d", c) for c in cells)


@pytest.mark.parametrize("days, unit, most", [(0.9, "hour", 24), (2.0, "hour", 49), (30.0, "day", 31)])
def test_the_time_axis_fits_the_data(tmp_path, days, unit, most):
    with open_store(tmp_path / "s.sqlite") as store:
        store.add(log(days=days))
        series, found = ctr_over_time(store, ["v0", "v1"])
    assert found == unit
    periods = series["period"].drop_duplicates()
    assert 1 < len(periods) <= most
    assert periods.max() - periods.min() <= pd.Timedelta(days=days)


def test_one_day_of_data_is_plotted_by_the_hour_and_titles_need_no_missing_glyph(one_day):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns for every glyph its font lacks
        page = render_html(build_report(one_day, "variant"), one_day, fonts=ROOT / "assets" / "fonts")
    assert "<h2>CTR over time (hourly), top variants</h2>" in page

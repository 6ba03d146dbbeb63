"""Per-variant / template / item / segment / placement reports of the feedback store.

>>> from bannergen.reporting import build_report, to_json  # doctest: +SKIP
>>> print(to_json(build_report(store, by="variant")))  # doctest: +SKIP
"""

from bannergen.reporting.build import BY, REPORT_COLUMNS, Report, build_report, group_counts, metrics
from bannergen.reporting.formats import to_csv, to_json, to_records, to_table
from bannergen.reporting.html import render_html, write_html
from bannergen.reporting.stats import prob_beat_control, two_proportion_pvalue, wilson_interval

__all__ = ["BY", "REPORT_COLUMNS", "Report", "build_report", "group_counts", "metrics", "prob_beat_control",
           "render_html", "to_csv", "to_json", "to_records", "to_table", "two_proportion_pvalue", "wilson_interval",
           "write_html"]

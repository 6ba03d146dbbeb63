"""Offline evaluation of a whole project: its shop, its blend (scoring/blend.toml, or the default
blend when the project has none) and its interest weights, on a time split.

    >>> result = evaluate_project(load_project(Path("examples/online-retail")), k=10)  # doctest: +SKIP
"""

from __future__ import annotations

from bannergen.config import Project
from bannergen.data.mapping import load_shop
from bannergen.evaluation.offline import EvaluationResult, evaluate, parse_date
from bannergen.scorers.settings import DEFAULT_BLEND, load_scoring


def evaluate_project(project: Project, k: int = 10, split_date: str | None = None, protocol: str = "new-items",
                     data_label: str = "") -> EvaluationResult:
    """Every scorer and the tuned blend of ``project`` on a time split at ``split_date`` (ISO date;
    default: the last date minus 30 days). A shop mapped from an order-line table has no content
    features worth an interest model, so its blend goes without one."""
    cut = parse_date(split_date) if split_date else None
    settings = load_scoring(project.scoring)
    shop = load_shop(project)
    mapped = project.mapping_table is not None
    return evaluate(shop.catalog, shop.events, baskets=shop.baskets, k=k, split_date=cut, protocol=protocol,
                    settings=settings.blend or DEFAULT_BLEND, interest=None if mapped else settings.weights,
                    data_label=data_label)

"""The scorers scoring/blend.toml may name: name -> class.

The one list of scorer names: settings checks blend.toml against it and the blend builds its
scorers from it.
"""

from __future__ import annotations

from bannergen.association.scorer import AssociationRuleScorer
from bannergen.scorers.base import Scorer
from bannergen.scorers.collaborative import (
    EASEScorer,
    HistoryScorer,
    ItemKNNScorer,
    NowPopularityScorer,
    PopularityScorer,
    RecentPopularityScorer,
    SVDScorer,
    TitleScorer,
)
from bannergen.scorers.content import ContentScorer

SCORERS: dict[str, type[Scorer]] = {
    "content": ContentScorer,
    "popularity": PopularityScorer,
    "popularity_recent": RecentPopularityScorer,
    "popularity_now": NowPopularityScorer,
    "history": HistoryScorer,
    "item_knn": ItemKNNScorer,
    "svd": SVDScorer,
    "ease": EASEScorer,
    "association_rules": AssociationRuleScorer,
    "title": TitleScorer,
}

SCORER_NAMES: tuple[str, ...] = tuple(SCORERS)

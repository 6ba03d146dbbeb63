"""Offline evaluation of the scorers and the blend on a time split (HR, NDCG, precision, recall,
coverage), with paired bootstrap intervals. Example::

    result = evaluate(shop.catalog, shop.events, baskets=shop.baskets, k=10, settings=load_blend(path))
    print(result.as_json())
"""

from bannergen.evaluation.metrics import bootstrap_ratio, rank_metrics, top_k
from bannergen.evaluation.offline import PROTOCOLS, EvaluationResult, default_split, evaluate

__all__ = ["PROTOCOLS", "EvaluationResult", "bootstrap_ratio", "default_split", "evaluate", "rank_metrics", "top_k"]

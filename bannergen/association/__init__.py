"""Association rules as a product feature: baskets in, rules out (mlxtend FP-growth or Apriori),
with an explosion guard, and the rule scorer that fires a user's recent items. Example::

    baskets = read_baskets(Path("groceries.csv"))
    rules = mine_rules(baskets, min_support=0.006, min_confidence=0.25)
    write_rules(rules, Path("rules.csv"))
"""

from bannergen.association.baskets import BasketSet, baskets_from_matrix, read_baskets
from bannergen.association.mining import RULE_COLUMNS, estimate_itemsets, mine_rules, write_rules

__all__ = [
    "BasketSet",
    "RULE_COLUMNS",
    "baskets_from_matrix",
    "estimate_itemsets",
    "mine_rules",
    "read_baskets",
    "write_rules",
]

"""What each candidate item is shown as: its own best template, a carousel for a user who is
comparing (bannergen.selection.carousel), or a cross-sell banner ("买了 A 的人也买了 B") where an
association rule brought the item. Batch ``decide`` and the service's candidates both come from
here, so a served banner is the rendered one, and the policy draws over the banners themselves
(feedback and propensities are per banner, not per item).

    >>> banners = candidate_banners(model, rows, items)  # doctest: +SKIP
    >>> banners.templates, banners.antecedents, banners.reasons  # doctest: +SKIP

``items`` holds (n, k) catalog rows, -1 for none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bannergen.association.scorer import AssociationRuleScorer
from bannergen.selection.carousel import carousel_reasons, carousel_templates

if TYPE_CHECKING:
    from bannergen.model import Model


@dataclass(frozen=True)
class CandidateBanners:
    """Per candidate (n, k): template index, cross-sell trigger (catalog row, -1 for none) and the
    reason the banner is special ("" when the item's own explanation applies)."""

    templates: np.ndarray
    antecedents: np.ndarray
    reasons: np.ndarray


def candidate_banners(model: Model, rows: np.ndarray, items: np.ndarray) -> CandidateBanners:
    """The banner of each candidate of users ``rows``; a rule that fired says more than
    "comparing", so cross-sell wins over the carousel."""
    templates, carousel, compared = carousel_templates(model, rows, items)
    reasons = np.full(items.shape, "", dtype=object)
    if carousel.any():
        reasons[carousel] = carousel_reasons(model, items[carousel], compared[carousel])
    antecedents, rule_reasons = cross_sell(model, rows, items, templates)
    fired = antecedents >= 0
    reasons[fired] = rule_reasons[fired]
    return CandidateBanners(templates, antecedents, reasons)


def cross_sell(
    model: Model, rows: np.ndarray, items: np.ndarray, templates: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Where an association rule led to a candidate item ("买了 A 的人也买了 B") and is strong enough
    (campaign_rules.toml [cross_sell]), show it as a cross-sell banner: switches ``templates`` (n, k) in
    place to the best cross-sell template that suits the item and returns (antecedent catalog row
    or -1, the rule as a sentence), each (n, k)."""
    antecedent = np.full(items.shape, -1, dtype=np.int64)
    reasons = np.full(items.shape, "", dtype=object)
    settings = model.settings.campaign_rules
    rule_scorer = model.blend.scorers.get("association_rules") if model.blend is not None else None
    if not isinstance(rule_scorer, AssociationRuleScorer):
        return antecedent, reasons
    usable = model.template_allowed
    cross = [k for k, t in enumerate(model.templates) if t.requires_antecedent and t.requires_items <= 1
             and (usable is None or usable[k])]
    if rule_scorer is None or model.interactions is None or not cross or not (items >= 0).any():
        return antecedent, reasons
    from bannergen.scorers.fitting import rule_sentence

    masks = np.stack([model.templates[k].catalog_mask(model.catalog) for k in cross], axis=1)
    priority = np.asarray([model.templates[k].priority for k in cross])
    best = np.where(masks, priority[None, :], -np.inf)
    flat_items = items.reshape(-1)
    flat_rows = np.repeat(np.asarray(rows), items.shape[1] if items.ndim == 2 else 1)
    flat_templates = templates.reshape(-1).copy()  # written back below: a reshape of a strided array is a copy
    flat_antecedent, flat_reasons = antecedent.reshape(-1), reasons.reshape(-1)
    ok = flat_items >= 0
    fired = rule_scorer.best_rules(model.interactions, flat_rows[ok], flat_items[ok])
    for pos, rule in zip(np.flatnonzero(ok), fired):  # only the pairs a rule fired for: few, not all
        item = flat_items[pos]
        if rule is None or not np.isfinite(best[item].max()):
            continue
        if rule.confidence < settings.cross_sell_min_confidence or rule.lift < settings.cross_sell_min_lift:
            continue
        flat_templates[pos] = cross[int(best[item].argmax())]
        flat_antecedent[pos] = rule.antecedent[0]
        flat_reasons[pos] = rule_sentence(model.catalog, rule)
    templates[...] = flat_templates.reshape(templates.shape)
    return antecedent, reasons

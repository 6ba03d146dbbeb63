"""Fit once, share everywhere: the blend every partition scores with.

The blend (scoring/blend.toml: collaborative filtering, association rules, ...) learns item-side
state from every user's interactions. It is loaded from the project's models when its fingerprint
is current (``bannergen fit``, or an earlier render). Otherwise it is fitted once from sums over
users (bannergen.scorers.sums): each partition adds up its own users' sums on the worker that
reads them, the partitions' sums are added two at a time as they come in, and one worker fits
from the total and saves the model. The content scorer's item side needs only the shop's item
popularity, which the driver has already summed. So no process holds every user's events.

The one exception is a scorer that is not fitted from sums (``svd``, or association rules
longer than pairs): then one worker loads the whole shop and fits it there, and the driver logs
which scorer made it do so.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from bannergen.config import Project
from bannergen.distributed.partition import RunInputs, protected_events
from bannergen.model import save_fitted_blend
from bannergen.scorers.base import build_interactions, item_side
from bannergen.scorers.blend import Blend
from bannergen.scorers.content import ContentScorer
from bannergen.scorers.fitting import shop_interactions
from bannergen.scorers.settings import ScoringSettings
from bannergen.scorers.sums import Sums, add_sums

log = logging.getLogger(__name__)


def unfitted_blend(settings: ScoringSettings) -> Blend:
    """The project's blend before fitting (scoring/blend.toml is there: ``settings.blend``)."""
    assert settings.blend is not None
    return Blend.from_settings(settings.blend, settings.weights)


def saved_blend(project: Project, settings: ScoringSettings, fingerprint: str) -> Blend | None:
    """The blend saved in the project's models when its fingerprint is ``fingerprint``, else None."""
    from bannergen.scorers.store import StaleModelError, load_blend

    try:
        return load_blend(project.models, fingerprint, settings.weights)
    except StaleModelError as error:
        log.info("%s; fitting on the cluster", error)
        return None


def partition_sums(inputs: RunInputs, partition: int) -> Sums:
    """The sums over one partition's users that the blend is fitted from (``Blend.sums``)."""
    assert inputs.shop is not None
    events, _ = protected_events(inputs, partition)
    data = build_interactions(events, inputs.shop.features.item_ids, inputs.shop.as_of,
                              titles=inputs.catalog["title"])
    return unfitted_blend(inputs.settings).sums(replace(data, has_purchases=inputs.shop.has_purchases))


def blend_from_sums(inputs: RunInputs, sums: Sums, partitions: int, fingerprint: str) -> Blend:
    """The blend fitted from the sums of every one of ``partitions`` added up, saved to the
    project's models with ``fingerprint``."""
    shop = inputs.shop
    assert shop is not None
    items = item_side(shop.features.item_ids, shop.as_of, inputs.catalog["title"], shop.has_purchases)
    blend = unfitted_blend(inputs.settings).fit_sums(dict(sums), items)  # Dask's copy stays as it is
    content = blend.scorers.get("content")
    if isinstance(content, ContentScorer):
        content.fit_item_side(shop.features, shop.popularity)
    save_fitted_blend(blend, inputs.project.models, fingerprint,
                      f"render on dask, from the sums of {partitions} partitions")
    return blend


def whole_shop_blend(project: Project, settings: ScoringSettings, fingerprint: str) -> Blend:
    """The blend fitted on the whole shop loaded into this process (for scorers not fitted from
    sums), saved to the project's models with ``fingerprint``."""
    from bannergen.data.mapping import load_shop

    data = shop_interactions(project, load_shop(project), settings, content=True)
    blend = unfitted_blend(settings).fit(data)
    save_fitted_blend(blend, project.models, fingerprint, "render on dask, the whole shop on one worker")
    if "content" not in blend.scorers:
        return blend
    # the content scorer fitted here holds every user's interests; each partition binds its own
    return Blend({**blend.scorers, "content": ContentScorer(settings.weights)}, blend.weights, blend.cold_start)


def fit_on_cluster(client: Any, saved: Any, fingerprint: str, shared: Any, inputs: RunInputs, count: int,
                   workers: int) -> Any:
    """A future of the run's blend: ``saved`` (a future of ``saved_blend``) when current, else
    fitted on the cluster from the ``count`` partitions of ``shared`` (the run's scattered inputs,
    shop-wide facts included), on ``workers`` workers, and saved with ``fingerprint``."""
    from distributed import as_completed

    if client.submit(_is_current, saved, pure=False).result():
        return saved
    whole = unfitted_blend(inputs.settings).needs_every_user()
    if whole:
        log.warning("the %s scorer is fitted from every user's rows at once, not from sums: one worker loads "
                    "the whole shop to fit it", ", ".join(whole))
        return client.submit(whole_shop_blend, inputs.project, inputs.settings, fingerprint, pure=False)
    # One partition per worker at a time, and each finished sum added (first, by priority) as soon
    # as there are two: a worker holds the sums of a few partitions, never all of them.
    todo = list(range(count))
    parts = as_completed(loop=client.loop)
    summing: set[str] = set()

    def next_partition() -> None:
        future = client.submit(partition_sums, shared, todo.pop(0), pure=False)
        summing.add(future.key)
        parts.add(future)

    for _ in range(min(workers, count)):
        next_partition()
    ready: list[Any] = []
    for future in parts:
        if future.key in summing and todo:
            next_partition()
        ready.append(future)
        if len(ready) == 2:
            parts.add(client.submit(add_sums, *ready, priority=1, pure=False))
            ready = []
    return client.submit(blend_from_sums, shared, ready[0], count, fingerprint, pure=False)


def _is_current(saved: Blend | None) -> bool:
    return saved is not None

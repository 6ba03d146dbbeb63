"""Fit once, share everywhere: the blend every partition scores with.

The blend (scoring/blend.toml: collaborative filtering, association rules, ...) learns item-side
state from every user's interactions, so it is loaded from the project's models when its
fingerprint is current (``bannergen fit``, or an earlier render), and otherwise fitted once, here,
on one worker, then copied to every worker. Partitions never refit it.
"""

from __future__ import annotations

from bannergen.config import Project
from bannergen.model import load_or_fit_blend
from bannergen.scorers.blend import Blend
from bannergen.scorers.content import ContentScorer
from bannergen.scorers.fitting import project_fingerprint, shop_interactions
from bannergen.scorers.settings import ScoringSettings


def shared_blend(project: Project, settings: ScoringSettings) -> Blend | None:
    """The project's blend (None without scoring/blend.toml): the saved one when current, else
    fitted on the whole shop (the one step that reads every user's events in one process) and saved."""
    if settings.blend is None:
        return None
    from bannergen.scorers.store import StaleModelError, load_blend

    fingerprint = project_fingerprint(project)
    try:
        return load_blend(project.models, fingerprint, settings.weights)
    except StaleModelError:
        pass
    from bannergen.data.mapping import load_shop

    data = shop_interactions(project, load_shop(project), settings, content=True)
    blend = load_or_fit_blend(data, settings, project.models, fingerprint)
    if "content" not in blend.scorers:
        return blend
    # the content scorer fitted here holds every user's interests; each partition binds its own
    return Blend({**blend.scorers, "content": ContentScorer(settings.weights)}, blend.weights, blend.cold_start)

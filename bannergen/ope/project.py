"""Off-policy evaluation of a project's logs, as ``bannergen feedback evaluate`` runs it: the
store's impressions joined to the batch and serve decision logs, then a reference policy (by
name) or a policy computed elsewhere (a target file) estimated on them.

    >>> result = evaluate_logs(Path(".bannergen/feedback.sqlite"), project, policy="greedy")  # doctest: +SKIP
    >>> result.snipw.estimate  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from bannergen.config import Project
from bannergen.errors import InputError
from bannergen.ope.estimators import OPEResult
from bannergen.ope.evaluate import evaluate_file, evaluate_policy
from bannergen.ope.inputs import item_table, logged_from_store, project_policy
from bannergen.ope.targets import TARGET_POLICIES, read_target_file
from bannergen.store import open_feedback_store


def evaluate_logs(store: Path | str, project: Project | None, policy: str | None = None, target: Path | None = None,
                  temperature: float | None = None, floor: float | None = None, n_boot: int = 200,
                  seed: int = 0) -> OPEResult:
    """IPW, SNIPW and DR of ``policy`` (a name of TARGET_POLICIES) or of the ``target`` file on the
    feedback in ``store`` (a SQLite file or a PostgreSQL URL). ``project`` (None outside one)
    supplies the decision logs, the items' categories and price bands for the reward model, and the
    policy settings the options do not override. Exactly one of ``policy`` and ``target`` is given
    (else an InputError)."""
    if (policy is None) == (target is None):
        raise InputError("give one of --policy NAME or --target FILE", hint=f"policies: {', '.join(TARGET_POLICIES)}")
    if policy is not None and policy not in TARGET_POLICIES:
        raise InputError(f"unknown policy '{policy}'", hint=f"expected one of {', '.join(TARGET_POLICIES)}")
    wanted = read_target_file(target) if target is not None else None  # a bad file fails before the log is read
    out_root, behaviour = (project.out, project.behaviour_location) if project else (None, None)
    items = item_table(project.catalog, project.scoring) if project else None
    with open_feedback_store(store) as db:
        logged, banners = logged_from_store(db, out_root, behaviour)
    if wanted is not None:
        return evaluate_file(logged, wanted, banners, items, n_boot=n_boot, seed=seed)
    assert policy is not None
    settings = project_policy(project.scoring if project else None, policy, temperature, floor, seed)
    return evaluate_policy(logged, policy, settings, items, n_boot=n_boot, seed=seed)

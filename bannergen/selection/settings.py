"""Read scoring/policy.toml: the selection policy, Thompson sampling priors, the frequency cap and
the holdout control. The rows of POLICY (bannergen.selection.policy_table) are the only place
their defaults are written.

[selection] moved here from scoring/weights.toml; ``load_selection`` still reads it there for one
release, with a warning naming both files (a [selection] in both files is an error).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bannergen.errors import ConfigError
from bannergen.selection.kernel import DecisionPolicy
from bannergen.selection.policy_table import POLICY
from bannergen.settings_table import read_toml, shown

log = logging.getLogger(__name__)

SELECTION = POLICY.only("selection")


@dataclass(frozen=True)
class SelectionSettings:
    """scoring/policy.toml [selection]: which policy chooses among how many candidates."""

    policy: str = POLICY["selection.policy"]
    temperature: float = POLICY["selection.temperature"]
    candidates: int = POLICY["selection.candidates"]


@dataclass(frozen=True)
class PolicySettings:
    """scoring/policy.toml [thompson], [frequency_cap] and [holdout]; ``PolicySettings()`` is a
    project without the file."""

    prior_ctr: float = POLICY["thompson.prior_ctr"]
    prior_strength: float = POLICY["thompson.prior_strength"]
    exploration_floor: float = POLICY["thompson.exploration_floor"]
    draws: int = POLICY["thompson.draws"]
    scope: str = POLICY["thompson.scope"]
    cap_per_day: int = POLICY["frequency_cap.per_user_per_day"]
    holdout_share: float = POLICY["holdout.share"]
    holdout_template: str = POLICY["holdout.template"]
    holdout_salt: str = POLICY["holdout.salt"]

    def decision_policy(self, name: str, temperature: float, seed: int) -> DecisionPolicy:
        """The kernel's policy: ``name`` and ``temperature`` from [selection], the rest from here."""
        return DecisionPolicy(name, temperature, self.prior_ctr, self.prior_strength, self.exploration_floor,
                              self.draws, self.cap_per_day, seed)


def load_policy_settings(path: Path) -> PolicySettings:
    """Settings from ``path``; a project without the file gets the defaults. Its [selection] is
    checked here too and read by ``load_selection``."""
    if not path.exists():
        return PolicySettings()
    values = POLICY.read(read_toml(path), shown(path))
    return POLICY.record(PolicySettings, values, "thompson", "frequency_cap", "holdout")


def load_selection(policy_path: Path, weights_path: Path,
                   weights_raw: dict[str, Any] | None = None) -> SelectionSettings:
    """[selection] of scoring/policy.toml, or (deprecated, for one release) of scoring/weights.toml.

    ``weights_raw`` is weights.toml already parsed (read again when None). A [selection] with
    keys in both files is an error; one only in weights.toml is read with a warning."""
    new = read_toml(policy_path).get("selection") if policy_path.exists() else None
    if weights_raw is None:
        weights_raw = read_toml(weights_path) if weights_path.exists() else {}
    old = weights_raw.get("selection")
    if old:
        if new is not None:
            raise ConfigError(
                f"{shown(weights_path)} [selection] and {shown(policy_path)} [selection] both set the selection",
                hint=f"keep [selection] in {shown(policy_path)} only and delete it from {shown(weights_path)}",
            )
        log.warning("%s [selection] is deprecated and read for this release only: move it to %s",
                    shown(weights_path), shown(policy_path))
        return SELECTION.record(SelectionSettings, SELECTION.read({"selection": old}, shown(weights_path)),
                                "selection")
    where = shown(policy_path)
    return SELECTION.record(SelectionSettings, SELECTION.read({"selection": new or {}}, where), "selection")

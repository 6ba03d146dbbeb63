"""Read scoring/policy.toml: Thompson sampling priors, the frequency cap and the holdout control."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bannergen.config import read_toml, reject_unknown_keys
from bannergen.errors import ConfigError
from bannergen.selection.kernel import DecisionPolicy


@dataclass(frozen=True)
class PolicySettings:
    prior_ctr: float = 0.02
    prior_strength: float = 50.0
    exploration_floor: float = 0.01
    draws: int = 64
    scope: str = "all"
    cap_per_day: int = 3
    holdout_share: float = 0.05
    holdout_template: str = "product-spotlight"
    holdout_salt: str = "holdout"

    def decision_policy(self, name: str, temperature: float, seed: int) -> DecisionPolicy:
        """The kernel's policy: ``name`` and ``temperature`` from weights.toml [selection], the rest from here."""
        return DecisionPolicy(name, temperature, self.prior_ctr, self.prior_strength, self.exploration_floor,
                              self.draws, self.cap_per_day, seed)


def _number(table: dict, key: str, where: str, default: float, lo: float, hi: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise ConfigError(f"{where}: '{key}' must be a number within {lo}..{hi}; got {value!r}")
    return float(value)


def load_policy_settings(path: Path) -> PolicySettings:
    """Settings from ``path``; a project without the file gets the defaults."""
    if not path.exists():
        return PolicySettings()
    raw = read_toml(path)
    where = str(path)
    reject_unknown_keys(raw, ["thompson", "frequency_cap", "holdout"], where)
    ts, cap, hold = (raw.get(k, {}) for k in ("thompson", "frequency_cap", "holdout"))
    for name, table in (("thompson", ts), ("frequency_cap", cap), ("holdout", hold)):
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: [{name}] must be a table")
    reject_unknown_keys(ts, ["prior_ctr", "prior_strength", "exploration_floor", "draws", "scope"],
                        f"{where} [thompson]")
    reject_unknown_keys(cap, ["per_user_per_day"], f"{where} [frequency_cap]")
    reject_unknown_keys(hold, ["share", "template", "salt"], f"{where} [holdout]")
    per_day = cap.get("per_user_per_day", 3)
    if isinstance(per_day, bool) or not isinstance(per_day, int) or per_day < 0:
        raise ConfigError(f"{where} [frequency_cap]: 'per_user_per_day' must be an integer >= 0; got {per_day!r}")
    draws = ts.get("draws", 64)
    if isinstance(draws, bool) or not isinstance(draws, int) or not 8 <= draws <= 4096:
        raise ConfigError(f"{where} [thompson]: 'draws' must be an integer within 8..4096; got {draws!r}")
    texts = ((ts, "scope", "all"), (hold, "template", "product-spotlight"), (hold, "salt", "holdout"))
    for table, key, default in texts:
        if not isinstance(table.get(key, default), str):
            raise ConfigError(f"{where}: '{key}' must be text; got {table[key]!r}")
    return PolicySettings(
        prior_ctr=_number(ts, "prior_ctr", f"{where} [thompson]", 0.02, 1e-6, 0.999),
        prior_strength=_number(ts, "prior_strength", f"{where} [thompson]", 50.0, 0.0, 1e9),
        exploration_floor=_number(ts, "exploration_floor", f"{where} [thompson]", 0.01, 0.0, 1.0),
        draws=draws,
        scope=ts.get("scope", "all"),
        cap_per_day=per_day,
        holdout_share=_number(hold, "share", f"{where} [holdout]", 0.05, 0.0, 1.0),
        holdout_template=hold.get("template", "product-spotlight"),
        holdout_salt=hold.get("salt", "holdout"),
    )

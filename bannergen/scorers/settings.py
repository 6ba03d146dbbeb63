"""Read scoring/weights.toml and scoring/rules.toml into checked, frozen settings.

Campaign teams edit these files, so every unknown key gets a "did you mean" hint and every
value is checked for type and range with a message naming the file and the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bannergen.config import read_toml, reject_unknown_keys
from bannergen.errors import ConfigError
from bannergen.scorers.registry import SCORER_NAMES, SCORERS
from bannergen.types import EVENT_TYPES

POLICIES = ("softmax", "greedy", "thompson")


@dataclass(frozen=True)
class InterestWeights:
    event_weights: dict[str, float]
    half_life_days: float
    category: float
    brand: float
    price_band: float
    item: float
    popularity: float
    band_edges: tuple[float, ...]
    aliases: dict[str, str]
    session_minutes: float = 30.0  # a user's session: their events in this window before their last one
    session_weight: float = 0.5  # the session's share of U_i while it is fresh (it decays like an event)

    def band_labels(self) -> list[str]:
        """Labels for the price bands: "0-100", ..., "8000+"."""
        edges = [int(e) if float(e).is_integer() else e for e in self.band_edges]
        return [f"{lo}-{hi}" for lo, hi in zip(edges, edges[1:])] + [f"{edges[-1]}+"]


@dataclass(frozen=True)
class SelectionSettings:
    policy: str
    temperature: float
    candidates: int


@dataclass(frozen=True)
class Boost:
    name: str
    add: float
    brands: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    item_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pin:
    segment: str
    item_id: str


@dataclass(frozen=True)
class Rules:
    exclude_out_of_stock: bool = True
    suppress_purchased_days: float = 30.0
    min_discount_pct: float = 0.0
    boosts: tuple[Boost, ...] = ()
    pins: tuple[Pin, ...] = ()
    cross_sell_min_confidence: float = 0.2  # a rule shown as "买了 A 的人也买了 B" must be at least this sure
    cross_sell_min_lift: float = 1.5
    # A user who interacted with this many distinct items of a category in the last
    # carousel_within_days is comparing: their banner for an item of it becomes a carousel (three
    # items) where a carousel template outranks the item's own template. 0: never.
    carousel_min_compared: int = 3
    carousel_within_days: float = 3.0


@dataclass(frozen=True)
class ScoringSettings:
    weights: InterestWeights
    selection: SelectionSettings
    rules: Rules = field(default_factory=Rules)
    blend: BlendSettings | None = None  # scoring/blend.toml; None: the content scorer alone


def _number(table: dict[str, Any], key: str, where: str, default: float | None = None, *, lo: float = 0.0) -> float:
    value = table.get(key, default)
    if value is None:
        raise ConfigError(f"{where}: '{key}' is required")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: '{key}' must be a number; got {value!r}")
    if value < lo:
        raise ConfigError(f"{where}: '{key}' must be >= {lo}; got {value}")
    return float(value)


def _positive(table: dict[str, Any], key: str, where: str, default: float) -> float:
    """A number > 0 (a half-life, a temperature, a window)."""
    value = _number(table, key, where, default)
    if value <= 0:
        raise ConfigError(f"{where}: '{key}' must be > 0; got {value}")
    return value


def _integer(table: dict[str, Any], key: str, where: str, default: int, *, lo: int) -> int:
    """A whole number >= lo (TOML 3.0 is a float and is refused: a count is written 3)."""
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ConfigError(f"{where}: '{key}' must be an integer >= {lo}; got {value!r}")
    return value


def _names(value: Any, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"{where}: '{key}' must be a name or a list of names; got {value!r}")


def _table(raw: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{key}] must be a table; got {value!r}")
    return value


def load_weights(path: Path) -> tuple[InterestWeights, SelectionSettings]:
    raw = read_toml(path)
    where = str(path)
    reject_unknown_keys(raw, ["events", "decay", "session", "features", "price_bands", "selection", "search"], where)
    events = _table(raw, "events", where)
    reject_unknown_keys(events, EVENT_TYPES, f"{where} [events]")
    event_weights = {e: _number(events, e, f"{where} [events]", 0.0) for e in EVENT_TYPES}
    decay = _table(raw, "decay", where)
    reject_unknown_keys(decay, ["half_life_days"], f"{where} [decay]")
    half_life = _positive(decay, "half_life_days", f"{where} [decay]", 7.0)
    feats = _table(raw, "features", where)
    feature_keys = ["category", "brand", "price_band", "item", "popularity"]
    reject_unknown_keys(feats, feature_keys, f"{where} [features]")
    defaults = {"category": 1.0, "brand": 0.6, "price_band": 0.4, "item": 0.2, "popularity": 0.05}
    fw = {k: _number(feats, k, f"{where} [features]", defaults[k]) for k in feature_keys}
    bands = _table(raw, "price_bands", where)
    reject_unknown_keys(bands, ["edges"], f"{where} [price_bands]")
    edges = bands.get("edges", [0, 100, 300, 1000, 3000, 8000])
    if (
        not isinstance(edges, list)
        or len(edges) < 1
        or not all(isinstance(e, (int, float)) and not isinstance(e, bool) for e in edges)
        or any(b <= a for a, b in zip(edges, edges[1:]))
    ):
        raise ConfigError(f"{where} [price_bands]: 'edges' must be increasing numbers; got {edges!r}")
    search = _table(raw, "search", where)
    reject_unknown_keys(search, ["aliases"], f"{where} [search]")
    aliases = search.get("aliases", {})
    if not isinstance(aliases, dict) or not all(isinstance(v, str) for v in aliases.values()):
        raise ConfigError(f"{where} [search.aliases]: must map words to a category or brand name")
    sel = _table(raw, "selection", where)
    reject_unknown_keys(sel, ["policy", "temperature", "candidates"], f"{where} [selection]")
    policy = sel.get("policy", "softmax")
    if policy not in POLICIES:
        raise ConfigError(f"{where} [selection]: 'policy' must be one of {list(POLICIES)}; got {policy!r}")
    temperature = _positive(sel, "temperature", f"{where} [selection]", 0.1)
    candidates = _integer(sel, "candidates", f"{where} [selection]", 5, lo=1)
    session = _table(raw, "session", where)
    reject_unknown_keys(session, ["window_minutes", "weight"], f"{where} [session]")
    session_minutes = _number(session, "window_minutes", f"{where} [session]", 30.0)
    session_weight = _number(session, "weight", f"{where} [session]", 0.5)
    if session_weight > 1:
        raise ConfigError(f"{where} [session]: 'weight' must be within 0..1; got {session_weight}")
    weights = InterestWeights(
        event_weights=event_weights,
        half_life_days=half_life,
        session_minutes=session_minutes,
        session_weight=session_weight,
        band_edges=tuple(float(e) for e in edges),
        aliases={k.lower(): v for k, v in aliases.items()},
        **fw,
    )
    return weights, SelectionSettings(policy=policy, temperature=temperature, candidates=candidates)


def load_rules(path: Path) -> Rules:
    raw = read_toml(path)
    where = str(path)
    reject_unknown_keys(raw, ["filters", "boost", "pin", "cross_sell", "carousel"], where)
    cross = _table(raw, "cross_sell", where)
    reject_unknown_keys(cross, ["min_confidence", "min_lift"], f"{where} [cross_sell]")
    carousel = _table(raw, "carousel", where)
    reject_unknown_keys(carousel, ["min_compared", "within_days"], f"{where} [carousel]")
    within_days = _positive(carousel, "within_days", f"{where} [carousel]", 3.0)
    min_compared = _integer(carousel, "min_compared", f"{where} [carousel]", 3, lo=0)
    filters = _table(raw, "filters", where)
    reject_unknown_keys(
        filters, ["exclude_out_of_stock", "suppress_purchased_days", "min_discount_pct"], f"{where} [filters]"
    )
    exclude = filters.get("exclude_out_of_stock", True)
    if not isinstance(exclude, bool):
        raise ConfigError(f"{where} [filters]: 'exclude_out_of_stock' must be true or false; got {exclude!r}")
    boosts = []
    for n, b in enumerate(raw.get("boost", []), start=1):
        at = f"{where} [[boost]] #{n}"
        if not isinstance(b, dict):
            raise ConfigError(f"{at}: must be a table")
        reject_unknown_keys(b, ["name", "brand", "category", "item_ids", "add"], at)
        boost = Boost(
            name=str(b.get("name", f"boost {n}")),
            add=_number(b, "add", at, lo=-1e9),
            brands=_names(b.get("brand"), at, "brand"),
            categories=_names(b.get("category"), at, "category"),
            item_ids=_names(b.get("item_ids"), at, "item_ids"),
        )
        if not (boost.brands or boost.categories or boost.item_ids):
            raise ConfigError(f"{at}: matches nothing", hint="give brand, category or item_ids")
        boosts.append(boost)
    pins = []
    for n, p in enumerate(raw.get("pin", []), start=1):
        at = f"{where} [[pin]] #{n}"
        if not isinstance(p, dict):
            raise ConfigError(f"{at}: must be a table")
        reject_unknown_keys(p, ["segment", "item_id"], at)
        if not isinstance(p.get("segment"), str) or not isinstance(p.get("item_id"), str):
            raise ConfigError(f"{at}: needs 'segment' and 'item_id' as strings; got {p!r}")
        pins.append(Pin(segment=p["segment"], item_id=p["item_id"]))
    return Rules(
        exclude_out_of_stock=exclude,
        suppress_purchased_days=_number(filters, "suppress_purchased_days", f"{where} [filters]", 30.0),
        min_discount_pct=_number(filters, "min_discount_pct", f"{where} [filters]", 0.0),
        boosts=tuple(boosts),
        pins=tuple(pins),
        cross_sell_min_confidence=_number(cross, "min_confidence", f"{where} [cross_sell]", 0.2),
        cross_sell_min_lift=_number(cross, "min_lift", f"{where} [cross_sell]", 1.5),
        carousel_min_compared=min_compared,
        carousel_within_days=within_days,
    )


def load_scoring(scoring_dir: Path) -> ScoringSettings:
    """Read weights.toml and rules.toml from a project's scoring/ folder."""
    weights, selection = load_weights(scoring_dir / "weights.toml")
    blend = load_blend(scoring_dir / "blend.toml") if (scoring_dir / "blend.toml").is_file() else None
    return ScoringSettings(
        weights=weights, selection=selection, rules=load_rules(scoring_dir / "rules.toml"), blend=blend
    )


# -- scoring/blend.toml ----------------------------------------------------------------------------

@dataclass(frozen=True)
class BlendSettings:
    """scoring/blend.toml: how scorers are combined.

    weights:          scorer name -> weight of its (row-normalised) scores; 0 leaves it out
    params:           scorer name -> hyperparameters (keyword arguments of the scorer class)
    cold_start:       the scorer a user with no item history falls back to
    validation_days:  length of the validation window carved from the end of the training data
    tune:             whether ``bannergen fit`` tunes the weights on that window
    k:                the cut-off tuning optimises (NDCG@k)
    """

    weights: dict[str, float]
    params: dict[str, dict[str, Any]]
    cold_start: str = "popularity_recent"
    validation_days: float = 30.0
    tune: bool = False
    k: int = 10


DEFAULT_BLEND = BlendSettings(weights={"content": 1.0}, params={})


def load_blend(path: Path) -> BlendSettings:
    """Read scoring/blend.toml; a missing file means the content scorer alone (the engine's default)."""
    if not path.is_file():
        return DEFAULT_BLEND
    raw = read_toml(path)
    where = str(path)
    reject_unknown_keys(raw, ["weights", "scorers", "cold_start", "tune"], where)
    weights_raw = _table(raw, "weights", where)
    reject_unknown_keys(weights_raw, SCORER_NAMES, f"{where} [weights]")
    weights = {k: _number(weights_raw, k, f"{where} [weights]") for k in weights_raw}
    params: dict[str, dict[str, Any]] = {}
    scorers = _table(raw, "scorers", where)
    reject_unknown_keys(scorers, [n for n in SCORER_NAMES if n != "content"], f"{where} [scorers]")
    for name, table in scorers.items():
        at = f"{where} [scorers.{name}]"
        if not isinstance(table, dict):
            raise ConfigError(f"{at}: must be a table")
        allowed = SCORERS[name]._param_names()
        reject_unknown_keys(table, allowed, at)
        params[name] = dict(table)
        try:
            SCORERS[name](**table)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{at}: {exc}") from exc
    cold = _table(raw, "cold_start", where)
    reject_unknown_keys(cold, ["fallback"], f"{where} [cold_start]")
    fallback = cold.get("fallback", "popularity_recent")
    if fallback not in ("popularity", "popularity_recent"):
        raise ConfigError(f"{where} [cold_start]: 'fallback' must be popularity or popularity_recent; got {fallback!r}")
    tune = _table(raw, "tune", where)
    reject_unknown_keys(tune, ["enabled", "validation_days", "k"], f"{where} [tune]")
    enabled = tune.get("enabled", False)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{where} [tune]: 'enabled' must be true or false; got {enabled!r}")
    days = _positive(tune, "validation_days", f"{where} [tune]", 30.0)
    k = _integer(tune, "k", f"{where} [tune]", 10, lo=1)
    return BlendSettings(weights, params, fallback, days, enabled, k)

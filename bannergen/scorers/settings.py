"""Read scoring/weights.toml, campaign_rules.toml and blend.toml into checked, frozen settings.

Campaign teams edit these files, so every unknown key gets a "did you mean" hint and every
value is checked for kind and range with a message naming the file, the table and the key. What
each file may say, and every default, is one table of rows (WEIGHTS, CAMPAIGN_RULES, BLEND) read by
bannergen.settings_table; [[boost]], [[pin]], [search.aliases] and the blend's per-scorer tables
keep small readers of their own. [selection] is read from scoring/policy.toml
(bannergen.selection.settings), and from weights.toml for one release.

Renamed settings read for one release, each with a warning naming the old and the new place (both
given is an error): scoring/rules.toml is now scoring/campaign_rules.toml, and the association-rules
scorer of blend.toml, once "rules", is "association_rules" ([weights] and [scorers.<name>]).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bannergen.errors import ConfigError
from bannergen.scorers.registry import SCORER_NAMES, SCORERS
from bannergen.selection.policy_table import POLICIES as POLICIES
from bannergen.selection.settings import SelectionSettings as SelectionSettings
from bannergen.selection.settings import load_selection
from bannergen.settings_table import (
    REQUIRED,
    Row,
    SettingsFile,
    above,
    at_least,
    check,
    read_toml,
    reject_unknown_keys,
    shown,
    subtable,
    within,
)
from bannergen.types import EVENT_TYPES

log = logging.getLogger(__name__)

WEIGHTS = SettingsFile("scoring/weights.toml", "how behaviour becomes interest: event weights, decay, session, "
                       "feature weights, price bands", (
    Row("events.view", "number", 0.0, "weight of one view before time decay", at_least(0)),
    Row("events.search", "number", 0.0, "weight of one search; it counts toward the categories and brands its "
        "query names", at_least(0)),
    Row("events.cart", "number", 0.0, "weight of one add to cart", at_least(0)),
    Row("events.purchase", "number", 0.0, "weight of one purchase", at_least(0)),
    Row("decay.half_life_days", "number", 7.0, "an event loses half its weight every this many days before the "
        "reference time", above(0)),
    Row("session.window_minutes", "number", 30.0, "the session is the user's events in this many minutes before "
        "their latest one", at_least(0), field="session_minutes"),
    Row("session.weight", "number", 0.5, "a: U_i = (1 - a) * long-term interest + a * session interest, "
        "a = weight * decay(age of the session)", within(0, 1), field="session_weight"),
    Row("features.category", "number", 1.0, "what agreement on the category adds to an item's score", at_least(0)),
    Row("features.brand", "number", 0.6, "what agreement on the brand adds", at_least(0)),
    Row("features.price_band", "number", 0.4, "what agreement on the price band adds", at_least(0)),
    Row("features.item", "number", 0.2, "direct interest in the item itself (a retargeting term)", at_least(0)),
    Row("features.popularity", "number", 0.05, "shop-wide popularity, the whole score for users with no history",
        at_least(0)),
    Row("price_bands.edges", "numbers", [0, 100, 300, 1000, 3000, 8000], "lower edges of the price bands; a price "
        "p falls in the band whose lower edge is the last edge <= p", field="band_edges"),
), apart=(
    ("search.aliases", "query words that name a category or brand in another language: word = \"name\""),
    ("selection", "deprecated: [selection] belongs in scoring/policy.toml; read from here for one release"),
))

CAMPAIGN_RULES = SettingsFile("scoring/campaign_rules.toml", "campaign rules applied to every user's item scores "
                              "after the interest model: filters, cross-sell, carousels, claims, boosts, pins "
                              "(deprecated: scoring/rules.toml, the file's old name, is read for one release when "
                              "this file is absent)", (
    Row("filters.exclude_out_of_stock", "bool", True, "never show an item with stock = 0"),
    Row("filters.suppress_purchased_days", "number", 30.0, "do not advertise what the user bought in this many "
        "days", at_least(0)),
    Row("filters.min_discount_pct", "number", 0.0, "only items at least this many percent below list price "
        "(0: any)", within(0, 100)),
    Row("cross_sell.min_confidence", "number", 0.2, "an association rule shown as a cross-sell banner (\"买了 A 的人"
        "也买了 B\") is at least this sure", within(0, 1), field="cross_sell_min_confidence"),
    Row("cross_sell.min_lift", "number", 1.5, "and has at least this lift", at_least(0), field="cross_sell_min_lift"),
    Row("carousel.min_compared", "integer", 3, "a user who looked at this many items of one category in "
        "within_days is comparing and gets a carousel; 0: never", at_least(0), field="carousel_min_compared"),
    Row("carousel.within_days", "number", 3.0, "the window of min_compared, in days", above(0),
        field="carousel_within_days"),
    Row("claims.new_days", "number", 90.0, "an item is new (a banner may say 新品 or 首发) for this many days after "
        "its catalog `launched` date; an item without one is never new", at_least(0), field="new_days"),
    Row("claims.sale_min_discount_pct", "number", 10.0, "a banner may shout 优惠 only for a discount of at least "
        "this many percent", within(0, 100), field="sale_min_discount_pct"),
    Row("boost.name", "text", "", "the boost's name in explanations; empty: \"boost N\""),
    Row("boost.brand", "names", (), "brands whose items it boosts", field="brands"),
    Row("boost.category", "names", (), "categories whose items it boosts", field="categories"),
    Row("boost.item_ids", "names", (), "items it boosts"),
    Row("boost.add", "number", REQUIRED, "what it adds to the score of a matching item (may be negative)"),
    Row("pin.segment", "text", REQUIRED, "the segment whose users get the item first"),
    Row("pin.item_id", "text", REQUIRED, "the pinned item"),
), arrays=("boost", "pin"))

BLEND = SettingsFile("scoring/blend.toml", "which scorers blend into the item score, their weights and "
                     "hyperparameters, and how the weights are tuned", (
    Row("cold_start.fallback", "text", "popularity_recent", "the scorer a user with no item history falls back to",
        ("popularity", "popularity_recent"), field="cold_start"),
    Row("tune.enabled", "bool", False, "whether `bannergen fit` tunes the weights on the validation window",
        field="tune"),
    Row("tune.validation_days", "number", 30.0, "length of the validation window carved from the end of the "
        "training data", above(0)),
    Row("tune.k", "integer", 10, "the cut-off tuning optimises (NDCG@k)", at_least(1)),
), apart=(
    ("weights", "scorer name = weight of its row-normalised scores (a number >= 0); 0 or a missing line leaves it "
     "out; without blend.toml: content = 1; deprecated: `rules`, read as `association_rules` for one release"),
    ("scorers", "[scorers.<name>]: hyperparameters of one scorer (keyword arguments of its class); deprecated: "
     "[scorers.rules], read as [scorers.association_rules] for one release"),
))
_BLEND_WEIGHT = Row("weights.<scorer>", "number", REQUIRED, "weight of the scorer's scores", at_least(0))


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
    session_minutes: float = WEIGHTS["session.window_minutes"]  # a user's session: their events in this window
    session_weight: float = WEIGHTS["session.weight"]  # the session's share of U_i while it is fresh

    def band_labels(self) -> list[str]:
        """Labels for the price bands: "0-100", ..., "8000+"."""
        edges = [int(e) if float(e).is_integer() else e for e in self.band_edges]
        return [f"{lo}-{hi}" for lo, hi in zip(edges, edges[1:])] + [f"{edges[-1]}+"]


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
class CampaignRules:
    """scoring/campaign_rules.toml: filters, boosts, pins, cross-sell strength, carousels."""

    exclude_out_of_stock: bool = CAMPAIGN_RULES["filters.exclude_out_of_stock"]
    suppress_purchased_days: float = CAMPAIGN_RULES["filters.suppress_purchased_days"]
    min_discount_pct: float = CAMPAIGN_RULES["filters.min_discount_pct"]
    boosts: tuple[Boost, ...] = ()
    pins: tuple[Pin, ...] = ()
    cross_sell_min_confidence: float = CAMPAIGN_RULES["cross_sell.min_confidence"]
    cross_sell_min_lift: float = CAMPAIGN_RULES["cross_sell.min_lift"]
    # A user who interacted with this many distinct items of a category in the last
    # carousel_within_days is comparing: their banner for an item of it becomes a carousel (three
    # items) where a carousel template outranks the item's own template. 0: never.
    carousel_min_compared: int = CAMPAIGN_RULES["carousel.min_compared"]
    carousel_within_days: float = CAMPAIGN_RULES["carousel.within_days"]
    # What a banner may claim: 新品/首发 only within new_days of the catalog's `launched` date,
    # 优惠 only from sale_min_discount_pct percent off (bannergen.claims marks the catalog).
    new_days: float = CAMPAIGN_RULES["claims.new_days"]
    sale_min_discount_pct: float = CAMPAIGN_RULES["claims.sale_min_discount_pct"]
    source: str = field(default="scoring/campaign_rules.toml", compare=False)  # the file read, for messages


@dataclass(frozen=True)
class ScoringSettings:
    weights: InterestWeights
    selection: SelectionSettings  # scoring/policy.toml [selection]
    campaign_rules: CampaignRules = field(default_factory=CampaignRules)
    blend: BlendSettings | None = None  # scoring/blend.toml; None: the content scorer alone


def load_weights(path: Path) -> tuple[InterestWeights, SelectionSettings]:
    """The interest weights of ``path`` (scoring/weights.toml) and the selection settings of its
    folder (policy.toml beside it; weights.toml's own [selection] for one release)."""
    raw = read_toml(path)
    where = shown(path)
    values = WEIGHTS.read(raw, where)
    search = subtable(raw, "search", where)
    aliases = subtable(search, "aliases", f"{where} [search]")
    if not all(isinstance(v, str) for v in aliases.values()):
        raise ConfigError(f"{where} [search.aliases]: must map words to a category or brand name")
    weights = WEIGHTS.record(
        InterestWeights, values, "decay", "session", "features", "price_bands",
        event_weights={e: values[f"events.{e}"] for e in EVENT_TYPES},
        aliases={k.lower(): v for k, v in aliases.items()},
    )
    return weights, load_selection(path.parent / "policy.toml", path, raw)


def _array(raw: dict[str, Any], name: str, where: str) -> list[tuple[int, dict[str, Any], str]]:
    """The items of an array of tables [[name]]: (number from 1, checked values, where)."""
    items = raw.get(name, [])
    if not isinstance(items, list):
        raise ConfigError(f"{where}: [[{name}]] must be an array of tables; got {items!r}")
    return [(n, CAMPAIGN_RULES.read_table(name, item, f"{where} [[{name}]] #{n}"), f"{where} [[{name}]] #{n}")
            for n, item in enumerate(items, start=1)]


def load_campaign_rules(path: Path) -> CampaignRules:
    """The campaign rules of ``path`` (scoring/campaign_rules.toml)."""
    raw = read_toml(path)
    where = shown(path)
    values = CAMPAIGN_RULES.read(raw, where)
    boosts = []
    for n, item, at in _array(raw, "boost", where):
        item["boost.name"] = item["boost.name"] or f"boost {n}"
        boost = CAMPAIGN_RULES.record(Boost, item, "boost")
        if not (boost.brands or boost.categories or boost.item_ids):
            raise ConfigError(f"{at}: matches nothing", hint="give brand, category or item_ids")
        boosts.append(boost)
    pins = tuple(CAMPAIGN_RULES.record(Pin, item, "pin") for _, item, _ in _array(raw, "pin", where))
    return CAMPAIGN_RULES.record(CampaignRules, values, "filters", "cross_sell", "carousel", "claims",
                                 boosts=tuple(boosts),
                                 pins=pins, source=where)


def campaign_rules_path(scoring_dir: Path) -> Path:
    """scoring/campaign_rules.toml, or (deprecated, for one release, when it is absent) scoring/rules.toml.

    The old file is read with a warning naming both; both files present is an error."""
    new, old = scoring_dir / "campaign_rules.toml", scoring_dir / "rules.toml"
    if not old.is_file():
        return new
    if new.is_file():
        raise ConfigError(f"{shown(old)} and {shown(new)} both set the campaign rules",
                          hint=f"keep {shown(new)} only and delete {shown(old)}")
    log.warning("%s is deprecated and read for this release only: rename it to %s", shown(old), shown(new))
    return old


def load_scoring(scoring_dir: Path) -> ScoringSettings:
    """Read weights.toml, campaign_rules.toml, blend.toml and policy.toml's [selection] from a project's
    scoring/ folder."""
    weights, selection = load_weights(scoring_dir / "weights.toml")
    blend = load_blend(scoring_dir / "blend.toml") if (scoring_dir / "blend.toml").is_file() else None
    campaign_rules = load_campaign_rules(campaign_rules_path(scoring_dir))
    return ScoringSettings(weights=weights, selection=selection, campaign_rules=campaign_rules, blend=blend)


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
    cold_start: str = BLEND["cold_start.fallback"]
    validation_days: float = BLEND["tune.validation_days"]
    tune: bool = BLEND["tune.enabled"]
    k: int = BLEND["tune.k"]


DEFAULT_BLEND = BlendSettings(weights={"content": 1.0}, params={})


def load_blend(path: Path) -> BlendSettings:
    """Read scoring/blend.toml; a missing file means the content scorer alone (the engine's default)."""
    if not path.is_file():
        return DEFAULT_BLEND
    raw = read_toml(path)
    where = shown(path)
    raw = {**raw, **{name: _renamed_scorers(subtable(raw, name, where), name, where)
                     for name in ("weights", "scorers") if name in raw}}
    values = BLEND.read(raw, where)
    weights_raw = subtable(raw, "weights", where)
    reject_unknown_keys(weights_raw, SCORER_NAMES, f"{where} [weights]")
    weights = {k: check(dataclasses.replace(_BLEND_WEIGHT, key=f"weights.{k}"), v, f"{where} [weights]")
               for k, v in weights_raw.items()}
    params: dict[str, dict[str, Any]] = {}
    scorers = subtable(raw, "scorers", where)
    reject_unknown_keys(scorers, [n for n in SCORER_NAMES if n != "content"], f"{where} [scorers]")
    for name, table in scorers.items():
        at = f"{where} [scorers.{name}]"
        if not isinstance(table, dict):
            raise ConfigError(f"{at}: must be a table")
        reject_unknown_keys(table, SCORERS[name]._param_names(), at)
        params[name] = dict(table)
        try:
            SCORERS[name](**table)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{at}: {exc}") from exc
    return BLEND.record(BlendSettings, values, "cold_start", "tune", weights=weights, params=params)


RENAMED_SCORERS = {"rules": "association_rules"}  # old name -> name, read for one release


def _renamed_scorers(table: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    """blend.toml's [weights] or [scorers] (``name``) with each scorer's old name replaced by its
    name, with a warning; the old and the new name both given is an error."""
    out = dict(table)
    for old, new in RENAMED_SCORERS.items():
        if old not in out:
            continue
        if name == "weights":
            at, said, says = f"{where} [weights]", f"'{old}'", f"'{new}'"
        else:
            at, said, says = where, f"[scorers.{old}]", f"[scorers.{new}]"
        if new in out:
            raise ConfigError(f"{at}: {said} and {says} both set the {new} scorer",
                              hint=f"keep {says} only and delete {said}")
        log.warning("%s: %s is deprecated and read for this release only: rename it to %s", at, said, says)
        # renamed in its place, so the weights still print in the file's order
        out = {new if key == old else key: value for key, value in out.items()}
    return out

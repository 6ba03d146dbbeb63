"""Segments: named predicates over user profiles, defined in scoring/segments.toml.

A user belongs to a segment when every condition of it holds. `all` is built in. Each
condition is a vectorized mask over all users, so sizing every segment costs a few array ops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bannergen.errors import ConfigError, InputError
from bannergen.features import ItemFeatures
from bannergen.profile import Profiles
from bannergen.settings_table import Row, SettingsFile, at_least, read_toml, shown, within

# Each [<segment>] of scoring/segments.toml is a table of these conditions; a condition not given is not tested.
SEGMENTS = SettingsFile("scoring/segments.toml", "named segments over user profiles: a user belongs to a "
                        "segment when every condition of its [<segment>] table holds (`all` is built in)", (
    Row("<segment>.description", "text", "", "what the segment is, for people"),
    Row("<segment>.top_category", "names", None, "the user's top category is one of these"),
    Row("<segment>.min_affinity", "number", None, "that category's share of the user's interest is at least this",
        within(0, 1)),
    Row("<segment>.brand", "names", None, "the user's top brand is one of these"),
    Row("<segment>.min_purchases", "integer", None, "at least this many purchases", at_least(0)),
    Row("<segment>.max_purchases", "integer", None, "at most this many purchases", at_least(0)),
    Row("<segment>.price_band", "names", None, "the price band with the most interest is one of these "
        "(labels such as \"1000-3000\", \"8000+\")"),
    Row("<segment>.active_within_days", "number", None, "the user's latest event is at most this many days old",
        at_least(0)),
    Row("<segment>.inactive_for_days", "number", None, "the user's latest event is at least this many days old",
        at_least(0)),
), arrays=("<segment>",))
CONDITIONS = tuple(row.name for row in SEGMENTS.rows)
ALL = "all"


@dataclass(frozen=True)
class Segment:
    name: str
    description: str = ""
    conditions: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProfileSummary:
    """Per-user facts the segment conditions test, each an array (n_users,)."""

    top_category: np.ndarray  # object: the category with the most interest, "" for no interest
    affinity: np.ndarray  # float: that category's share of interest
    top_brand: np.ndarray  # object
    price_band: np.ndarray  # object: the band with the most interest
    purchases: np.ndarray
    idle_days: np.ndarray

    @classmethod
    def of(cls, profiles: Profiles, features: ItemFeatures) -> ProfileSummary:
        interest = profiles.interest.tocsc()

        def top(block: str) -> tuple[np.ndarray, np.ndarray]:
            sl = features.blocks[block]
            part = interest[:, sl].toarray()
            best = part.argmax(axis=1) if part.shape[1] else np.zeros(len(part), dtype=int)
            share = part.max(axis=1) if part.shape[1] else np.zeros(len(part))
            labels = np.asarray(features.labels[block] or [""], dtype=object)
            return np.where(share > 0, labels[best], ""), share

        cat, affinity = top("category")
        brand, _ = top("brand")
        band, _ = top("price_band")
        return cls(cat, affinity, brand, band, profiles.purchases, profiles.idle_days)


def load_segments(path: Path) -> dict[str, Segment]:
    """Read scoring/segments.toml. A missing file means only `all` exists."""
    segments = {ALL: Segment(ALL, "every user with at least one event")}
    if not path.exists():
        return segments
    for name, body in read_toml(path).items():
        where = f"{shown(path)} [{name}]"
        if not isinstance(body, dict):
            raise ConfigError(f"{where}: a segment must be a table of conditions; got {body!r}")
        if name == ALL:
            raise ConfigError(f"{where}: 'all' is built in and cannot be redefined")
        values = {key.partition(".")[2]: v for key, v in SEGMENTS.read_table("<segment>", body, where).items()}
        conditions = {k: v for k, v in values.items() if v is not None and k != "description"}
        if not conditions:
            raise ConfigError(f"{where}: has no conditions", hint=f"use some of {', '.join(CONDITIONS[1:])}")
        segments[name] = Segment(name, values["description"], conditions)
    return segments


def _names(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def segment_mask(segment: Segment, summary: ProfileSummary) -> np.ndarray:
    """Bool (n_users,): who is in ``segment``."""
    c = segment.conditions
    mask = np.ones(len(summary.purchases), dtype=bool)
    if "top_category" in c:
        mask &= np.isin(summary.top_category, _names(c["top_category"]))
    if "min_affinity" in c:
        mask &= summary.affinity >= c["min_affinity"]
    if "brand" in c:
        mask &= np.isin(summary.top_brand, _names(c["brand"]))
    if "price_band" in c:
        mask &= np.isin(summary.price_band, _names(c["price_band"]))
    if "min_purchases" in c:
        mask &= summary.purchases >= c["min_purchases"]
    if "max_purchases" in c:
        mask &= summary.purchases <= c["max_purchases"]
    if "active_within_days" in c:
        mask &= summary.idle_days <= c["active_within_days"]
    if "inactive_for_days" in c:
        mask &= summary.idle_days >= c["inactive_for_days"]
    return mask


def get_segment(segments: dict[str, Segment], name: str) -> Segment:
    if name not in segments:
        import difflib

        close = difflib.get_close_matches(name, list(segments), n=1)
        raise InputError(
            f"unknown segment '{name}'; known: {', '.join(segments)}",
            hint=f"did you mean '{close[0]}'?" if close else "define it in scoring/segments.toml",
        )
    return segments[name]

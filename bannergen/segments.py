"""Segments: named predicates over user profiles, defined in scoring/segments.toml.

A user belongs to a segment when every condition of it holds. `all` is built in. Each
condition is a vectorized mask over all users, so sizing every segment costs a few array ops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bannergen.config import read_toml, reject_unknown_keys
from bannergen.errors import ConfigError, InputError
from bannergen.features import ItemFeatures
from bannergen.profile import Profiles

CONDITIONS = (
    "description",
    "top_category",
    "min_affinity",
    "brand",
    "min_purchases",
    "max_purchases",
    "price_band",
    "active_within_days",
    "inactive_for_days",
)
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
        where = f"{path} [{name}]"
        if not isinstance(body, dict):
            raise ConfigError(f"{where}: a segment must be a table of conditions; got {body!r}")
        if name == ALL:
            raise ConfigError(f"{where}: 'all' is built in and cannot be redefined")
        reject_unknown_keys(body, CONDITIONS, where)
        conditions = {k: v for k, v in body.items() if k != "description"}
        if not conditions:
            raise ConfigError(f"{where}: has no conditions", hint=f"use some of {', '.join(CONDITIONS[1:])}")
        for key in ("min_affinity", "min_purchases", "max_purchases", "active_within_days", "inactive_for_days"):
            if key in conditions and (
                isinstance(conditions[key], bool) or not isinstance(conditions[key], (int, float))
            ):
                raise ConfigError(f"{where}: '{key}' must be a number; got {conditions[key]!r}")
        for key in ("top_category", "brand", "price_band"):
            value = conditions.get(key)
            if value is not None and not (
                isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
            ):
                raise ConfigError(f"{where}: '{key}' must be a name or a list of names; got {value!r}")
        segments[name] = Segment(name, str(body.get("description", "")), conditions)
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

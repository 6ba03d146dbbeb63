"""Segments: named conditions over user profiles and behaviour, defined in scoring/segments.toml.

A user belongs to a segment when every condition of its table holds; ``all = [...]`` adds
conditions that must all hold and ``any = [...]`` conditions of which one must, each an inline
table of the same keys (nested as deep as needed). `all` is built in. Every condition is a
vectorized mask over all users, so sizing every segment costs a few array ops:

    [new-customers]
    description = "新客: at most 5 events, no purchase"
    max_events = 5
    max_purchases = 0
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bannergen.errors import ConfigError, InputError
from bannergen.features import ItemFeatures
from bannergen.profile import Profiles
from bannergen.settings_table import Row, SettingsFile, at_least, read_toml, shown, within

_COUNTS = ("events", "views", "carts", "purchases")
_COUNT_HELP = {"events": "events of any kind (searches included)", "views": "views", "carts": "add-to-carts",
               "purchases": "purchases"}

# Each [<segment>] of scoring/segments.toml is a table of these conditions; a condition not given is not tested.
SEGMENTS = SettingsFile("scoring/segments.toml", "named segments over user profiles: a user belongs to a "
                        "segment when every condition of its [<segment>] table holds (`all` is built in)", (
    Row("<segment>.description", "text", "", "what the segment is, for people"),
    Row("<segment>.top_category", "names", None, "the user's top category is one of these"),
    Row("<segment>.min_affinity", "number", None, "that category's share of the user's interest is at least this",
        within(0, 1)),
    Row("<segment>.brand", "names", None, "the user's top brand is one of these"),
    Row("<segment>.categories", "names", None, "the user had an event on an item of one of these categories"),
    Row("<segment>.brands", "names", None, "the user had an event on an item of one of these brands"),
    *(Row(f"<segment>.{end}_{count}", "integer", None, f"at {word} this many {_COUNT_HELP[count]}", at_least(0))
      for count in _COUNTS for end, word in (("min", "least"), ("max", "most"))),
    Row("<segment>.min_spend", "number", None, "spent at least this much (CNY: catalog price of every purchase)",
        at_least(0)),
    Row("<segment>.max_spend", "number", None, "spent at most this much (CNY)", at_least(0)),
    Row("<segment>.price_band", "names", None, "the price band with the most interest is one of these "
        "(labels such as \"1000-3000\", \"8000+\")"),
    Row("<segment>.first_seen_within_days", "number", None,
        "the user's first event is at most this many days old (a new user)", at_least(0)),
    Row("<segment>.first_seen_before_days", "number", None,
        "the user's first event is at least this many days old", at_least(0)),
    Row("<segment>.active_within_days", "number", None, "the user's latest event is at most this many days old",
        at_least(0)),
    Row("<segment>.inactive_for_days", "number", None, "the user's latest event is at least this many days old",
        at_least(0)),
), apart=(("<segment>.all", "a list of inline tables of these conditions: every one must hold"),
          ("<segment>.any", "a list of inline tables of these conditions: at least one must hold")),
   arrays=("<segment>",))
CONDITIONS = tuple(row.name for row in SEGMENTS.rows)
ALL = "all"


@dataclass(frozen=True)
class Condition:
    """What a user must meet: every test of ``tests`` (key of SEGMENTS -> value), every part of
    ``all_of`` and at least one part of ``any_of`` (when it has any)."""

    tests: dict[str, Any] = field(default_factory=dict)
    all_of: tuple[Condition, ...] = ()
    any_of: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Segment:
    name: str
    description: str = ""
    condition: Condition = Condition()

    @property
    def conditions(self) -> dict[str, Any]:
        """The segment's own tests (not those inside ``all``/``any``)."""
        return self.condition.tests


@dataclass(frozen=True)
class ProfileSummary:
    """Per-user facts the segment conditions test, each an array (n_users,)."""

    top_category: np.ndarray  # object: the category with the most interest, "" for no interest
    affinity: np.ndarray  # float: that category's share of interest
    top_brand: np.ndarray  # object
    price_band: np.ndarray  # object: the band with the most interest
    purchases: np.ndarray
    idle_days: np.ndarray
    activity: pd.DataFrame  # Profiles.activity: events, views, carts, purchases, first_seen_days, spend
    touched: dict[str, pd.DataFrame]  # "category"/"brand" -> bool (n_users, n_labels), columns = labels

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

        def touched(block: str) -> pd.DataFrame:
            """Which users had an event on an item of each category (brand): the item-level
            sparsity pattern of their profile times the block of the item features."""
            seen = profiles.strongest.astype(bool).astype(np.float32)
            per_label = (seen @ features.matrix[:, features.blocks[block]]).toarray() > 0
            return pd.DataFrame(per_label, columns=features.labels[block])

        cat, affinity = top("category")
        brand, _ = top("brand")
        band, _ = top("price_band")
        return cls(cat, affinity, brand, band, profiles.purchases, profiles.idle_days, profiles.activity,
                   {"categories": touched("category"), "brands": touched("brand")})


def _read_condition(body: Any, where: str, *, top: bool) -> tuple[str, Condition]:
    """(description, Condition) of one table of segments.toml or one inline table of its all/any."""
    if not isinstance(body, dict):
        raise ConfigError(f"{where}: a condition must be a table; got {body!r}")
    parts: dict[str, tuple[Condition, ...]] = {}
    for key in ("all", "any"):
        if key not in body:
            continue
        items = body[key]
        if not isinstance(items, list) or not items:
            raise ConfigError(f"{where}: '{key}' must be a non-empty list of tables; got {items!r}",
                              hint=f"{key} = [{{ max_events = 5 }}, {{ max_purchases = 0 }}]")
        parts[key] = tuple(_read_condition(item, f"{where} {key}[{n}]", top=False)[1] for n, item in enumerate(items))
    plain = {k: v for k, v in body.items() if k not in ("all", "any")}
    if not top and "description" in plain:
        raise ConfigError(f"{where}: 'description' belongs to the segment, not to a part of it")
    values = {key.partition(".")[2]: v for key, v in SEGMENTS.read_table("<segment>", plain, where).items()}
    tests = {k: v for k, v in values.items() if v is not None and k != "description"}
    for low, high in (("min_spend", "max_spend"), *((f"min_{c}", f"max_{c}") for c in _COUNTS)):
        if low in tests and high in tests and tests[low] > tests[high]:
            raise ConfigError(f"{where}: '{low}' ({tests[low]:g}) is above '{high}' ({tests[high]:g}); no user can "
                              "meet both")
    condition = Condition(tests, parts.get("all", ()), parts.get("any", ()))
    if not tests and not condition.all_of and not condition.any_of:
        raise ConfigError(f"{where}: has no conditions", hint=f"use some of {', '.join(CONDITIONS[1:])}, all, any")
    return values.get("description") or "", condition


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
        description, condition = _read_condition(body, where, top=True)
        segments[name] = Segment(name, description, condition)
    return segments


def _names(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _test_mask(key: str, value: Any, summary: ProfileSummary) -> np.ndarray:
    """Bool (n_users,): who meets the one test ``key = value``."""
    activity = summary.activity
    end, _, count = key.partition("_")
    if count in _COUNTS or count == "spend":
        column = activity[count].to_numpy()
        return column >= value if end == "min" else column <= value
    if key in ("categories", "brands"):
        table = summary.touched[key]
        known = [n for n in _names(value) if n in table.columns]
        return table[known].to_numpy().any(axis=1) if known else np.zeros(len(table), dtype=bool)
    days = {"first_seen_within_days": ("first_seen", np.less_equal), "first_seen_before_days": ("first_seen",
            np.greater_equal), "active_within_days": ("idle", np.less_equal),
            "inactive_for_days": ("idle", np.greater_equal)}
    if key in days:
        which, compare = days[key]
        age = activity["first_seen_days"].to_numpy() if which == "first_seen" else summary.idle_days
        return compare(age, value)
    if key == "min_affinity":
        return summary.affinity >= value
    by_top = {"top_category": summary.top_category, "brand": summary.top_brand, "price_band": summary.price_band}
    return np.isin(by_top[key], _names(value))


def condition_mask(condition: Condition, summary: ProfileSummary) -> np.ndarray:
    """Bool (n_users,): who meets ``condition``."""
    mask = np.ones(len(summary.purchases), dtype=bool)
    for key, value in condition.tests.items():
        mask &= _test_mask(key, value, summary)
    for part in condition.all_of:
        mask &= condition_mask(part, summary)
    if condition.any_of:
        mask &= np.logical_or.reduce([condition_mask(part, summary) for part in condition.any_of])
    return mask


def segment_mask(segment: Segment, summary: ProfileSummary) -> np.ndarray:
    """Bool (n_users,): who is in ``segment``."""
    return condition_mask(segment.condition, summary)


def describe_test(key: str, value: Any) -> str:
    """One test in words: "events <= 5", "categories: 美妆 or 个护"."""
    end, _, what = key.partition("_")
    if end in ("min", "max") and (what in _COUNTS or what == "spend"):
        shown_value = f"¥{value:,.0f}" if what == "spend" else f"{value:,}"
        return f"{what} {'>=' if end == 'min' else '<='} {shown_value}"
    words = {"first_seen_within_days": "first seen <= {} days ago", "first_seen_before_days":
             "first seen >= {} days ago", "active_within_days": "last seen <= {} days ago",
             "inactive_for_days": "last seen >= {} days ago", "min_affinity": "top-category share >= {}"}
    if key in words:
        return words[key].format(f"{value:g}")
    label = {"top_category": "top category", "brand": "top brand", "price_band": "top price band"}.get(key, key)
    return f"{label}: {' or '.join(_names(value))}"


def explain_condition(condition: Condition, summary: ProfileSummary, depth: int = 0) -> Iterator[tuple[int, str, int]]:
    """(depth, the condition in words, users who meet it) for every test and group of ``condition``
    (tests in the order of docs/settings.md, then the groups); a group line ("all of", "any of")
    counts the users who meet the whole group."""
    for key, value in condition.tests.items():
        yield depth, describe_test(key, value), int(_test_mask(key, value, summary).sum())
    for word, parts in (("all of", condition.all_of), ("any of", condition.any_of)):
        if not parts:
            continue
        masks = [condition_mask(part, summary) for part in parts]
        whole = np.logical_and.reduce(masks) if word == "all of" else np.logical_or.reduce(masks)
        yield depth, word, int(whole.sum())
        for part, mask in zip(parts, masks):
            if len(part.tests) == 1 and not part.all_of and not part.any_of:
                yield from explain_condition(part, summary, depth + 1)
            else:  # a part of several tests: the users who meet it, then its tests
                yield depth + 1, "all of", int(mask.sum())
                yield from explain_condition(part, summary, depth + 2)


def get_segment(segments: dict[str, Segment], name: str) -> Segment:
    if name not in segments:
        close = difflib.get_close_matches(name, list(segments), n=1)
        raise InputError(
            f"unknown segment '{name}'; known: {', '.join(segments)}",
            hint=f"did you mean '{close[0]}'?" if close else "define it in scoring/segments.toml",
        )
    return segments[name]

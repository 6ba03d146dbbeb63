"""The blend: s_ij = sum_b weight_b * norm_b(s_b)_ij over the scorers of scoring/blend.toml.

norm_b divides each user's row by its maximum for scorers whose scale means nothing across users
(collaborative filtering, association rules, history); the content score and the popularity scores are used
as they are. Users with no item history get the cold-start scorer (recent or global popularity)
in place of the collaborative terms. Campaign rules are applied after blending, by the caller
(``bannergen.model.Model.scores``).

    >>> blend = Blend.from_settings(load_blend(Path("scoring/blend.toml")), weights).fit(data)  # doctest: +SKIP
    >>> scores = blend.score(data, np.arange(100))      # (100, n_items) float32  # doctest: +SKIP
    >>> shares = blend.contributions(data, rows, items)  # scorer -> (len(rows),) contribution  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from bannergen.scorers.base import Interactions, Scorer, check_rows
from bannergen.scorers.content import ContentScorer
from bannergen.scorers.registry import SCORERS
from bannergen.scorers.settings import BlendSettings, InterestWeights
from bannergen.scorers.sums import Sums


def make_scorer(name: str, params: dict[str, Any] | None = None, interest: InterestWeights | None = None) -> Scorer:
    """A scorer by name with hyperparameters (the content scorer takes the interest weights)."""
    if name == "content":
        if interest is None:
            raise ValueError("the content scorer needs the interest weights of scoring/weights.toml")
        return ContentScorer(interest)
    return SCORERS[name](**(params or {}))


def normalise_rows(block: np.ndarray) -> np.ndarray:
    """Divide each row by its maximum (rows with max <= 0 become 0), in place; returns it."""
    top = block.max(axis=1, keepdims=True) if block.shape[1] else np.zeros((len(block), 1), np.float32)
    np.divide(block, top, out=block, where=top > 0)
    block[(top <= 0).ravel()] = 0.0
    return block


class Blend:
    """A weighted sum of scorers. ``fit`` fits every scorer with a non-zero weight, plus the
    cold-start scorer; ``score`` returns (len(rows), n_items) float32."""

    def __init__(
        self, scorers: dict[str, Scorer], weights: dict[str, float], cold_start: str = "popularity_recent"
    ) -> None:
        self.scorers = scorers
        self.weights = weights
        self.cold_start = cold_start

    @classmethod
    def from_settings(cls, settings: BlendSettings, interest: InterestWeights | None = None,
                      weights: dict[str, float] | None = None, names: list[str] | None = None) -> Blend:
        weights = dict(settings.weights if weights is None else weights)
        wanted = set(names or []) | {n for n, w in weights.items() if w != 0} | {settings.cold_start}
        if interest is None:
            wanted.discard("content")
            weights.pop("content", None)
        scorers = {n: make_scorer(n, settings.params.get(n), interest) for n in sorted(wanted, key=list(SCORERS).index)}
        return cls(scorers, weights, settings.cold_start)

    def fit(self, data: Interactions) -> Blend:
        """Fit every scorer on ``data``: those fitted from sums (``Scorer.additive``) share them."""
        self.fit_sums(self.sums(data), data)
        for name in self.needs_every_user() + (["content"] if "content" in self.scorers else []):
            self.scorers[name].fit(data)
        return self

    def from_sums(self) -> list[str]:
        """The scorers fitted from sums over users (bannergen.scorers.sums). The content scorer is not
        among them: it learns only item popularity from the shop and binds each user's profile."""
        return [n for n, s in self.scorers.items() if n != "content" and s.additive()]

    def needs_every_user(self) -> list[str]:
        """The scorers whose fit reads every user's rows at once (not sums over them)."""
        return [n for n in self.scorers if n != "content" and n not in self.from_sums()]

    def sums(self, data: Interactions) -> Sums:
        """The sums over ``data``'s users that the ``from_sums`` scorers are fitted from; a
        partition's, added to the others' (``sums.add_sums``), fit them as the whole shop would."""
        into: Sums = {}
        for name in self.from_sums():
            self.scorers[name].sums(data, into)
        return into

    def fit_sums(self, sums: Sums, shop: Interactions) -> Blend:
        """Fit the ``from_sums`` scorers from the whole shop's sums (``shop``: its item side). Each
        scorer gets a dict of the sums it reads; a sum no later scorer reads is moved out of
        ``sums`` into it, so the scorer can free it (the Gram matrix, while EASE inverts its copy)."""
        names = self.from_sums()
        last = {key: name for name in names for key in self.scorers[name].sum_keys()}  # its last reader
        for name in names:
            keys = self.scorers[name].sum_keys()
            mine = {key: sums.pop(key) if last[key] == name else sums[key] for key in keys}
            self.scorers[name].fit_sums(mine, shop)
            del mine
        return self

    def component(self, data: Interactions, rows: np.ndarray, name: str) -> np.ndarray:
        """One scorer's block for ``rows``, normalised when the scorer asks: (len(rows), n_items) float32."""
        block = np.asarray(self.scorers[name].score(data, rows), dtype=np.float32)
        return normalise_rows(block) if self.scorers[name].normalize else block

    def components(self, data: Interactions, rows: np.ndarray, names: list[str] | None = None) -> dict[str, np.ndarray]:
        """Each scorer's normalised block for ``rows``: name -> (len(rows), n_items) float32."""
        rows = check_rows(data, rows)
        return {name: self.component(data, rows, name)
                for name in names or [n for n in self.scorers if self.weights.get(n, 0.0) != 0.0]}

    def combine(self, parts: Mapping[str, np.ndarray] | Iterable[tuple[str, np.ndarray]], cold: np.ndarray,
                weights: dict[str, float] | None = None) -> np.ndarray:
        """sum_b w_b * parts[b]; rows where ``cold`` is True get the cold-start scorer's part (plus
        the weighted content part). ``parts`` may be a generator of (name, block): each block is
        added and dropped before the next is computed, so a block costs two (n, n_items) arrays
        whatever the number of scorers. Blocks from a generator are scaled in place."""
        weights = self.weights if weights is None else weights
        pairs: Iterable[tuple[str, np.ndarray]]
        if isinstance(parts, Mapping):
            owned, pairs = False, parts.items()
        else:
            owned, pairs = True, parts  # a generator's blocks are ours to overwrite
        total: np.ndarray | None = None
        fallback: np.ndarray | None = None
        content: np.ndarray | None = None
        any_cold = bool(cold.any())
        shape: tuple[int, int] = (len(cold), 0)
        for name, block in pairs:
            shape = block.shape  # not the block: holding it would keep a third array alive
            if any_cold and name == self.cold_start:
                fallback = block[cold]
            w = np.float32(weights.get(name, 0.0))
            if any_cold and name == "content":
                content = w * block[cold]
            if not w:
                continue
            if total is None:
                total = np.multiply(block, w, out=block) if owned else w * block
            else:
                total += np.multiply(block, w, out=block) if owned else w * block
        if total is None:  # every weight is zero: only cold rows get a score
            total = np.zeros(shape, np.float32)
        if fallback is not None:
            total[cold] = fallback + content if content is not None else fallback
        return total

    def cold_rows(self, data: Interactions, rows: np.ndarray) -> np.ndarray:
        """bool (len(rows),): users with no item interaction at all."""
        return np.diff(data.weights.indptr)[rows] == 0

    def score(self, data: Interactions, rows: np.ndarray) -> np.ndarray:
        rows = check_rows(data, rows)
        names = [n for n in self.scorers if self.weights.get(n, 0.0) != 0.0 or n == self.cold_start]
        # one scorer's block at a time: the scoring peak does not grow with the number of scorers
        return self.combine(((n, self.component(data, rows, n)) for n in names), self.cold_rows(data, rows))

    def contributions(self, data: Interactions, rows: np.ndarray, items: np.ndarray) -> dict[str, np.ndarray]:
        """Each weighted scorer's contribution to the score of ``items[k]`` for user ``rows[k]``:
        name -> ndarray (len(rows),). They sum to the blended score (cold rows: the fallback)."""
        rows = check_rows(data, rows)
        items = np.asarray(items, dtype=np.int64)
        names = [n for n in self.scorers if self.weights.get(n, 0.0) != 0.0 or n == self.cold_start]
        parts = self.components(data, rows, names)
        cold = self.cold_rows(data, rows)
        idx = np.arange(len(rows))
        out = {}
        for name, block in parts.items():
            w = self.weights.get(name, 0.0)
            value = np.float32(w) * block[idx, items]
            if name == self.cold_start:
                value = np.where(cold, block[idx, items], value)
            elif name != "content":
                value = np.where(cold, 0.0, value)
            out[name] = value.astype(np.float64)
        return out

"""Item feature vectors C_j (design article, section 4.1.2): one-hot price band, brand and category.

Built once per catalog as a sparse binary matrix. The block weights of the score live in
scoring/weights.toml and are applied by the scorer, so U_i stays a readable "share of interest"
per feature (zhangsan's U["category:相机"] is 0.5 when half his activity is about cameras).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

if TYPE_CHECKING:  # annotations only: settings imports the scorers, which import this module
    from bannergen.scorers.settings import InterestWeights

BLOCKS = ("category", "brand", "price_band")


@dataclass(frozen=True)
class ItemFeatures:
    """Feature matrix and codes for the catalog's items, in catalog row order.

    matrix: csr (n_items, n_features), one 1.0 per block per item
    names:  feature names, "category:相机", "brand:佳能", "price_band:1000-3000"
    blocks: block name -> slice of feature columns
    codes:  block name -> int array (n_items,), the item's code within the block
    labels: block name -> the block's values, indexed by code
    prices: ndarray (n_items,) the catalog price (CNY), what a purchase of the item spends
    """

    item_ids: pd.Index
    matrix: sp.csr_matrix
    names: list[str]
    blocks: dict[str, slice]
    codes: dict[str, np.ndarray]
    labels: dict[str, list[str]]
    prices: np.ndarray

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def block_weights(self, weights: InterestWeights) -> np.ndarray:
        """Per-feature weight vector (n_features,) from the [features] block weights."""
        out = np.zeros(len(self.names), dtype=np.float64)
        for block, sl in self.blocks.items():
            out[sl] = getattr(weights, block)
        return out

    def feature_index(self) -> dict[str, int]:
        return {name: k for k, name in enumerate(self.names)}


def price_band_codes(prices: np.ndarray, weights: InterestWeights) -> np.ndarray:
    """Band code per price: the index of the last edge <= price (prices below the first edge get 0)."""
    edges = np.asarray(weights.band_edges)
    return np.clip(np.searchsorted(edges, prices, side="right") - 1, 0, len(edges) - 1)


def build_item_features(catalog: pd.DataFrame, weights: InterestWeights) -> ItemFeatures:
    """C_j for every catalog item. ``catalog`` follows the schema in bannergen.types."""
    n = len(catalog)
    cat_codes, cats = pd.factorize(catalog["category"], sort=True)
    brand_codes, brands = pd.factorize(catalog["brand"], sort=True)
    band_codes = price_band_codes(catalog["price"].to_numpy(dtype=np.float64), weights)
    bands = weights.band_labels()
    codes = {"category": cat_codes, "brand": brand_codes, "price_band": band_codes}
    labels = {"category": list(cats), "brand": list(brands), "price_band": bands}
    blocks, offset = {}, 0
    for block in BLOCKS:
        blocks[block] = slice(offset, offset + len(labels[block]))
        offset += len(labels[block])
    rows = np.repeat(np.arange(n), len(BLOCKS))
    cols = np.stack([codes[b] + blocks[b].start for b in BLOCKS], axis=1).ravel()
    matrix = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, offset))
    names = [f"{b}:{v}" for b in BLOCKS for v in labels[b]]
    return ItemFeatures(
        item_ids=pd.Index(catalog["item_id"]),
        matrix=matrix,
        names=names,
        blocks=blocks,
        codes=codes,
        labels=labels,
        prices=catalog["price"].to_numpy(dtype=np.float64),
    )

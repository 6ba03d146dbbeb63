"""Sums over users: what most scorers are fitted from, and why a shop can be fitted in partitions.

Popularity counts, the item x item Gram matrix X'X of EASE and item-kNN, and the basket pair counts
of association rules are sums over users. Each partition of users adds up its own, the partitions'
sums are added together, and one process fits from the total: no process ever holds every user's
rows (bannergen.distributed.fit). One machine goes through the same two steps with one partition,
so both fit with the same code.

Sums are a flat dict keyed by what is summed ("gram/log/0": X'X of the log-transformed matrix,
undecayed), so scorers that need the same sum share it and it is computed once per partition.
Values are float64 arrays or csr matrices: counts stay exact, and the order partitions are added
in changes a float32 weight only when a sum lands on a rounding boundary.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp

Sums = dict[str, Any]

# Users per block of the Gram product: one block's co-occurring pairs, not every user's, are held
# beside the running total.
GRAM_BLOCK_USERS = 8192


def column_sums(matrix: sp.spmatrix) -> np.ndarray:
    """float64 (n_columns,): the sum of each column."""
    return np.asarray(matrix.sum(axis=0, dtype=np.float64)).ravel()


def gram(x: sp.csr_matrix, block_users: int = GRAM_BLOCK_USERS) -> sp.csr_matrix:
    """X'X as a float64 csr matrix (n_columns, n_columns), summed over blocks of rows."""
    x = sp.csr_matrix(x)
    total = sp.csr_matrix((x.shape[1], x.shape[1]), dtype=np.float64)
    for lo in range(0, x.shape[0], block_users):
        part = x[lo : lo + block_users].astype(np.float64)
        total = total + (part.T @ part).tocsr()
    total.sort_indices()
    return total


def add_sums(a: Mapping[str, Any], b: Mapping[str, Any]) -> Sums:
    """Two partitions' sums added key by key (a key only one of them has is kept as it is)."""
    out: Sums = dict(a)
    for key, value in b.items():
        if key not in out:
            out[key] = value
        elif sp.issparse(value) or sp.issparse(out[key]):
            total = sp.csr_matrix(out[key] + value)
            total.sort_indices()
            out[key] = total
        else:
            out[key] = np.asarray(out[key]) + np.asarray(value)
    return out

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


def compact(matrix: Any) -> Any:
    """``matrix`` as a csr matrix or a dense array, whichever is smaller. A Gram matrix fills in as
    users are added; past two thirds of its cells a dense float64 array (8 bytes a cell) is smaller
    than csr (12 bytes a stored value), so a sum of partitions never outgrows items x items."""
    if sp.issparse(matrix) and matrix.nnz * 12 > matrix.shape[0] * matrix.shape[1] * 8:
        return matrix.toarray()
    return matrix


def _plus(total: Any, part: Any, owned: bool = False) -> Any:
    """``total + part`` for csr matrices and dense arrays alike, ``compact``; ``owned``: ``total``
    is the caller's own running sum, so a dense one is added into in place."""
    if sp.issparse(total) and sp.issparse(part):
        out = compact(sp.csr_matrix(total + part))
        if sp.issparse(out):
            out.sort_indices()
        return out
    if sp.issparse(total) or sp.issparse(part):
        dense, sparse = (total, part) if sp.issparse(part) else (part, total)
        if not (owned and dense is total):
            dense = np.array(dense, dtype=np.float64)
        coo = sparse.tocoo()  # from csr: no repeated (row, col), so += by index adds every value
        dense[coo.row, coo.col] += coo.data
        return dense
    return np.add(total, part, out=total) if owned else np.asarray(total) + np.asarray(part)


def gram(x: sp.csr_matrix, block_users: int = GRAM_BLOCK_USERS) -> Any:
    """X'X in float64 (n_columns, n_columns), summed over blocks of rows: a csr matrix, or a dense
    array once that is smaller (``compact``)."""
    x = sp.csr_matrix(x)
    total: Any = sp.csr_matrix((x.shape[1], x.shape[1]), dtype=np.float64)
    for lo in range(0, x.shape[0], block_users):
        part = x[lo : lo + block_users].astype(np.float64)
        total = _plus(total, (part.T @ part).tocsr(), owned=True)
    return total


def add_sums(a: Mapping[str, Any], b: Mapping[str, Any]) -> Sums:
    """Two partitions' sums added key by key (a key only one of them has is kept as it is); the
    inputs are left as they are."""
    out: Sums = dict(a)
    for key, value in b.items():
        out[key] = value if key not in out else _plus(out[key], value)
    return out

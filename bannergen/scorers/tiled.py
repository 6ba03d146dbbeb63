"""A dense item x item weight matrix laid out for fast ``sparse users @ dense weights`` products.

EASE scores a block of users as ``x @ B``: x is sparse (a few dozen items per user), B is dense
(10,000 x 10,000 float32 is 400 MB). scipy multiplies a CSR row by streaming, for every stored
item, the whole 40 KB row of B it selects, so each block re-reads most of B from main memory; and
when B is not C-contiguous (scipy.linalg.inv returns Fortran order) it first copies all 400 MB.
Stored as column tiles (``tiles[k]`` = B[:, k*w:(k+1)*w], C-contiguous, a few MB each) the rows
one tile is read for stay in the CPU cache across the users of a block, and tiles are independent,
so they are multiplied on every core (scipy's sparse kernels release the GIL). On the scale shop
(1,600 users x 10,000 items a block) a block takes 0.08 s instead of 0.8-1.1 s, and one user
0.3 ms instead of 300 ms (benchmarks/RESULTS.md, "Scoring through the blend").

    >>> import numpy as np, scipy.sparse as sp
    >>> b = np.arange(12, dtype=np.float32).reshape(3, 4)   # (n_rows, n_cols) weights
    >>> weights = TiledWeights.from_dense(b, width=2)        # two tiles of two columns
    >>> x = sp.csr_matrix([[1.0, 0.0, 2.0]])                 # one user, (n, n_rows)
    >>> weights.product(x, np.zeros((1, 4), np.float32))     # x @ b
    array([[16., 19., 22., 25.]], dtype=float32)
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp

# One tile of this many bytes: two tiles (one per core) stay inside a 32 MB L3 with room to spare,
# and the per-tile Python overhead stays negligible next to the product.
TILE_BYTES = 8 * 2**20
# Below this many users a block is too small for threads to pay for themselves (serve scores one).
THREADED_MIN_ROWS = 64

_pool: tuple[int, ThreadPoolExecutor] | None = None
_pool_lock = threading.Lock()  # Model.candidates scores two blocks at once: one pool between them


def _executor() -> ThreadPoolExecutor:
    """One pool per process: a pool inherited through fork has no live threads."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (
                os.getpid(),
                ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="bannergen-tile"),
            )
        return _pool[1]


def tile_width(n_rows: int, n_cols: int) -> int:
    """Columns per tile: TILE_BYTES of float32 rows, a multiple of 64, at most all columns."""
    width = max(64, (TILE_BYTES // (4 * max(1, n_rows))) // 64 * 64)
    return min(width, max(1, n_cols))


class TiledWeights:
    """A dense float32 (n_rows, n_cols) matrix stored as column tiles: ``tiles`` has shape
    (n_tiles, n_rows, width); the last tile is zero-padded past ``n_cols``."""

    def __init__(self, tiles: np.ndarray, n_cols: int) -> None:
        if tiles.ndim != 3 or tiles.dtype != np.float32:
            raise ValueError(f"tiles must be float32 (n_tiles, n_rows, width); got {tiles.dtype} {tiles.shape}")
        if not 0 <= n_cols <= tiles.shape[0] * tiles.shape[2] or (
            n_cols and tiles.shape[0] != -(-n_cols // tiles.shape[2])
        ):
            raise ValueError(f"{tiles.shape[0]} tiles of width {tiles.shape[2]} cannot hold {n_cols} columns")
        self.tiles = np.ascontiguousarray(tiles)
        self.n_cols = int(n_cols)

    @classmethod
    def from_dense(cls, matrix: np.ndarray, width: int | None = None) -> TiledWeights:
        """Tile ``matrix``; ``width`` columns a tile (default: ``tile_width``)."""
        n_rows, n_cols = matrix.shape
        width = width or tile_width(n_rows, n_cols)
        n_tiles = -(-n_cols // width) if n_cols else 0
        tiles = np.zeros((n_tiles, n_rows, width), dtype=np.float32)
        for k in range(n_tiles):
            part = matrix[:, k * width : (k + 1) * width]
            tiles[k, :, : part.shape[1]] = part
        return cls(tiles, n_cols)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.tiles.shape[1], self.n_cols)

    def to_dense(self) -> np.ndarray:
        """The (n_rows, n_cols) matrix (a copy; for tests and inspection)."""
        n_tiles, n_rows, width = self.tiles.shape
        return self.tiles.transpose(1, 0, 2).reshape(n_rows, n_tiles * width)[:, : self.n_cols].copy()

    def product(self, x: sp.csr_matrix, out: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
        """Write ``x @ matrix`` into ``out`` (x: csr (n, n_rows); out: float32 (n, >= n_cols)).
        ``columns`` maps the matrix's columns to columns of ``out`` (default: the first n_cols)."""
        x = sp.csr_matrix(x, dtype=np.float32)
        if x.shape[1] != self.tiles.shape[1]:
            raise ValueError(f"x has {x.shape[1]} columns; the weights have {self.tiles.shape[1]} rows")
        width = self.tiles.shape[2]

        def one(k: int) -> None:
            lo, hi = k * width, min((k + 1) * width, self.n_cols)
            part = x @ self.tiles[k]
            target = slice(lo, hi) if columns is None else columns[lo:hi]
            out[:, target] = part[:, : hi - lo]

        n_tiles = self.tiles.shape[0]
        if x.shape[0] < THREADED_MIN_ROWS or n_tiles < 2 or (os.cpu_count() or 1) < 2:
            for k in range(n_tiles):
                one(k)
        else:
            for _ in _executor().map(one, range(n_tiles)):  # re-raises a tile's exception here
                pass
        return out

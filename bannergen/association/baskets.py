"""Reading baskets: one basket per line (items comma separated) or a table with a basket column
and an item column (CSV, gzip CSV, Parquet). Items are stripped, duplicates within a basket
collapse to one, cancelled orders (ids starting with ``C``) and empty baskets are counted and left
out. The result is a binary sparse matrix (n_baskets, n_items)."""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from bannergen.data.readers import display_name, file_kind, read_failure, read_table
from bannergen.errors import DataError


@dataclass(frozen=True)
class BasketSet:
    """Baskets as a binary matrix.

    matrix:    csr (n_baskets, n_items) float32, 1 where the basket holds the item
    items:     list[str] (n_items,), sorted item names (the matrix's columns)
    cancelled: baskets left out because their id starts with the cancel prefix
    empty:     baskets (or blank lines) left out because they hold no item
    duplicates: repeated items within a basket, counted once
    source:    the file as shown in messages
    """

    matrix: sp.csr_matrix
    items: list[str]
    cancelled: int = 0
    empty: int = 0
    duplicates: int = 0
    source: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def n_baskets(self) -> int:
        return self.matrix.shape[0]

    def summary(self) -> str:
        return (f"{self.source}: {self.n_baskets:,} baskets, {len(self.items):,} items; "
                f"skipped {self.cancelled:,} cancelled and {self.empty:,} empty baskets, "
                f"{self.duplicates:,} duplicate items")


def baskets_from_pairs(basket: np.ndarray, item: np.ndarray, *, source: str = "", cancelled: int = 0,
                       empty: int = 0) -> BasketSet:
    """A BasketSet from parallel arrays of basket ids and item names (empty items ignored)."""
    item = np.asarray(item, dtype=object)
    ok = item != ""
    b_codes, b_ids = pd.factorize(np.asarray(basket, dtype=object)[ok], sort=False)
    i_codes, i_names = pd.factorize(item[ok], sort=True)
    pairs = pd.DataFrame({"b": b_codes, "i": i_codes})
    unique = pairs.drop_duplicates()
    matrix = sp.csr_matrix(
        (np.ones(len(unique), np.float32), (unique["b"].to_numpy(), unique["i"].to_numpy())),
        shape=(len(b_ids), len(i_names)),
    )
    # baskets whose every item was empty
    all_ids = pd.unique(np.asarray(basket, dtype=object))
    return BasketSet(matrix, [str(x) for x in i_names], cancelled, empty + len(all_ids) - len(b_ids),
                     len(pairs) - len(unique), source)


def baskets_from_matrix(matrix: sp.spmatrix, items: list[str], source: str = "") -> BasketSet:
    """Wrap an existing binary basket matrix (rows with no item are dropped and counted)."""
    m = sp.csr_matrix(matrix, dtype=np.float32)
    m.data[:] = 1.0
    nonempty = np.diff(m.indptr) > 0
    return BasketSet(m[nonempty], list(items), 0, int((~nonempty).sum()), 0, source)


def _read_lines(path: Path, shown: str) -> BasketSet:
    opener = gzip.open if path.name.endswith(".gz") else open
    basket, item = [], []
    empty = 0
    try:
        with opener(path, "rb") as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as fh:
            for n, row in enumerate(csv.reader(fh)):
                names = [x.strip() for x in row if x.strip()]
                if not names:
                    empty += 1
                    continue
                basket.extend([n] * len(names))
                item.extend(names)
    except UnicodeDecodeError as exc:
        raise DataError(f"{shown}: not UTF-8 text", hint="save it as UTF-8") from exc
    except (OSError, EOFError, zlib.error, csv.Error) as exc:
        raise read_failure(shown, exc, "cannot read baskets") from exc
    return baskets_from_pairs(
        np.asarray(basket, dtype=object), np.asarray(item, dtype=object), source=shown, empty=empty
    )


def read_baskets(path: Path, basket_col: str | None = None, item_col: str | None = None,
                 cancel_prefix: str = "C") -> BasketSet:
    """Read baskets from ``path``.

    Without columns: one basket per line, items comma separated (a .csv or .csv.gz of lines,
    e.g. Groceries). With ``basket_col`` and ``item_col``: a table, one row per (basket, item),
    e.g. Online Retail's InvoiceNo and StockCode. Raises DataError for a missing file or column.
    """
    path = Path(path)
    shown = display_name(path)
    if not path.is_file():
        raise DataError(f"{shown}: file not found" if not path.exists() else f"{shown}: not a file")
    if (basket_col is None) != (item_col is None):
        raise DataError(f"{shown}: give both --basket-col and --item-col, or neither for one basket per line")
    if basket_col is None or item_col is None:  # neither, after the check above
        if file_kind(path) == "parquet":
            raise DataError(f"{shown}: a Parquet file needs --basket-col and --item-col")
        return _read_lines(path, shown)
    raw = read_table(path, (basket_col, item_col), ())
    from bannergen.data.columns import as_text

    basket = as_text(raw.frame[basket_col]).to_numpy(dtype=object)
    item = as_text(raw.frame[item_col]).to_numpy(dtype=object)
    cancelled_rows = (pd.Series(basket, dtype=object).str.startswith(cancel_prefix).to_numpy(dtype=bool)
                      if cancel_prefix else np.zeros(len(basket), bool))
    n_cancelled = len(pd.unique(basket[cancelled_rows])) if cancelled_rows.any() else 0
    keep = ~cancelled_rows & (basket != "")
    return baskets_from_pairs(basket[keep], item[keep], source=shown, cancelled=n_cancelled)

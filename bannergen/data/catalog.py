"""The product catalog: load a file, check every row, return the catalog frame.

Catalog frame schema: see bannergen/types.py. Required columns are item_id, title, brand,
category, price, image and stock; list_price, url and launched are optional.
"""

from __future__ import annotations

import logging
from pathlib import Path

from bannergen.data.columns import as_number, as_text, as_utc_time
from bannergen.data.readers import read_table
from bannergen.data.rejects import LoadResult, RowChecks
from bannergen.errors import DataError

log = logging.getLogger(__name__)

REQUIRED = ("item_id", "title", "brand", "category", "price", "image", "stock")
OPTIONAL = ("list_price", "url", "launched")
COLUMNS = ("item_id", "title", "brand", "category", "price", "list_price", "image", "stock", "url", "launched")

# An absolute path (POSIX, UNC or drive letter) or any ".." segment could reach outside the
# catalog folder, which would let a catalog make the renderer read arbitrary files.
_ESCAPES = r"^(?:[/\\]|[A-Za-z]:)|(?:^|[/\\])\.\.(?:[/\\]|$)"
_URL = r"^https?://[^\s/]+\S*$"


def load_catalog(path: Path) -> LoadResult:
    """Load and validate a catalog (.csv, .csv.gz or .parquet).

    Returns a LoadResult whose frame has one row per valid item (RangeIndex) and the columns
    item_id, title, brand, category (str), price (float64 CNY > 0), list_price (float64, NaN
    when not discounted), image (str, relative to the catalog's folder, "" when absent),
    stock (int64 >= 0) and url (str), and launched (datetime64[ns, UTC], NaT when empty) when
    the file has that column (what bannergen.claims reads for 新品). Raises DataError when the
    file cannot be used at all, including a catalog with no rows.
    """
    import numpy as np
    import pandas as pd

    raw = read_table(Path(path), REQUIRED, OPTIONAL)
    if raw.rows_read == 0:
        raise DataError(f"{raw.display}: no rows; a catalog needs at least one item")
    f = raw.frame
    empty = pd.Series("", index=f.index, dtype="str")
    text = {c: as_text(f[c]) if c in f.columns else empty for c in COLUMNS}
    price = as_number(f["price"])
    list_price = as_number(text["list_price"])
    stock = as_number(f["stock"])
    has_list = (text["list_price"] != "").to_numpy()
    image, url = text["image"], text["url"]

    checks = RowChecks(raw)
    for column, expected in (("item_id", "a product id such as 000101"), ("title", "the product title"),
                             ("brand", "a brand name such as 佳能"), ("category", "a category such as 相机")):
        checks.add(column, text[column] == "", text[column], "empty", expected)
    checks.add("price", ~(price > 0), text["price"], "not a positive number", "a number > 0 such as 4999.00")
    checks.add("list_price", has_list & list_price.isna(), text["list_price"], "not a number",
               "empty or a number >= price such as 5999.00")
    checks.add("list_price", has_list & (list_price < price), text["list_price"], "below the price",
               "empty or a number >= " + text["price"])
    whole = stock.notna() & (stock >= 0) & (stock == np.floor(stock)) & (stock < 2**53)
    checks.add("stock", ~whole, text["stock"], "not a whole number >= 0", "a whole number >= 0 such as 25")
    checks.add("image", image.str.contains(_ESCAPES, regex=True), image, "path escapes the catalog folder",
               "a path inside the catalog's folder such as images/000101.jpg")
    checks.add("image", image.str.contains("://", regex=False), image, "a URL, not a file path",
               "a path inside the catalog's folder such as images/000101.jpg")
    checks.add("url", (url != "") & ~url.str.match(_URL, case=False), url, "not an http(s) URL",
               "empty or a URL such as https://shop.example.com/item/000101")
    # a date outside 1970..2199 is as unusable as no date
    launched, _ = as_utc_time(f["launched"] if "launched" in f.columns else empty)
    checks.add("launched", (text["launched"] != "") & launched.isna(), text["launched"], "not a date",
               "empty or a date such as 2026-11-01")
    # Duplicates are judged among otherwise valid rows, so a broken first copy does not take a
    # good later one down with it; the first valid occurrence wins.
    ids = text["item_id"].where(checks.ok())
    dup = ids.notna() & ids.duplicated(keep="first")
    if dup.any():
        first_line = pd.Series(raw.lines, index=f.index).groupby(ids).transform("min")
        checks.add("item_id", dup, text["item_id"], "duplicate item_id",
                   "a unique id (first used on line " + first_line.fillna(0).astype("int64").astype("str") + ")")

    keep = checks.ok()
    # types.py: list_price is NaN when the item is not discounted, so equal prices count as none.
    list_price = list_price.where(list_price > price)
    frame = pd.DataFrame({
        "item_id": text["item_id"], "title": text["title"], "brand": text["brand"],
        "category": text["category"], "price": price, "list_price": list_price, "image": image,
        "stock": stock.fillna(0), "url": url,
    })[keep].reset_index(drop=True)
    frame = frame.astype({"price": "float64", "list_price": "float64", "stock": "int64"})
    if "launched" in f.columns:
        frame["launched"] = launched[keep].reset_index(drop=True)
    for column in ("item_id", "title", "brand", "category", "image", "url"):
        frame[column] = frame[column].astype("str")
    rejects = checks.rejects()
    log.info("%s: %d items, %d rows rejected", raw.display, len(frame), len(rejects))
    return LoadResult(frame, rejects, raw.rows_read)

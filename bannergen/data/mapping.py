"""Mapping a foreign order-line table onto the catalog and events schema (bannergen/types.py).

A shop whose data is one table of order lines (UCI Online Retail: InvoiceNo, StockCode,
Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country) needs no conversion script;
bannergen.toml says which column is which::

    [mapping]
    table = "../../../shared/data/online-retail/online_retail.csv.gz"
    user = "CustomerID"        # rows without a user feed baskets (association rules) only
    item = "StockCode"
    time = "InvoiceDate"       # ISO 8601 or "2010-12-01 08:26:00" (read as UTC)
    basket = "InvoiceNo"       # orders; cancelled ones (cancel_prefix "C") are skipped
    title = "Description"      # most frequent title per item
    price = "UnitPrice"        # median positive price per item
    quantity = "Quantity"      # rows with quantity <= 0 are returns and skipped

Each kept line with a user becomes a ``purchase`` event; the catalog holds every item that
appears, with category and brand from their columns when mapped (else one value for all), stock 1
and no image. Whole-file problems (missing file or column) are DataErrors naming the file and the
column; unusable rows (no item, bad time) are rejects like any other loader's.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bannergen.data.columns import as_number, as_text, as_utc_time
from bannergen.data.readers import read_table
from bannergen.data.rejects import LoadResult, RowChecks
from bannergen.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from bannergen.config import Project

log = logging.getLogger(__name__)

FIELDS = ("user", "item", "time", "basket", "title", "price", "quantity", "category", "brand", "cancel_prefix")


@dataclass(frozen=True)
class MappedShop:
    """A shop read through a mapping (or from native files).

    catalog:   catalog frame (bannergen/types.py)
    events:    events frame; purchases only for a mapped table
    baskets:   DataFrame (basket, item_id, ts): every kept order line, guests included; None for
               native shops (sessions are used instead)
    rejects:   skipped rows
    rows_read: data rows read
    cancelled: cancelled orders skipped (distinct basket ids)
    returns:   lines with quantity <= 0 skipped
    raw_ids:   the raw user id of each pseudonym of ``events`` (load_shop: in memory only, for the
               assignments tables the CMS reads); None before the privacy guard ran
    """

    catalog: pd.DataFrame
    events: pd.DataFrame
    baskets: pd.DataFrame | None
    rejects: tuple
    rows_read: int
    cancelled: int = 0
    returns: int = 0
    raw_ids: pd.Series | None = None


def load_mapped(path: Path, mapping: dict[str, str]) -> MappedShop:
    """Read a foreign order-line table through ``mapping`` (field -> column name)."""
    import numpy as np
    import pandas as pd

    unknown = [k for k in mapping if k not in FIELDS]
    if unknown:
        raise DataError(f"mapping: unknown field(s) {', '.join(unknown)}; expected {', '.join(FIELDS)}")
    required = [mapping.get(k, "") for k in ("item", "time")]
    if not all(required):
        raise DataError("mapping: 'item' and 'time' must name columns")
    optional = [
        mapping[k] for k in ("user", "basket", "title", "price", "quantity", "category", "brand") if mapping.get(k)
    ]
    raw = read_table(Path(path), tuple(required), tuple(dict.fromkeys(c for c in optional if c not in required)))
    f = raw.frame
    for k in ("user", "basket", "title", "price", "quantity", "category", "brand"):
        col = mapping.get(k, "")
        if col and col not in f.columns:
            raise DataError(f"{raw.display}: mapping.{k} names column '{col}', which is not in the file; "
                            f"found {', '.join(f.columns)}")

    def text(k: str) -> pd.Series:
        col = mapping.get(k, "")
        return as_text(f[col]) if col else pd.Series("", index=f.index, dtype="str")

    item, user, basket = text("item"), text("user"), text("basket")
    # Float-looking ids from a spreadsheet ("17850.0") are the same customer as "17850".
    user = user.str.replace(r"\.0$", "", regex=True)
    ts, far = as_utc_time(f[mapping["time"]])
    prefix = mapping.get("cancel_prefix", "C")
    cancelled = (
        basket.str.startswith(prefix).to_numpy(dtype=bool)
        if (prefix and mapping.get("basket"))
        else np.zeros(len(f), bool)
    )
    qty = as_number(f[mapping["quantity"]]) if mapping.get("quantity") else pd.Series(1.0, index=f.index)
    returns = ~cancelled & (qty.fillna(1.0) <= 0).to_numpy()

    checks = RowChecks(raw)
    checks.add(mapping["item"], (item == "").to_numpy(), item, "empty", "an item id")
    checks.add(mapping["time"], ts.isna().to_numpy() | far, as_text(f[mapping["time"]]), "not a timestamp",
               "ISO 8601 such as 2011-12-09 12:50:00")
    keep = checks.ok() & ~cancelled & ~returns
    n_cancelled = int(pd.Series(basket[cancelled]).nunique())

    price = as_number(f[mapping["price"]]) if mapping.get("price") else pd.Series(1.0, index=f.index)
    lines = pd.DataFrame({
        "item_id": item, "user_id": user, "ts": ts, "basket": basket, "title": text("title"),
        "price": price, "category": text("category"), "brand": text("brand"),
    })[keep]
    if lines.empty:
        raise DataError(f"{raw.display}: no usable order lines after skipping cancellations and returns")
    if not mapping.get("basket"):
        lines["basket"] = lines["user_id"] + "@" + lines["ts"].dt.strftime("%Y-%m-%d")

    def most_common(col: str, default: str) -> pd.Series:
        vals = lines.loc[lines[col] != "", ["item_id", col]]
        top = vals.groupby(["item_id", col], sort=False).size().reset_index(name="n")
        top = top.sort_values(["item_id", "n", col], ascending=[True, False, True]).drop_duplicates("item_id")
        return top.set_index("item_id")[col].reindex(item_ids).fillna(default)

    item_ids = pd.Index(sorted(pd.unique(lines["item_id"])), name="item_id")
    good_price = lines[lines["price"] > 0].groupby("item_id")["price"].median().reindex(item_ids).fillna(1.0)
    catalog = pd.DataFrame({
        "item_id": item_ids.astype("str"),
        "title": most_common("title", "").where(lambda s: s != "", item_ids.to_series()).to_numpy(),
        "brand": most_common("brand", "-").to_numpy(),
        "category": most_common("category", "-").to_numpy(),
        "price": good_price.to_numpy(dtype="float64"),
        "list_price": np.nan,
        "image": "",
        "stock": np.int64(1),
        "url": "",
    })
    for column in ("item_id", "title", "brand", "category", "image", "url"):
        catalog[column] = catalog[column].astype("str")
    catalog["list_price"] = catalog["list_price"].astype("float64")
    buyers = lines[lines["user_id"] != ""]
    events = pd.DataFrame({
        "user_id": buyers["user_id"].astype("str").to_numpy(),
        "item_id": buyers["item_id"].astype("str").to_numpy(),
        "event": "purchase",
        "ts": buyers["ts"].to_numpy(),
        "query": "",
    })
    events["ts"] = pd.to_datetime(events["ts"], utc=True)
    for column in ("user_id", "item_id", "event", "query"):
        events[column] = events[column].astype("str")
    baskets = pd.DataFrame({"basket": lines["basket"].astype("str").to_numpy(),
                            "item_id": lines["item_id"].astype("str").to_numpy(), "ts": lines["ts"].to_numpy()})
    rejects = checks.rejects()
    log.info(
        "%s: %d items, %d purchase events, %d baskets, %d cancelled orders, %d returns, %d rejects",
        raw.display,
        len(catalog),
        len(events),
        baskets["basket"].nunique(),
        n_cancelled,
        int(returns.sum()),
        len(rejects),
    )
    return MappedShop(catalog, events, baskets, rejects, raw.rows_read, n_cancelled, int(returns.sum()))


def load_shop(project: Project, rejects_path: Path | None = None) -> MappedShop:
    """The project's shop: through ``[mapping]`` when ``mapping.table`` is set, else the native
    catalog and events files (validated by load_catalog / load_events). Every rejected row is
    written to ``rejects_path`` (when given) before the reject-rate limit is checked, so a run that
    fails closed still says which rows were wrong. The events come out with pseudonyms for user ids,
    without forgotten users and opted-out behaviour (bannergen.privacy.guard)."""
    from bannergen.privacy.guard import PrivacyGuard

    shop = load_raw_shop(project, rejects_path)
    kept = PrivacyGuard.of(project).protect(shop.events)
    if kept.skipped:
        log.info("%d event rows of forgotten or opted-out users skipped", kept.skipped)
    return dataclasses.replace(shop, events=kept.frame, raw_ids=kept.raw_ids)


def load_raw_shop(project: Project, rejects_path: Path | None) -> MappedShop:
    """The shop as its files say, raw user ids and all (what ``load_shop`` protects; a re-key reads it)."""
    import pandas as pd

    from bannergen.data.catalog import load_catalog
    from bannergen.data.events import load_events
    from bannergen.data.rejects import check_reject_rate, write_rejects

    table = getattr(project, "mapping_table", None)
    if table is not None:
        shop = load_mapped(table, dict(getattr(project, "mapping", ())))
        if rejects_path is not None:
            write_rejects(rejects_path, shop.rejects)
        check_reject_rate(LoadResult(shop.events, shop.rejects, shop.rows_read), table, project.max_reject_rate,
                          rejects_path=rejects_path)
        return shop
    catalog = load_catalog(project.catalog)
    events = load_events(project.events, pd.Index(catalog.frame["item_id"]))
    if rejects_path is not None:
        write_rejects(rejects_path, catalog.rejects + events.rejects)
    check_reject_rate(catalog, project.catalog, project.max_reject_rate, rejects_path=rejects_path)
    check_reject_rate(events, project.events, project.max_reject_rate, rejects_path=rejects_path)
    return MappedShop(catalog.frame, events.frame, None, catalog.rejects + events.rejects,
                      catalog.rows_read + events.rows_read)

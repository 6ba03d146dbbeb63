"""Behaviour events: load a file, check every row, return the events frame.

Events frame schema: see bannergen/types.py. Required columns are user_id, event and ts;
item_id and query are optional (a file of searches only needs no item_id column).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from bannergen.data.columns import as_text, as_utc_time
from bannergen.data.readers import RawTable, read_table
from bannergen.data.rejects import LoadResult, RowChecks
from bannergen.types import EVENT_TYPES

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

REQUIRED = ("user_id", "event", "ts")
OPTIONAL = ("item_id", "query", "consent")
COLUMNS = ("user_id", "item_id", "event", "ts", "query")
TS_EXPECTED = "ISO 8601 such as 2026-11-28T23:59:59Z, or epoch seconds"


def load_events(path: Path, known_items: pd.Index | None = None) -> LoadResult:
    """Load and validate behaviour events (.csv, .csv.gz or .parquet).

    Returns a LoadResult whose frame has the columns user_id, item_id, event, query (str) and
    ts (datetime64[ns, UTC]), in file order, plus consent ("out", "in" or "") when the file has
    that column (bannergen.privacy.guard applies and drops it). User ids are as the file has them.
    Rows naming an item that is not in ``known_items`` (when given, normally the catalog's item_id
    column) are rejected.
    An events file with a header and no rows is valid (a new shop).
    """
    return check_events(read_table(Path(path), REQUIRED, OPTIONAL), known_items)


def check_events(raw: RawTable, known_items: pd.Index | None = None) -> LoadResult:
    """Validate rows read from an events file (all of it, or one piece of a Parquet dataset read by
    a worker of bannergen.distributed): the checks and the frame ``load_events`` describes."""
    import pandas as pd

    f = raw.frame
    empty = pd.Series("", index=f.index, dtype="str")
    user = as_text(f["user_id"])
    # Lower case: "View" from a hand-made export means view; nothing else is guessed.
    event = as_text(f["event"]).str.lower()
    item = as_text(f["item_id"]) if "item_id" in f.columns else empty
    query = as_text(f["query"]) if "query" in f.columns else empty
    ts, far = as_utc_time(f["ts"])
    ts_text = as_text(f["ts"])

    checks = RowChecks(raw)
    checks.add("user_id", user == "", user, "empty", "a user id such as u000123")
    checks.add("event", ~event.isin(EVENT_TYPES), event, "not a known event", "one of " + ", ".join(EVENT_TYPES))
    checks.add("ts", far, ts_text, "outside the years 1970-2199", TS_EXPECTED)
    checks.add("ts", ts.isna(), ts_text, "not a timestamp", TS_EXPECTED)
    is_search = (event == "search").to_numpy()
    checks.add("item_id", ~is_search & (item == "").to_numpy(), item, "empty",
               "an item_id for view, cart and purchase events")
    if known_items is not None:
        unknown = (item != "").to_numpy() & ~item.isin(known_items).to_numpy()
        checks.add("item_id", unknown, item, "not in the catalog", "an item_id listed in the catalog")
    checks.add("query", is_search & (query == "").to_numpy(), query, "empty", "the search text of a search event")
    consent = None
    if "consent" in f.columns:  # an opt-out or opt-in on this row (bannergen.privacy.guard)
        from bannergen.privacy.guard import CONSENT_VALUES

        said = as_text(f["consent"])
        consent = said.str.lower().map(CONSENT_VALUES)
        checks.add("consent", consent.isna().to_numpy(), said, "not a consent value", "out or in (no, yes, false, "
                   "true, 0, 1), or empty")

    keep = checks.ok()
    frame = pd.DataFrame({
        "user_id": user, "item_id": item, "event": event, "ts": ts,
        # types.py: query is "" for non-search events, whatever the file carried there.
        "query": query.where(is_search, ""),
    })
    if consent is not None:
        frame["consent"] = consent.fillna("")
    if not keep.all():
        frame = frame[keep].reset_index(drop=True)
    for column in ("user_id", "item_id", "event", "query", *(("consent",) if consent is not None else ())):
        frame[column] = frame[column].astype("str")
    rejects = checks.rejects()
    log.info("%s: %d events, %d rows rejected", raw.display, len(frame), len(rejects))
    return LoadResult(frame, rejects, raw.rows_read)

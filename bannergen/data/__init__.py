"""Catalog and events: reading, validating, and reporting the rows that were skipped. Example::

    catalog = load_catalog(Path("examples/shop/catalog.csv"))
    events = load_events(Path("examples/shop/events.parquet"), known_items=pd.Index(catalog.frame["item_id"]))
    write_rejects(Path("out/rejects.txt"), catalog.rejects + events.rejects)
    # fail closed: RejectRateError names the file, the share rejected and the report
    check_reject_rate(catalog, Path("examples/shop/catalog.csv"), 0.05, rejects_path=Path("out/rejects.txt"))

Whole-file problems (missing file or columns, wrong delimiter, empty catalog) raise
``bannergen.errors.DataError``; bad rows become ``bannergen.types.Reject`` records and are left
out of the frame. Frame schemas are documented in ``bannergen/types.py``.
"""

from bannergen.data.catalog import load_catalog
from bannergen.data.events import load_events
from bannergen.data.rejects import LoadResult, check_reject_rate, write_rejects

__all__ = ["LoadResult", "check_reject_rate", "load_catalog", "load_events", "write_rejects"]

"""Feedback events: schema, validation, streaming ingest, and the store behind a small interface.

>>> from bannergen.feedback import open_store, ingest_file  # doctest: +SKIP
>>> with open_store(Path(".bannergen/feedback.sqlite")) as store:  # doctest: +SKIP
...     print(ingest_file(Path("events.csv"), store).counts.line())
accepted=3 duplicate=0 rejected=0
"""

from bannergen.feedback.ingest import IngestResult, ingest_file
from bannergen.feedback.schema import FEEDBACK_EVENTS, HOLDOUT_POLICY, IngestCounts
from bannergen.feedback.store import FeedbackStore, open_store
from bannergen.feedback.traffic import invalid_clicks
from bannergen.feedback.validate import Validated, validate_chunk, validate_frame

__all__ = [
    "FEEDBACK_EVENTS", "HOLDOUT_POLICY", "FeedbackStore", "IngestCounts", "IngestResult", "Validated", "ingest_file",
    "invalid_clicks", "open_store", "validate_chunk", "validate_frame",
]

"""Ingest: stream a feedback file, validate each chunk, add it to the store, report rejects.

Memory is bounded by the chunk size. Every chunk is committed before the next is read, so an
interrupted ingest keeps what it acknowledged and re-running it adds only the rest (event ids
make the re-run idempotent).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bannergen.cache import atomic_write
from bannergen.feedback.readers import BATCH_ROWS, BLOCK_BYTES, iter_chunks
from bannergen.feedback.schema import IngestCounts
from bannergen.feedback.store import FeedbackStore
from bannergen.feedback.validate import validate_chunk
from bannergen.types import Reject

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)
KEEP_REJECTS = 20  # kept in memory for the summary; all of them go to the rejects file


@dataclass(frozen=True)
class IngestResult:
    """counts: the totals; first_rejects: up to KEEP_REJECTS rejects in line order;
    rejects_path: the report with every reject (None when not written)."""

    counts: IngestCounts
    first_rejects: tuple[Reject, ...]
    rejects_path: Path | None

    def as_dict(self) -> dict:
        return {**self.counts.as_dict(), "rejects_file": str(self.rejects_path) if self.rejects_path else None}


def ingest_file(path: Path, store: FeedbackStore, known_variants: frozenset[str] | None = None,
                known_decisions: frozenset[str] | None = None, rejects_path: Path | None = None,
                display: str | None = None, now: float | None = None, block_bytes: int = BLOCK_BYTES,
                batch_rows: int = BATCH_ROWS,
                pseudonymize: Callable[[pd.Series], pd.Series] | None = None) -> IngestResult:
    """Add every valid row of ``path`` (CSV, gzip CSV, JSONL, Parquet) to ``store``.

    ``known_variants`` / ``known_decisions`` (None: not checked) flag accepted rows whose variant or
    decision id is unknown; they are kept. Returns counts with accepted + duplicate + rejected ==
    rows read. Rejects go, one
    ``file:line:field: problem; got X; expected Y`` per line, to ``rejects_path`` (written
    atomically; an empty file when there are none). Raises DataError for an unreadable file and
    EnvironmentFailure when the store cannot be written (locked, read-only). ``pseudonymize`` maps
    the user id column before anything is stored (bannergen.privacy.pseudonyms).
    """
    totals = IngestCounts()
    first: list[Reject] = []
    # Rejects are spooled (to disk past 8 MB: a bad file can reject millions of rows), then
    # published in one atomic write, so a reader never sees half a report.
    with tempfile.SpooledTemporaryFile(max_size=8 << 20, mode="w+b") as spool:
        for chunk in iter_chunks(path, display, block_bytes=block_bytes, batch_rows=batch_rows):
            checked = validate_chunk(chunk, now)
            frame = checked.frame.drop(columns="line")
            if pseudonymize is not None:
                frame = frame.assign(user_id=pseudonymize(frame["user_id"]))
            counts = store.add(frame, known_variants, known_decisions)
            totals = totals + counts + IngestCounts(rejected=len(checked.rejects))
            if rejects_path is not None:
                spool.write("".join(f"{r}\n" for r in checked.rejects).encode("utf-8"))
            if len(first) < KEEP_REJECTS:
                first.extend(checked.rejects[: KEEP_REJECTS - len(first)])
        if rejects_path is not None:
            spool.seek(0)
            atomic_write(Path(rejects_path), lambda handle: shutil.copyfileobj(spool, handle))
    log.info("%s: %s unknown_variant=%d unknown_decision=%d", path, totals.line(), totals.unknown_variant,
             totals.unknown_decision)
    return IngestResult(totals, tuple(first), rejects_path)

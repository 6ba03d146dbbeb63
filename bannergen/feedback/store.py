"""The feedback store behind a small interface: SQLite (bannergen.feedback.sqlite) or PostgreSQL
(bannergen.store.postgres).

Callers (ingest, reports, the policy, the HTTP service) use only FeedbackStore; ``open_store``
returns the SQLite WAL implementation, bannergen.store.open_feedback_store either one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Self, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd

    from bannergen.feedback.schema import IngestCounts, Listener


@runtime_checkable
class FeedbackStore(Protocol):
    """Where validated feedback events live.

    add(events)            store a validated feedback frame; idempotent by event_id (a row whose id
                           is stored already counts as duplicate); returns IngestCounts (rejected=0);
                           rows whose variant / decision id is not among the known ones are flagged
    variant_counts()       per variant (holdout rows excluded): variant_id, impressions, clicks,
                           conversions, revenue, cost (filtered) and raw_impressions, raw_clicks
    events_frame(columns, events)  stored events as a feedback frame (subset of columns / types)
    counts_by(keys)        counts per keys (variant_id, placement, policy, user_id) and holdout flag
    daily_counts(ids)      raw impressions and clicks per UTC day for some variants
    subscribe(listener)    real-time hook: listener(delta) after each commit
    last_seq(), changes_since(seq)  the commit sequence, for a process that follows the others' commits
    own_commits            sequence ranges (after, upto] this object committed
    forget(pseudonyms)     delete these users' events so the bytes are gone from the files too; the
                           per-variant rollup keeps its totals (reports do not move); -> rows deleted
    rekey(pairs)           (new, old) pseudonym pairs after a secret rotation; -> rows changed
    """

    own_commits: list[tuple[int, int]]

    @property
    def path(self) -> Path | str: ...  # the SQLite file, or the database URL

    def add(self, events: pd.DataFrame, known_variants: frozenset[str] | None = None,
            known_decisions: frozenset[str] | None = None) -> IngestCounts: ...

    def variant_counts(self) -> pd.DataFrame: ...

    def events_frame(self, columns: Sequence[str] | None = None,
                     events: Sequence[str] | None = None) -> pd.DataFrame: ...

    def count(self) -> int: ...

    def counts_by(self, keys: Sequence[str]) -> pd.DataFrame: ...

    def daily_counts(self, variant_ids: Sequence[str]) -> pd.DataFrame: ...

    def subscribe(self, listener: Listener) -> None: ...

    def last_seq(self) -> int: ...

    def changes_since(self, seq: int, limit: int = 50_000) -> pd.DataFrame: ...

    def forget(self, pseudonyms: list[str]) -> int: ...

    def rekey(self, pairs: list[tuple[str, str]]) -> int: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...

    def close(self) -> None: ...


def open_store(path: Path, timeout: float = 5.0) -> FeedbackStore:
    """Open (creating if needed) the SQLite WAL store at ``path``.

    ``timeout`` (seconds) is how long a write waits for another writer's lock before failing with
    EnvironmentFailure (exit 3).

    >>> store = open_store(Path(".bannergen/feedback.sqlite"))  # doctest: +SKIP
    >>> store.add(validated_frame).line()  # doctest: +SKIP
    'accepted=3 duplicate=0 rejected=0'
    """
    from bannergen.feedback.sqlite import SQLiteStore

    return SQLiteStore(Path(path), timeout=timeout)

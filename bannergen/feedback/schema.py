"""The logged-feedback record: what one impression, click or conversion says.

Feedback frame (one row per event, as validated by ``bannergen.feedback.validate``):
    event_id    str      dedupe key; when the input has none, ``"h:" + 32 hex`` from a keyed hash
                         of the other (normalised) fields, so the same event in CSV or Parquet
                         gets the same id
    ts          int64    microseconds since 1970-01-01 UTC (naive input times are taken as UTC)
    user_id     str
    variant_id  str
    event       str      one of FEEDBACK_EVENTS
    value       float64  revenue in CNY, >= 0 (0 when absent)
    cost        float64  cost in CNY, >= 0 (0 when absent)
    placement   str      "" when absent
    propensity  float64  probability the logging policy chose this variant, in (0, 1]; NaN when absent
    policy      str      the logging policy; "holdout" marks the control group (see reporting)
    decision_id str      the decision the banner was shown for, echoed by the CMS from the decision
                         response or the batch assignments; "" when absent

This is zr-obp's logged bandit feedback record: (context, action, reward, pscore) flows from the
serving side through the store to the report and the off-policy estimators unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

FEEDBACK_EVENTS: tuple[str, ...] = ("impression", "click", "conversion")
EVENT_CODES: dict[str, int] = {name: code for code, name in enumerate(FEEDBACK_EVENTS)}

REQUIRED_COLUMNS: tuple[str, ...] = ("ts", "user_id", "variant_id", "event")
COLUMNS: tuple[str, ...] = ("event_id", "ts", "user_id", "variant_id", "event", "value", "cost",
                            "placement", "propensity", "policy", "decision_id")

HOLDOUT_POLICY = "holdout"

# Called after each committed add() with the newly stored rows aggregated per
# (variant_id, placement): columns variant_id, placement, impressions, clicks, conversions.
Listener = Callable[["pd.DataFrame"], None]

# Bounds that catch unit mistakes (fen instead of yuan, ms instead of s) without judging prices.
MAX_VALUE = 10_000_000.0        # CNY of revenue on one conversion
MAX_COST = 1_000_000.0          # CNY of cost on one event
FUTURE_SKEW_SECONDS = 300       # clocks of ad servers drift; beyond 5 minutes ahead is a bug
MIN_TS_ISO = "2000-01-01T00:00:00Z"


@dataclass(frozen=True)
class IngestCounts:
    """Outcome of adding events. accepted + duplicate + rejected == rows read, always.

    unknown_variant counts accepted rows whose variant id is not in any manifest (kept, flagged);
    unknown_decision those whose decision id is in no decision log (kept, flagged).
    """

    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    unknown_variant: int = 0
    unknown_decision: int = 0

    @property
    def rows(self) -> int:
        return self.accepted + self.duplicate + self.rejected

    def __add__(self, other: IngestCounts) -> IngestCounts:
        return IngestCounts(self.accepted + other.accepted, self.duplicate + other.duplicate,
                            self.rejected + other.rejected, self.unknown_variant + other.unknown_variant,
                            self.unknown_decision + other.unknown_decision)

    def as_dict(self) -> dict[str, int]:
        return {"accepted": self.accepted, "duplicate": self.duplicate, "rejected": self.rejected,
                "unknown_variant": self.unknown_variant, "unknown_decision": self.unknown_decision}

    def line(self) -> str:
        """The contract line printed by ``bannergen feedback ingest``."""
        return f"accepted={self.accepted} duplicate={self.duplicate} rejected={self.rejected}"

"""The reading half of a feedback store, in SQL both SQLite and PostgreSQL run unchanged.

A backend supplies ``_query(sql, params)`` (``?`` placeholders) and ``SEQ``, the column that
orders rows as they were committed (SQLite's rowid, PostgreSQL's bigserial ``seq``); everything a
report, an evaluation or the serving view reads is computed here, once, so both stores give the
same answers. Aggregates are cast back to int64/float64 in pandas: PostgreSQL sums integers as
numeric.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bannergen.feedback.schema import EVENT_CODES, FEEDBACK_EVENTS, HOLDOUT_POLICY, Listener
from bannergen.feedback.traffic import invalid_clicks

ROLLUP_KEYS = ("variant_id", "placement", "policy")
GROUP_KEYS = ("variant_id", "placement", "policy", "user_id")
EVENT_COLUMNS = ("event_id", "ts", "user_id", "variant_id", "event", "value", "cost", "placement", "propensity",
                 "policy", "decision_id", "unknown_variant", "unknown_decision")
# The order both stores insert in (the events table's column order).
INSERT_COLUMNS = ("event_id", "ts", "user_id", "variant_id", "event", "value", "cost", "placement", "propensity",
                  "policy", "unknown_variant", "decision_id", "unknown_decision")
# What a process that follows the store reads of rows other processes committed.
CHANGE_COLUMNS = ("seq", "ts", "user_id", "variant_id", "event", "placement")
MONEY_DECIMALS = 6
# Forgetting users (``{users}``: a placeholder list on SQLite, ``= ANY(%s)`` on PostgreSQL); the
# rollup's totals stay, so reports keep them.
FORGET_FEEDBACK = "DELETE FROM events WHERE user_id {users}"
REKEY_FEEDBACK = "UPDATE events SET user_id = ? WHERE user_id = ?"  # (new pseudonym, old) after a secret rotation


def unknown_flags(ids: np.ndarray, known: frozenset[str] | None, blank_is_known: bool = False) -> list:
    """Per row: 1 when the id is not in ``known``, 0 when it is, None when not checked (no ``known``)."""
    if known is None:
        return [None] * len(ids)
    unknown = ~pd.Series(ids).isin(known).to_numpy()
    if blank_is_known:
        unknown &= ids != ""
    return unknown.astype(np.int64).tolist()


def stored_columns(events: pd.DataFrame, known_variants: frozenset[str] | None,
                   known_decisions: frozenset[str] | None) -> list[list]:
    """The columns of the events table (in INSERT_COLUMNS order) for a validated feedback frame:
    event as its code, a missing propensity as None, the unknown-variant and unknown-decision flags."""
    n = len(events)
    variant = events["variant_id"].to_numpy(dtype=object)
    decision = (events["decision_id"].to_numpy(dtype=object) if "decision_id" in events
                else np.full(n, "", dtype=object))
    prop = events["propensity"].to_numpy(dtype=np.float64)
    return [
        events["event_id"].astype(str).tolist(), events["ts"].to_numpy(dtype=np.int64).tolist(),
        events["user_id"].astype(str).tolist(), variant.astype(str).tolist(),
        pd.Series(events["event"].to_numpy()).map(EVENT_CODES).to_numpy(dtype=np.int64).tolist(),
        events["value"].to_numpy(dtype=np.float64).tolist(), events["cost"].to_numpy(dtype=np.float64).tolist(),
        events["placement"].astype(str).tolist(),
        np.where(np.isnan(prop), np.asarray(None), prop.astype(object)).tolist(),
        events["policy"].astype(str).tolist(), unknown_flags(variant, known_variants), decision.astype(str).tolist(),
        unknown_flags(decision, known_decisions, blank_is_known=True),
    ]


def commit_delta(rollup_rows: list[tuple]) -> pd.DataFrame:
    """A listener's delta from the rollup rows of one commit ((variant_id, placement, policy, event, n, ...)):
    variant_id, placement, impressions, clicks, conversions."""
    delta = pd.DataFrame([r[:5] for r in rollup_rows], columns=["variant_id", "placement", "policy", "event", "n"])
    delta = delta.pivot_table(index=["variant_id", "placement"], columns="event", values="n", aggfunc="sum",
                              fill_value=0).reindex(columns=[0, 1, 2], fill_value=0)
    delta.columns = ["impressions", "clicks", "conversions"]
    return delta.reset_index()


class FeedbackQueries:
    """Reads shared by every FeedbackStore backend (see bannergen.feedback.store.FeedbackStore)."""

    SEQ = "rowid"
    _listeners: list[Listener]

    def _query(self, sql: str, params: Sequence = ()) -> list[tuple]:
        raise NotImplementedError

    def _notify(self, rollup_rows: list[tuple]) -> None:
        if self._listeners and rollup_rows:
            delta = commit_delta(rollup_rows)
            for listener in self._listeners:
                listener(delta)

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(delta)`` after every committed add() in this process (see store.Listener)."""
        self._listeners.append(listener)

    def count(self) -> int:
        return int(self._query("SELECT count(*) FROM events")[0][0])

    def last_seq(self) -> int:
        """The commit order of the newest stored event (0 when empty)."""
        return int(self._query(f"SELECT coalesce(max({self.SEQ}), 0) FROM events")[0][0])

    def changes_since(self, seq: int, limit: int = 50_000) -> pd.DataFrame:
        """Events committed after ``seq`` (any process), oldest first: CHANGE_COLUMNS, event as its name."""
        rows = self._query(f"SELECT {self.SEQ}, ts, user_id, variant_id, event, placement FROM events "
                           f"WHERE {self.SEQ} > ? ORDER BY {self.SEQ} LIMIT ?", (seq, limit))
        frame = pd.DataFrame(rows, columns=list(CHANGE_COLUMNS))
        frame["seq"] = frame["seq"].astype(np.int64)
        frame["ts"] = frame["ts"].astype(np.int64)
        frame["event"] = np.asarray(FEEDBACK_EVENTS, dtype=object)[frame["event"].to_numpy(dtype=np.int64)]
        return frame

    def counts_by(self, keys: Sequence[str]) -> pd.DataFrame:
        """Counts per combination of ``keys`` (from variant_id, placement, policy, user_id) and
        holdout (bool: policy == "holdout").

        Columns: *keys, holdout, raw_impressions, raw_clicks, impressions, clicks (filtered),
        conversions, revenue, cost. Aggregated in SQL; only clicks and the impressions of the pairs
        that have clicks come back to Python, to find invalid clicks.
        """
        keys = list(keys)
        bad = [k for k in keys if k not in GROUP_KEYS]
        if bad:
            raise ValueError(f"unknown group keys {bad}; expected some of {GROUP_KEYS}")
        sel = ", ".join([*keys, "policy = ?"])
        groups = ", ".join(str(n) for n in range(1, len(keys) + 2))
        table, n = ("rollup", "n") if set(keys) <= set(ROLLUP_KEYS) else ("events", "1")
        rows = self._query(
            f"SELECT {sel}, sum(CASE WHEN event = 0 THEN {n} ELSE 0 END), "
            f"sum(CASE WHEN event = 1 THEN {n} ELSE 0 END), "
            f"sum(CASE WHEN event = 2 THEN {n} ELSE 0 END), sum(CASE WHEN event = 2 THEN value ELSE 0 END), "
            f"sum(cost) FROM {table} GROUP BY {groups}",
            (HOLDOUT_POLICY,))
        cols = [*keys, "holdout", "raw_impressions", "raw_clicks", "conversions", "revenue", "cost"]
        counts = pd.DataFrame(rows, columns=cols)
        counts["holdout"] = counts["holdout"].astype(bool)
        for c in ("raw_impressions", "raw_clicks", "conversions"):
            counts[c] = counts[c].astype(np.int64)
        for c in ("revenue", "cost"):
            # Money, summed by the database in its own order: rounded to a millionth, so the last
            # bits of a float sum never differ between stores (93861.29999999999 is 93861.3).
            counts[c] = counts[c].astype(np.float64).round(MONEY_DECIMALS)
        invalid = self._invalid_click_counts(keys)
        counts = counts.merge(invalid, on=[*keys, "holdout"], how="left")
        counts["invalid_clicks"] = counts["invalid_clicks"].fillna(0).astype(np.int64)
        counts["impressions"] = counts["raw_impressions"]
        counts["clicks"] = counts["raw_clicks"] - counts["invalid_clicks"]
        # One order whatever the database's GROUP BY returns: what is computed per row downstream
        # (posterior draws for P(beat control)) then matches between stores.
        return counts.drop(columns="invalid_clicks").sort_values([*keys, "holdout"], ignore_index=True)

    def _invalid_click_counts(self, keys: list[str]) -> pd.DataFrame:
        extra = [k for k in keys if k not in ("user_id", "variant_id")]
        cols = list(dict.fromkeys(["user_id", "variant_id", "event", "ts", *extra, "policy"]))
        rows = self._query(
            f"SELECT {', '.join(cols)} FROM events WHERE event IN (0, 1) AND (user_id, variant_id) IN "
            f"(SELECT user_id, variant_id FROM events WHERE event = 1) ORDER BY {self.SEQ}")
        frame = pd.DataFrame(rows, columns=cols)
        frame["ts"] = frame["ts"].astype(np.int64)
        frame["holdout"] = frame["policy"] == HOLDOUT_POLICY
        frame["invalid_clicks"] = invalid_clicks(frame).astype(np.int64) if len(frame) else 0
        return frame.groupby([*keys, "holdout"], as_index=False, sort=False)["invalid_clicks"].sum()

    def daily_counts(self, variant_ids: Sequence[str]) -> pd.DataFrame:
        """Raw impressions and clicks per UTC day for ``variant_ids`` (holdout excluded):
        day (datetime64, UTC midnight), variant_id, impressions, clicks."""
        ids = list(variant_ids)
        if not ids:
            return pd.DataFrame(columns=["day", "variant_id", "impressions", "clicks"])
        rows = self._query(
            "SELECT ts / 86400000000, variant_id, sum(CASE WHEN event = 0 THEN 1 ELSE 0 END), "
            "sum(CASE WHEN event = 1 THEN 1 ELSE 0 END) FROM events "
            f"WHERE event IN (0, 1) AND policy != ? AND variant_id IN ({', '.join('?' * len(ids))}) GROUP BY 1, 2",
            (HOLDOUT_POLICY, *ids))
        frame = pd.DataFrame(rows, columns=["day", "variant_id", "impressions", "clicks"])
        for c in ("impressions", "clicks"):
            frame[c] = frame[c].astype(np.int64)
        frame["day"] = pd.to_datetime(frame["day"].astype(np.int64), unit="D", utc=True)
        return frame

    def variant_counts(self) -> pd.DataFrame:
        """Per variant, holdout rows excluded: variant_id, impressions, clicks, conversions, revenue,
        cost (filtered), raw_impressions, raw_clicks. Sorted by variant_id."""
        counts = self.counts_by(["variant_id"])
        counts = counts[~counts["holdout"]].drop(columns="holdout")
        return counts[["variant_id", "impressions", "clicks", "conversions", "revenue", "cost",
                       "raw_impressions", "raw_clicks"]].sort_values("variant_id").reset_index(drop=True)

    def events_frame(self, columns: Sequence[str] | None = None,
                     events: Sequence[str] | None = None) -> pd.DataFrame:
        """Stored events (in commit order) as a feedback frame, plus ``unknown_variant`` and
        ``unknown_decision``. ``columns`` picks columns; ``events`` keeps only those event types."""
        cols = list(columns or EVENT_COLUMNS)
        where, params = "", tuple[int, ...]()
        if events:
            where = f" WHERE event IN ({', '.join('?' * len(events))})"
            params = tuple(EVENT_CODES[e] for e in events)
        frame = pd.DataFrame(self._query(f"SELECT {', '.join(cols)} FROM events{where} ORDER BY {self.SEQ}", params),
                             columns=cols)
        if "event" in frame:
            frame["event"] = np.asarray(FEEDBACK_EVENTS, dtype=object)[frame["event"].to_numpy(dtype=np.int64)]
        for c in ("propensity", "value", "cost"):
            if c in frame:
                frame[c] = frame[c].astype(np.float64)
        if "ts" in frame:
            frame["ts"] = frame["ts"].astype(np.int64)
        return frame

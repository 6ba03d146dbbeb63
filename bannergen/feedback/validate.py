"""Checking one chunk of raw feedback rows, whole columns at a time.

Each row is rejected for the first check it fails, with a Reject
``file:line:field: problem; got X; expected Y``; the rest become the feedback frame documented
in ``bannergen.feedback.schema``. Messages are built for rejected rows only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bannergen.feedback.readers import RawChunk
from bannergen.feedback.schema import (
    COLUMNS,
    FEEDBACK_EVENTS,
    FUTURE_SKEW_SECONDS,
    MAX_COST,
    MAX_VALUE,
    MIN_TS_ISO,
)
from bannergen.types import Reject

_HASH_KEYS = ("bannergen-fb-k01", "bannergen-fb-k02")  # hash_array wants 16-character keys
_MIN_TS_US = int(pd.Timestamp(MIN_TS_ISO).value // 1000)
GOT_WIDTH = 40


@dataclass(frozen=True)
class Validated:
    """frame: the valid rows (feedback frame) with an int64 ``line`` column; rejects: in line order."""

    frame: pd.DataFrame
    rejects: tuple[Reject, ...]


def _got(value: object) -> str:
    text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    shown = repr(text)
    return shown if len(shown) <= GOT_WIDTH else shown[: GOT_WIDTH - 2] + "…" + shown[0]


class _Checks:
    def __init__(self, n: int) -> None:
        self.failed = np.zeros(n, dtype=bool)
        self.found: list[tuple[np.ndarray, str, np.ndarray, str, str]] = []

    def add(self, field: str, bad: np.ndarray, got: pd.Series, problem: str, expected: str) -> None:
        mask = np.asarray(bad, dtype=bool) & ~self.failed
        if mask.any():
            self.failed |= mask
            rows = np.flatnonzero(mask)
            self.found.append((rows, field, got.to_numpy()[rows], problem, expected))

    def rejects(self, display: str, lines: np.ndarray) -> list[Reject]:
        return [Reject(display, int(lines[r]), field, problem, _got(g), expected)
                for rows, field, gots, problem, expected in self.found for r, g in zip(rows, gots)]


def _text(frame: pd.DataFrame, name: str) -> pd.Series:
    """The column as stripped text ("" when absent or null)."""
    if name not in frame.columns:
        return pd.Series("", index=frame.index, dtype=object)
    col = frame[name]
    if col.dtype != object:
        # Typed columns (Parquet, JSONL numbers): as object text, keeping nulls as "".
        col = pd.Series(np.where(col.isna().to_numpy(), "", col.astype(str).to_numpy(dtype=object)),
                        index=frame.index, dtype=object)
    elif col.isna().any():
        col = col.where(col.notna(), "")
    # Object dtype on purpose: pandas' arrow strings would be converted back for every SQLite row.
    # Cells are taken as written (machine logs; trimming costs a Python call per cell), except
    # event names, which are normalised below.
    return col


def _timestamps(raw: pd.Series, text: pd.Series) -> np.ndarray:
    """int64 microseconds since the epoch (UTC); INT64 min where unparsable.
    Accepts ISO 8601 text (naive = UTC), datetimes, and numbers as epoch seconds."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        ts = pd.to_datetime(raw, utc=True)
    else:
        ts = pd.to_datetime(text.where(text != ""), utc=True, format="ISO8601", errors="coerce")
        numeric = pd.to_numeric(text.where(ts.isna() & (text != "")), errors="coerce")
        if numeric.notna().any():
            ts = ts.where(numeric.isna(), pd.to_datetime(numeric, unit="s", utc=True, errors="coerce"))
    bad = ts.isna().to_numpy()
    us = ts.fillna(pd.Timestamp(0, tz="UTC")).dt.as_unit("us").astype("int64").to_numpy().copy()
    us[bad] = np.iinfo(np.int64).min
    return us


def _number(raw: pd.Series | None, text: pd.Series) -> np.ndarray:
    if raw is not None and pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        return raw.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.to_numeric(text.where(text != "").to_numpy(dtype=object), errors="coerce").astype(np.float64)


def derive_event_ids(frame: pd.DataFrame) -> np.ndarray:
    """``"h:" + 32 hex`` per row from a 128-bit keyed hash of the normalised fields (all but
    event_id). Normalised, so the same event read from CSV or Parquet gets the same id. An empty
    decision id adds nothing, so rows without one keep the ids they had before the column existed."""
    cols = [c for c in COLUMNS if c != "event_id"]
    parts = []
    for key in _HASH_KEYS:
        h = np.zeros(len(frame), dtype=np.uint64)
        for c in cols:
            if c not in frame:
                continue
            values = frame[c].to_numpy()
            col = pd.util.hash_array(values.astype(object) if values.dtype == object else values,
                                     hash_key=key, categorize=False)
            # A polynomial combine (not xor) so swapped fields give a different id.
            mixed = h * np.uint64(1_000_003) + col
            h = np.where(values != "", mixed, h) if c == "decision_id" else mixed
        parts.append(h)
    hi = pd.Series(parts[0]).map("{:016x}".format).to_numpy(dtype=object)
    lo = pd.Series(parts[1]).map("{:016x}".format).to_numpy(dtype=object)
    return "h:" + hi + lo


def validate_chunk(chunk: RawChunk, now: float | None = None) -> Validated:
    """Check every row of ``chunk``; ``now`` (epoch seconds, default the clock) bounds future times."""
    f = chunk.frame
    n = len(f)
    checks = _Checks(n)
    now_us = int((time.time() if now is None else now) * 1e6)

    ts_text = _text(f, "ts")
    ts = _timestamps(f.get("ts", ts_text), ts_text) if n else np.zeros(0, np.int64)
    iso = "an ISO 8601 time, e.g. 2026-11-29T08:00:00Z"
    checks.add("ts", (ts_text == "").to_numpy(), ts_text, "missing timestamp", iso)
    unparsable = ts == np.iinfo(np.int64).min
    checks.add("ts", unparsable, ts_text, "not a timestamp", iso)
    checks.add("ts", ~unparsable & (ts > now_us + FUTURE_SKEW_SECONDS * 1_000_000), ts_text,
               "in the future", f"a time at most {FUTURE_SKEW_SECONDS // 60} minutes ahead of now")
    checks.add("ts", ~unparsable & (ts < _MIN_TS_US), ts_text, "too far in the past", f"a time after {MIN_TS_ISO}")

    user = _text(f, "user_id")
    checks.add("user_id", (user == "").to_numpy(), user, "missing user id", "a non-empty id")
    variant = _text(f, "variant_id")
    checks.add("variant_id", (variant == "").to_numpy(), variant, "missing variant id", "a variant id from a manifest")
    event_raw = _text(f, "event")
    event = event_raw
    odd = ~event.isin(FEEDBACK_EVENTS).to_numpy()
    if odd.any():  # " Click" and "CLICK" are the same event; only the odd rows pay for the fix
        event = event.copy()
        event[odd] = event[odd].map(lambda v: str(v).strip().lower())
    checks.add("event", ~event.isin(FEEDBACK_EVENTS).to_numpy(), event_raw, "unknown event type",
               " | ".join(FEEDBACK_EVENTS))

    numbers = {}
    for name, limit in (("value", MAX_VALUE), ("cost", MAX_COST)):
        text = _text(f, name)
        num = _number(f.get(name), text)
        present = (text != "").to_numpy()
        checks.add(name, present & ~np.isfinite(num), text, "not a number", "a number >= 0 (CNY)")
        checks.add(name, present & (num < 0), text, "negative", "a number >= 0 (CNY)")
        checks.add(name, present & (num > limit), text, "absurdly large", f"at most {limit:,.0f} CNY")
        numbers[name] = np.where(present, num, 0.0)

    p_text = _text(f, "propensity")
    p = _number(f.get("propensity"), p_text)
    p_present = (p_text != "").to_numpy()
    checks.add("propensity", p_present & np.isnan(p), p_text, "not a number", "a probability in (0, 1]")
    checks.add("propensity", p_present & ~np.isnan(p) & ~((p > 0) & (p <= 1)), p_text, "outside (0, 1]",
               "a probability in (0, 1]")

    ok = ~checks.failed
    obj = lambda a: pd.Series(np.asarray(a, dtype=object)[ok], dtype=object)  # noqa: E731 (no arrow strings)
    clean = pd.DataFrame({
        "event_id": obj(_text(f, "event_id")),
        "ts": ts[ok],
        "user_id": obj(user),
        "variant_id": obj(variant),
        "event": obj(event),
        "value": numbers["value"][ok],
        "cost": numbers["cost"][ok],
        "placement": obj(_text(f, "placement")),
        "propensity": np.where(p_present, p, np.nan)[ok],
        "policy": obj(_text(f, "policy")),
        "decision_id": obj(_text(f, "decision_id")),
        "line": chunk.lines[ok] if n else np.zeros(0, np.int64),
    })
    missing_id = clean["event_id"].to_numpy() == ""
    if missing_id.any():
        clean.loc[missing_id, "event_id"] = derive_event_ids(clean.loc[missing_id])
    rejects = list(chunk.bad_rows) + checks.rejects(chunk.display, chunk.lines)
    rejects.sort(key=lambda r: r.line)
    return Validated(clean, tuple(rejects))


def validate_frame(frame: pd.DataFrame, display: str = "<events>", now: float | None = None) -> Validated:
    """Validate an in-memory raw frame (the columns of schema.COLUMNS); lines count rows from 1."""
    return validate_chunk(RawChunk(frame.reset_index(drop=True), np.arange(1, len(frame) + 1, dtype=np.int64),
                                   (), display), now)

"""Turning raw columns (CSV text or Parquet's stored types) into typed columns, vectorized.

Each helper accepts either kind, so CSV and Parquet inputs go through the same checks.
Unparseable cells become NaN/NaT; the caller turns those into rejects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

# Accepted timestamps lie in [1970, 2200): later values are usually epoch milliseconds read as
# seconds, and nanosecond datetimes end in 2262 anyway.
_EPOCH_MAX = 7_258_118_400  # 2200-01-01T00:00:00Z


def as_text(col: pd.Series) -> pd.Series:
    """str column with surrounding whitespace removed and missing values as "".

    Non-text columns (e.g. integer ids from a Parquet writer) are converted with str(), so a
    stored 123 becomes "123"; leading zeros lost before the file was written cannot come back.
    """
    import pandas as pd

    if not (pd.api.types.is_string_dtype(col.dtype) or col.dtype == object):
        text = col.astype("str")
        return text.where(col.notna(), "")
    text = col.astype("str") if col.dtype == object else col
    # Whitespace around a value is an export accident, never meaningful in ids or names.
    return text.fillna("").str.strip()


def as_number(col: pd.Series) -> pd.Series:
    """float64 column; empty or unparseable cells (and inf) become NaN."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        values = col.astype("float64")
    else:
        values = pd.to_numeric(as_text(col), errors="coerce").astype("float64")
    return values.where(np.isfinite(values))


def as_utc_time(col: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(datetime64[ns, UTC] column, out-of-range mask).

    Accepts ISO 8601 text with or without a zone (naive means UTC), epoch seconds written as
    digits only, numeric epoch seconds, and Parquet timestamps. Unparseable cells are NaT with a
    False mask; parseable times outside 1970..2199 are NaT with a True mask.
    """
    import numpy as np
    import pandas as pd

    if isinstance(col.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(col.dtype):
        times = col.dt.tz_localize("UTC") if col.dt.tz is None else col.dt.tz_convert("UTC")
        return _in_range(times)
    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        return _from_epoch(col.astype("float64"))

    text = as_text(col)
    digits = text.str.fullmatch(r"\d+").fillna(False).to_numpy(dtype=bool)
    if not digits.any():
        times = pd.to_datetime(text.where(text != ""), format="ISO8601", utc=True, errors="coerce")
        return _in_range(times)
    out = pd.Series(pd.NaT, index=col.index, dtype="datetime64[ns, UTC]")
    far = np.zeros(len(col), dtype=bool)
    iso = ~digits & (text != "").to_numpy(dtype=bool)
    if iso.any():
        t, f = _in_range(pd.to_datetime(text[iso], format="ISO8601", utc=True, errors="coerce"))
        out[iso], far[iso] = t.to_numpy(), f
    t, f = _from_epoch(pd.to_numeric(text[digits], errors="coerce").astype("float64"))
    out[digits], far[digits] = t.to_numpy(), f
    return out, far


def _from_epoch(seconds: pd.Series) -> tuple[pd.Series, pd.Series]:
    import pandas as pd

    far = (seconds < 0) | (seconds >= _EPOCH_MAX)
    times = pd.to_datetime(seconds.where(~far), unit="s", utc=True, errors="coerce")
    return times.astype("datetime64[ns, UTC]"), far.to_numpy(dtype=bool)


def _in_range(times: pd.Series) -> tuple[pd.Series, pd.Series]:
    import pandas as pd

    lo, hi = pd.Timestamp(0, unit="s", tz="UTC"), pd.Timestamp(_EPOCH_MAX, unit="s", tz="UTC")
    far = ((times < lo) | (times >= hi)).to_numpy(dtype=bool)
    return times.where(~far).astype("datetime64[ns, UTC]"), far

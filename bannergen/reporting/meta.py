"""Who was assigned a variant (segment), from the render output: OUT/<segment>/manifest.json and
the assignment files it points at."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bannergen.ope.decision_log import manifests


def user_segments(out_root: Path) -> pd.DataFrame:
    """(user_id, variant_id, segment) for every assignment of every rendered segment."""
    parts = []
    for path, m in manifests(out_root):
        rel = (m.get("assignments") or {}).get("parquet")
        if not rel or not (path.parent / rel).is_file():
            continue
        a = pd.read_parquet(path.parent / rel, columns=["user_id", "variant_id"])
        a["segment"] = m.get("segment", path.parent.name)
        parts.append(a.astype(object))
    if not parts:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in ("user_id", "variant_id", "segment")})
    return pd.concat(parts, ignore_index=True).drop_duplicates()

"""What a variant is (template, item) and who was assigned it (segment), from the render output:
OUT/<segment>/manifest.json and the assignment files it points at."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bannergen.bandits.decision_log import manifests


def variant_meta(out_root: Path) -> pd.DataFrame:
    """One row per variant id: variant_id, template, item_id, size (first manifest wins)."""
    rows = [(vid, v.get("template", ""), (v.get("item_ids") or [""])[0], v.get("size", ""))
            for _, m in manifests(out_root) for vid, v in m.get("variants", {}).items()]
    frame = pd.DataFrame(rows, columns=["variant_id", "template", "item_id", "size"], dtype=object)
    return frame.drop_duplicates("variant_id").reset_index(drop=True)


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

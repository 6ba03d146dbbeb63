"""Removing users from what renders wrote under the out folder: every assignments and candidates
table (CSV and Parquet) of every segment.

A table holding any of the users is rewritten without their rows under a new content-addressed
name, the segment's manifest is rewritten to point at it (atomically, so a CMS reading it sees the
old complete render or the new one), and only then is the old file removed. Tables no manifest
points at any more (left by earlier renders) are rewritten the same way. Manifest totals (users,
assignments) are aggregates and stay as they were.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bannergen.manifest import read_manifest, write_manifest
from bannergen.table_files import write_table_files

log = logging.getLogger(__name__)

TABLE_FOLDERS = ("assignments", "candidates")


@dataclass(frozen=True)
class TablesRewritten:
    tables: int = 0  # tables (a CSV and its Parquet twin count once) rewritten
    rows: int = 0    # rows removed (a forget) or renamed (a re-key)


def _segment_folders(out_root: Path) -> list[Path]:
    """Folders under ``out_root`` (a render's OUT, or the out root holding one per segment) with tables."""
    if not out_root.is_dir():
        return []
    found = {p.parent.parent for folder in TABLE_FOLDERS for p in out_root.glob(f"**/{folder}/*.parquet")}
    return sorted(found)


Change = Callable[[pd.DataFrame], "tuple[pd.DataFrame, int] | None"]


def _without(table: pd.DataFrame, ids: frozenset[str]) -> tuple[pd.DataFrame, int] | None:
    """``table`` without the rows of ``ids`` and how many went; None when it has none of them."""
    if "user_id" not in table.columns:
        return None
    drop = table["user_id"].astype(str).isin(ids).to_numpy()
    return (table[~drop].reset_index(drop=True), int(drop.sum())) if drop.any() else None


def remove_users(out_root: Path, ids: frozenset[str]) -> TablesRewritten:
    """Rewrite every table under ``out_root`` holding a user id in ``ids`` (raw ids and their
    pseudonyms: assignments hold either, the decision log pseudonyms) without those rows."""
    return rewrite_tables(out_root, lambda table: _without(table, ids))


def rename_users(out_root: Path, new_ids: pd.Series) -> TablesRewritten:
    """Rewrite every table under ``out_root`` holding a user id in ``new_ids``'s index with the id
    it maps to (a re-key: old pseudonym -> new); ``rows`` counts the rows renamed."""

    def renamed(table: pd.DataFrame) -> tuple[pd.DataFrame, int] | None:
        if "user_id" not in table.columns:
            return None
        new = table["user_id"].astype(str).map(new_ids)
        hits = int(new.notna().sum())
        return (table.assign(user_id=new.fillna(table["user_id"]).astype(str)), hits) if hits else None

    return rewrite_tables(out_root, renamed)


def rewrite_tables(out_root: Path, change: Change) -> TablesRewritten:
    """Rewrite every assignments and candidates table under ``out_root`` that ``change`` changes
    (it returns the new table and the rows it touched, or None for a table it leaves alone),
    repointing its manifest before the old files go."""
    tables = rows = 0
    for seg in _segment_folders(out_root):
        manifest_path = seg / "manifest.json"
        manifest = read_manifest(seg) if manifest_path.is_file() else None
        renamed: dict[str, dict[str, str]] = {}  # folder -> {old relative path: new relative path}
        stale: list[Path] = []
        for folder in TABLE_FOLDERS:
            for parquet in sorted((seg / folder).glob("*.parquet")):
                frame = pd.read_parquet(parquet)
                result = change(frame)
                if result is None:
                    continue
                changed, touched = result
                new = write_table_files(seg, folder, changed)
                old_csv = parquet.with_suffix(".csv")
                renamed.setdefault(folder, {}).update({
                    f"{folder}/{parquet.name}": new["parquet"], f"{folder}/{old_csv.name}": new["csv"]})
                stale += [p for p in (parquet, old_csv) if str(p.relative_to(seg)) not in new.values()]
                tables += 1
                rows += touched
        if manifest is not None and renamed:
            for folder, moves in renamed.items():
                paths = manifest.get(folder) or {}
                manifest[folder] = {kind: moves.get(path, path) for kind, path in paths.items()}
            write_manifest(seg, manifest)  # the manifest points at the new tables before the old go
        for path in stale:
            path.unlink(missing_ok=True)
    return TablesRewritten(tables, rows)


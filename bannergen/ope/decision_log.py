"""The decision log: every candidate of every decision, from batch renders and from serving, as
one frame; and which banner (item, template) each variant id shows.

Batch: each render lists its decisions in ``OUT/<segment>/candidates/<digest>.parquet`` (named by
``manifest.json["candidates"]``); a batch decision is dated by its manifest's ``generated_at``.
Serve: the ``decisions`` and ``decision_candidates`` tables of the behaviour store: a SQLite file
read here with plain sqlite3 in read-only mode (it may not exist yet), or the PostgreSQL database
of ``[store] url``.

    >>> log = load_decision_log(project.out, project.behaviour_location)  # doctest: +SKIP
    >>> banners = banner_index(project.out, project.behaviour_location)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from bannergen.manifest import variant_index
from bannergen.selection.kernel import CANDIDATE_COLUMNS
from bannergen.store import is_database_url
from bannergen.store.postgres import database_rows

log = logging.getLogger(__name__)

# One row per (decision, listed candidate): the kernel's candidate columns, then when and where.
DECISION_LOG_COLUMNS: tuple[str, ...] = (*CANDIDATE_COLUMNS, "ts", "placement", "size")
BANNER_COLUMNS: tuple[str, ...] = ("variant_id", "item_id", "template")

_SERVE_CANDIDATES = (
    "SELECT c.decision_id, d.user_id, c.position, c.item_id, c.template, c.antecedent_id, c.score, c.probability, "
    "c.chosen, d.policy, d.ts, d.placement, d.size FROM decision_candidates c JOIN decisions d USING (decision_id)")


def empty_decision_log() -> pd.DataFrame:
    return _typed(pd.DataFrame({c: [] for c in DECISION_LOG_COLUMNS}))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The log's dtypes: ids as object text, position and ts int64, score and probability float64."""
    out = frame.loc[:, list(DECISION_LOG_COLUMNS)].copy()
    for c in ("decision_id", "user_id", "item_id", "template", "antecedent_id", "policy", "placement", "size"):
        out[c] = out[c].fillna("").astype(str).astype(object)
    out["position"] = out["position"].astype(np.int64)
    out["ts"] = out["ts"].astype(np.int64)
    out["score"] = pd.to_numeric(out["score"], errors="coerce").astype(np.float64)
    out["probability"] = out["probability"].astype(np.float64)
    out["chosen"] = out["chosen"].astype(bool)
    return out


def manifests(out_root: Path) -> list[tuple[Path, dict]]:
    """(path, parsed manifest) of every OUT/<segment>/manifest.json; unreadable ones are skipped."""
    found = []
    for path in sorted(Path(out_root).glob("*/manifest.json")):
        try:
            found.append((path, json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError) as exc:
            log.warning("%s: unreadable manifest skipped (%s)", path, exc)
    return found


def batch_decisions(out_root: Path) -> pd.DataFrame:
    """The candidate tables of every render under ``out_root`` (DECISION_LOG_COLUMNS; placement
    and size are "" since a batch decision holds for every placement and size)."""
    parts = []
    for path, manifest in manifests(out_root):
        rel = (manifest.get("candidates") or {}).get("parquet")
        if not rel or not (path.parent / rel).is_file():
            continue
        table = pd.read_parquet(path.parent / rel, columns=list(CANDIDATE_COLUMNS))
        made = pd.Timestamp(manifest.get("generated_at") or path.stat().st_mtime_ns, tz="UTC")
        parts.append(table.assign(ts=made.value // 1000, placement="", size=""))
    return _typed(pd.concat(parts, ignore_index=True)) if parts else empty_decision_log()


def _read_only(path: Path) -> sqlite3.Connection | None:
    """A read-only connection to the behaviour store, or None when there is no such file."""
    if not Path(path).is_file():
        return None
    try:
        return sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        log.warning("decision log %s: %s", path, exc)
        return None


def _query(path: Path | str, sql: str, columns: list[str]) -> pd.DataFrame:
    if is_database_url(path):
        return pd.DataFrame(database_rows(str(path), sql), columns=columns)
    db = _read_only(Path(path))
    if db is None:
        return pd.DataFrame({c: [] for c in columns})
    try:
        return pd.DataFrame(db.execute(sql).fetchall(), columns=columns)
    except sqlite3.Error as exc:  # a store that never logged a decision has no decision tables
        log.info("decision log %s: %s", path, exc)
        return pd.DataFrame({c: [] for c in columns})
    finally:
        db.close()


def serve_decisions(behaviour_store: Path | str) -> pd.DataFrame:
    """The served decisions' candidates (DECISION_LOG_COLUMNS) from the behaviour store."""
    cols = [*CANDIDATE_COLUMNS[:-2], "chosen", "policy", "ts", "placement", "size"]
    return _typed(_query(behaviour_store, _SERVE_CANDIDATES, cols))


def load_decision_log(out_root: Path | None, behaviour_store: Path | str | None) -> pd.DataFrame:
    """Batch and serve decision logs as one frame (DECISION_LOG_COLUMNS), by decision time."""
    parts = [batch_decisions(out_root) if out_root else empty_decision_log(),
             serve_decisions(behaviour_store) if behaviour_store else empty_decision_log()]
    frame = pd.concat(parts, ignore_index=True)
    return frame.sort_values(["ts", "decision_id", "position"], kind="stable").reset_index(drop=True)


def served_banners(behaviour_store: Path | str) -> pd.DataFrame:
    """variant_id, item_id, template of every served decision: serve renders banners no batch
    manifest lists."""
    sql = "SELECT DISTINCT variant_id, item_id, template FROM decisions"
    frame = _query(behaviour_store, sql, list(BANNER_COLUMNS))
    return frame.astype(object)


def banner_index(out_root: Path | None, behaviour_store: Path | str | None) -> pd.DataFrame:
    """variant_id -> item_id, template over every manifest and every served decision."""
    parts = [variant_index(out_root)[list(BANNER_COLUMNS)] if out_root else pd.DataFrame(columns=list(BANNER_COLUMNS)),
             served_banners(behaviour_store) if behaviour_store else pd.DataFrame(columns=list(BANNER_COLUMNS))]
    frame = pd.concat(parts, ignore_index=True).astype(object)
    return frame.drop_duplicates("variant_id").reset_index(drop=True)


def known_decision_ids(out_root: Path | None, behaviour_store: Path | str | None) -> frozenset[str] | None:
    """Every decision id of the batch and serve logs; None when there is no log at all (nothing
    to check feedback against). Reads the id columns only."""
    ids: set[str] = set()
    found = False
    for path, manifest in manifests(out_root) if out_root else []:
        rel = (manifest.get("candidates") or {}).get("parquet")
        if rel and (path.parent / rel).is_file():
            found = True
            ids.update(pd.read_parquet(path.parent / rel, columns=["decision_id"])["decision_id"].tolist())
    served = _query(behaviour_store, "SELECT decision_id FROM decisions", ["decision_id"]) if behaviour_store else None
    if served is not None and len(served):
        found = True
        ids.update(served["decision_id"].tolist())
    return frozenset(ids) if found else None

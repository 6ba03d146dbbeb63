"""OUT/manifest.json and the assignments table: what a CMS pulls after a render.

The manifest is written last and atomically, so a reader sees the previous complete run or the
new one, never a mix. Assignment files are content-addressed too: a manifest always points at
the exact assignments it was written with.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from bannergen.cache import AssetStore, atomic_write
from bannergen.table_files import write_table_files

SCHEMA_VERSION = 1
ASSIGNMENT_COLUMNS = ["user_id", "decision_id", "size", "variant_id", "item_id", "template", "score", "propensity",
                      "policy", "explanation"]


ASSIGNMENT_ORDER = ["user_id", "size"]
CANDIDATE_ORDER = ["user_id", "position"]


def assignment_table(assignments: pd.DataFrame) -> pd.DataFrame:
    """The assignments as written: ASSIGNMENT_COLUMNS, sorted by user and size."""
    return assignments[ASSIGNMENT_COLUMNS].sort_values(ASSIGNMENT_ORDER, kind="stable").reset_index(drop=True)


def candidate_table(candidates: pd.DataFrame) -> pd.DataFrame:
    """The decision log as written: sorted by user and candidate position."""
    return candidates.sort_values(CANDIDATE_ORDER, kind="stable").reset_index(drop=True)


def for_the_cms(assignments: pd.DataFrame, raw_ids: pd.Series | None, hashed: bool) -> pd.DataFrame:
    """The assignments as the CMS gets them: raw user ids (``raw_ids``: pseudonym -> raw id, this
    run's, in memory), or the pseudonyms when ``hashed`` (``[privacy] hashed_assignments``)."""
    if hashed or raw_ids is None or assignments.empty:
        return assignments
    return assignments.assign(user_id=raw_ids.reindex(assignments["user_id"]).to_numpy())


def write_assignments(out: Path, assignments: pd.DataFrame) -> dict[str, str]:
    """Write the assignments as CSV and Parquet named by their content; returns relative paths."""
    return write_table_files(out, "assignments", assignment_table(assignments))


def write_candidates(out: Path, candidates: pd.DataFrame) -> dict[str, str]:
    """Write the decision log (every candidate of every decision, with its probability) beside the
    assignments, as CSV and Parquet named by their content; returns relative paths."""
    return write_table_files(out, "candidates", candidate_table(candidates))


def build_manifest(
    segment: str,
    assignments: pd.DataFrame,
    specs: dict,
    templates: dict,
    store: AssetStore,
    formats: tuple[str, ...],
    assignment_paths: dict[str, str],
    stats: dict[str, Any],
    candidate_paths: dict[str, str] | None = None,
) -> dict[str, Any]:
    variants = {}
    for variant_id in sorted(specs):
        spec = specs[variant_id]
        variants[variant_id] = {
            "template": spec.template_id,
            "template_version": templates[spec.template_id].version,
            "size": spec.size_label,
            # every item the banner shows: the recommended one first, then a carousel's others or a
            # cross-sell banner's trigger
            "item_ids": [spec.context.item_id] + [i.item_id for i in spec.context.items[1:]]
            + ([spec.context.antecedent_id] if spec.context.antecedent_id else []),
            "files": store.files(variant_id, formats),
        }
    return {
        "schema_version": SCHEMA_VERSION,
        "segment": segment,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "variants": variants,
        "assignments": assignment_paths,
        "candidates": candidate_paths or {},
        "stats": stats,
    }


def write_manifest(out: Path, manifest: dict[str, Any]) -> Path:
    path = out / "manifest.json"
    atomic_write(path, json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=False).encode("utf-8") + b"\n")
    return path


def read_manifest(out: Path) -> dict[str, Any]:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def variant_index(out_root: Path) -> pd.DataFrame:
    """variant_id, template, item_id, size of every variant in every manifest under ``out_root``
    (OUT/<segment>/manifest.json): how feedback on a variant is credited to its banner."""
    rows = []
    for path in sorted(Path(out_root).glob("*/manifest.json")):
        try:
            variants = json.loads(path.read_text(encoding="utf-8")).get("variants", {})
        except (OSError, ValueError):
            continue  # a manifest being replaced or damaged: feedback on it waits for the next run
        rows += [(vid, v["template"], v["item_ids"][0], v["size"]) for vid, v in variants.items() if v.get("item_ids")]
    frame = pd.DataFrame(rows, columns=["variant_id", "template", "item_id", "size"])
    return frame.drop_duplicates("variant_id").reset_index(drop=True)

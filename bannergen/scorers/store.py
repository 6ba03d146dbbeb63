"""Saving and loading a fitted blend: ``model.json`` (format version, fingerprint, scorer names,
hyperparameters, weights) + ``model.npz`` (every scorer's fitted arrays). No pickle: sparse
matrices are stored as their data/indices/indptr/shape arrays and ``np.load(allow_pickle=False)``.

The fingerprint is a SHA-256 over the data files' bytes and the scoring settings' text, so a model
is reused only for the data and configuration it was fitted on.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from bannergen.cache import atomic_write
from bannergen.errors import InputError
from bannergen.scorers.blend import Blend, make_scorer
from bannergen.scorers.settings import InterestWeights

# 2: EASE weights saved as column tiles (bannergen.scorers.tiled); 3: the association-rules scorer is
# saved as "association_rules" (a model of format 2 names it "rules", which no settings name now)
FORMAT_VERSION = 3
MODEL_JSON = "model.json"
MODEL_NPZ = "model.npz"


class StaleModelError(InputError):
    """The saved model was fitted on other data or settings, or by another format version."""


def fingerprint(files: list[Path], settings_files: list[Path], extra: dict[str, Any] | None = None) -> str:
    """SHA-256 (hex, 24 chars) of the files' bytes (missing files count as absent) and ``extra``."""
    h = hashlib.sha256()
    for path in [*files, *settings_files]:
        h.update(str(Path(path).name).encode())
        if Path(path).is_file():
            with open(path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        else:
            h.update(b"<absent>")
    h.update(json.dumps(extra or {}, sort_keys=True, default=str).encode())
    return h.hexdigest()[:24]


def save_blend(blend: Blend, folder: Path, fingerprint_: str, meta: dict[str, Any] | None = None) -> Path:
    """Write model.npz then model.json (the json last: its presence means a complete model)."""
    folder = Path(folder)
    arrays: dict[str, Any] = {}  # Any: numpy's stubs read **arrays as its allow_pickle flag
    kinds: dict[str, dict[str, str]] = {}
    for name, scorer in blend.scorers.items():
        kinds[name] = {}
        for key, value in scorer.state().items():
            if sp.issparse(value):
                m = sp.csr_matrix(value)
                for part in ("data", "indices", "indptr"):
                    arrays[f"{name}/{key}/{part}"] = getattr(m, part)
                arrays[f"{name}/{key}/shape"] = np.asarray(m.shape, dtype=np.int64)
                kinds[name][key] = "csr"
            else:
                arrays[f"{name}/{key}"] = np.asarray(value)
                kinds[name][key] = "array"
    atomic_write(folder / MODEL_NPZ, lambda handle: np.savez(handle, **arrays))
    doc = {
        "format_version": FORMAT_VERSION,
        "fingerprint": fingerprint_,
        "weights": blend.weights,
        "cold_start": blend.cold_start,
        "scorers": {
            n: {"class": type(s).__name__, "params": s.get_params(), "state": kinds[n]}
            for n, s in blend.scorers.items()
        },
        **(meta or {}),
    }
    text = json.dumps(doc, ensure_ascii=False, indent=1, default=float)
    atomic_write(folder / MODEL_JSON, text.encode("utf-8"))
    return folder / MODEL_JSON


def read_meta(folder: Path) -> dict[str, Any] | None:
    path = Path(folder) / MODEL_JSON
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StaleModelError(f"{path}: not a readable model file ({exc})", hint="run bannergen fit") from exc


def load_blend(folder: Path, expected_fingerprint: str | None, interest: InterestWeights | None = None) -> Blend:
    """Load a saved blend. Raises StaleModelError when the folder holds another format version or
    (when ``expected_fingerprint`` is given) a model fitted on other data or settings."""
    folder = Path(folder)
    doc = read_meta(folder)
    if doc is None:
        raise StaleModelError(f"{folder}: no fitted model", hint="run bannergen fit")
    if doc.get("format_version") != FORMAT_VERSION:
        raise StaleModelError(
            f"{folder / MODEL_JSON}: model format {doc.get('format_version')!r}, this bannergen reads {FORMAT_VERSION}",
            hint="run bannergen fit",
        )
    if expected_fingerprint is not None and doc.get("fingerprint") != expected_fingerprint:
        raise StaleModelError(f"{folder / MODEL_JSON}: fitted on other data or settings (fingerprint "
                              f"{doc.get('fingerprint')}, now {expected_fingerprint})", hint="run bannergen fit")
    try:
        with np.load(folder / MODEL_NPZ, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:
        raise StaleModelError(f"{folder / MODEL_NPZ}: not readable ({exc})", hint="run bannergen fit") from exc
    scorers = {}
    for name, spec in doc["scorers"].items():
        scorer = make_scorer(name, spec.get("params"), interest)
        state = {}
        for key, kind in spec["state"].items():
            if kind == "csr":
                shape = tuple(int(x) for x in arrays[f"{name}/{key}/shape"])
                state[key] = sp.csr_matrix((arrays[f"{name}/{key}/data"], arrays[f"{name}/{key}/indices"],
                                            arrays[f"{name}/{key}/indptr"]), shape=shape)
            else:
                state[key] = arrays[f"{name}/{key}"]
        scorers[name] = scorer.load_state(state)
    return Blend(scorers, {k: float(v) for k, v in doc["weights"].items()}, doc.get("cold_start", "popularity_recent"))

"""Project settings: one table of (key, default, help), read from bannergen.toml.

A project folder is found by convention: the folder holding bannergen.toml (searched from the
current directory upwards, or given with --project). Every path in the file is relative to it.
Unknown keys are rejected with a "did you mean" hint, so a typo never silently does nothing.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bannergen.errors import ConfigError

CONFIG_NAME = "bannergen.toml"
FORMATS = ("webp", "png", "jpg", "html")

# (section.key, default, help). The single source of truth for what bannergen.toml may say.
SETTINGS: tuple[tuple[str, Any, str], ...] = (
    ("data.catalog", "examples/shop/catalog.csv", "catalog file (CSV, gzip CSV or Parquet)"),
    ("data.events", "examples/shop/events.parquet", "behaviour events file (CSV, gzip CSV or Parquet)"),
    ("data.max_reject_rate", 0.05, "fail closed when more than this share of rows is rejected"),
    ("data.as_of", "", "reference time for decay (ISO 8601); empty means the newest event"),
    ("paths.templates", "templates", "campaign templates, one folder each"),
    ("paths.assets", "assets", "fonts, logos and images templates may use"),
    ("paths.scoring", "scoring", "weights, rules and segments"),
    ("paths.out", "out", "output root; a render writes to OUT/<segment>/ unless --out is given"),
    ("paths.rejects", "out/rejects.txt", "where skipped rows are reported"),
    ("render.formats", ["webp", "png", "html"], "formats written per variant: webp, png, jpg, html"),
    ("render.webp_quality", 85, "WebP quality 1-100"),
    ("render.jpg_quality", 88, "JPEG quality 1-100"),
    ("render.png_compress_level", 6, "PNG zlib level 0-9"),
    ("render.sizes", [], "sizes to render (e.g. ['1200x400']); empty means every size a template has"),
    ("render.workers", 0, "render processes; 0 means one per core"),
    ("select.seed", 20261129, "seed of the selection RNG: the same seed gives the same assignment"),
    ("feedback.store", ".bannergen/feedback.sqlite", "the feedback store (SQLite file)"),
    ("paths.models", ".bannergen/models", "fitted models (.npz/JSON, no pickle)"),
    (
        "mapping.table",
        "",
        "a foreign order-line table (CSV, gzip CSV, Parquet); when set, the catalog and purchase events are "
        "derived from it (docs: bannergen/data/mapping.py)",
    ),
    ("mapping.user", "user_id", "mapping: the column holding the user id (rows without one feed baskets only)"),
    ("mapping.item", "item_id", "mapping: the column holding the item id"),
    ("mapping.time", "ts", "mapping: the column holding the order time"),
    ("mapping.basket", "", "mapping: the column holding the order (basket) id; empty: one basket per user and day"),
    ("mapping.title", "", "mapping: the column holding the item title (most frequent value per item)"),
    ("mapping.price", "", "mapping: the column holding the unit price (median per item)"),
    (
        "mapping.quantity",
        "",
        "mapping: the column holding the quantity; rows with quantity <= 0 are returns and skipped",
    ),
    ("mapping.category", "", "mapping: the column holding the category (empty: one category for all)"),
    ("mapping.brand", "", "mapping: the column holding the brand (empty: one brand for all)"),
    ("mapping.cancel_prefix", "C", "mapping: orders whose id starts with this are cancellations and skipped"),
    ("serve.api_key", "", "key for the service's write endpoints (Bearer); env BANNERGEN_API_KEY overrides"),
    ("serve.sign_assets", False, "asset URLs carry an HMAC signature and an expiry; unsigned asset requests get 403"),
    ("serve.signing_key", "", "HMAC key for signed asset URLs; env BANNERGEN_SIGNING_KEY overrides"),
    ("serve.signed_url_ttl_s", 86400, "lifetime of a signed asset URL in seconds"),
    ("serve.decision_budget_ms", 20, "a decision that takes longer falls back to the default banner"),
    ("serve.render_budget_ms", 150, "wait this long for a chosen variant to render, else serve the best cached one"),
    ("serve.max_body_bytes", 1048576, "request bodies above this get 413 before being read"),
    ("serve.max_events", 500, "events per POST /v1/events batch"),
    (
        "serve.behaviour_store",
        ".bannergen/behaviour.sqlite",
        "real-time behaviour events (SQLite WAL), replayed at start-up",
    ),
)
_DEFAULTS = {key: default for key, default, _ in SETTINGS}


@dataclass(frozen=True)
class ServeSettings:
    """The serve.* rows of SETTINGS (the HTTP service); keys and environment overrides are applied
    by bannergen.service, so a key never has to be written into bannergen.toml."""

    api_key: str = ""
    sign_assets: bool = False
    signing_key: str = ""
    signed_url_ttl_s: int = 86400
    decision_budget_ms: int = 20
    render_budget_ms: int = 150
    max_body_bytes: int = 1048576
    max_events: int = 500
    behaviour_store: Path = Path(".bannergen/behaviour.sqlite")


@dataclass(frozen=True)
class Project:
    """A resolved project: absolute paths and checked settings."""

    root: Path
    catalog: Path
    events: Path
    templates: Path
    assets: Path
    scoring: Path
    out: Path
    rejects: Path
    max_reject_rate: float
    as_of: str
    formats: tuple[str, ...]
    webp_quality: int
    jpg_quality: int
    png_compress_level: int
    sizes: tuple[str, ...]
    workers: int
    seed: int
    feedback_store: Path
    models: Path
    mapping_table: Path | None = None
    mapping: tuple[tuple[str, str], ...] = ()  # (field, column) pairs of the [mapping] section
    serve: ServeSettings = field(default_factory=lambda: ServeSettings())

    def out_for(self, segment: str) -> Path:
        return self.out / segment


def find_project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` that holds bannergen.toml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    raise ConfigError(
        f"no {CONFIG_NAME} in {here} or any parent folder",
        hint="run from a bannergen project or pass --project DIR",
    )


def _flatten(raw: dict[str, Any], source: Path) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for section, body in raw.items():
        if not isinstance(body, dict):
            raise ConfigError(f"{source}: '{section}' must be a [section]; got a {type(body).__name__}")
        for key, value in body.items():
            flat[f"{section}.{key}"] = value
    return flat


def reject_unknown_keys(keys: Iterable[str], known: Iterable[str], where: str) -> None:
    """Raise ConfigError for the first key not in ``known``, with a "did you mean" hint.

    ``where`` names the file (and table) for the message, e.g. "scoring/rules.toml [filters]"."""
    known = list(known)
    for key in keys:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
            raise ConfigError(f"{where}: unknown setting '{key}'", hint=hint)


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file into a dict; a missing or malformed file is a ConfigError naming it."""
    if not path.is_file():
        raise ConfigError(f"{path}: not found")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def _typed(flat: dict[str, Any], key: str, kind: type, source: Path) -> Any:
    value = flat.get(key, _DEFAULTS[key])
    ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise ConfigError(f"{source}: '{key}' must be a {kind.__name__}; got {value!r}")
    return value


def load_project(root: Path | None = None, overrides: dict[str, Any] | None = None) -> Project:
    """Read ``root/bannergen.toml`` (root found by convention when None), apply ``overrides``
    (same dotted keys, e.g. {"paths.out": "/tmp/x"}), check every value, resolve paths."""
    root = find_project_root(root) if root is None else Path(root).resolve()
    source = root / CONFIG_NAME
    if not source.is_file():
        raise ConfigError(f"{source}: not found", hint="pass --project DIR pointing at a bannergen project")
    flat = _flatten(read_toml(source), source)
    flat.update({k: v for k, v in (overrides or {}).items() if v is not None})
    reject_unknown_keys(flat, _DEFAULTS, str(source))

    def path(key: str) -> Path:
        return (root / _typed(flat, key, str, source)).resolve()

    formats = tuple(_typed(flat, "render.formats", list, source))
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ConfigError(f"{source}: render.formats has {bad or 'nothing'}; expected some of {list(FORMATS)}")
    rate = _typed(flat, "data.max_reject_rate", float, source)
    if not 0.0 <= rate <= 1.0:
        raise ConfigError(f"{source}: data.max_reject_rate must be within 0..1; got {rate}")
    for key, lo, hi in (
        ("render.webp_quality", 1, 100),
        ("render.jpg_quality", 1, 100),
        ("render.png_compress_level", 0, 9),
    ):
        v = _typed(flat, key, int, source)
        if not lo <= v <= hi:
            raise ConfigError(f"{source}: {key} must be within {lo}..{hi}; got {v}")
    serve_kinds = (("api_key", str), ("sign_assets", bool), ("signing_key", str), ("signed_url_ttl_s", int),
                   ("decision_budget_ms", int), ("render_budget_ms", int), ("max_body_bytes", int),
                   ("max_events", int), ("behaviour_store", Path))
    # Each value is checked against its kind by _typed, so the keyword arguments are typed at run time.
    serve: dict[str, Any] = {
        name: path(f"serve.{name}") if kind is Path else _typed(flat, f"serve.{name}", kind, source)
        for name, kind in serve_kinds
    }
    return Project(
        root=root,
        catalog=path("data.catalog"),
        events=path("data.events"),
        templates=path("paths.templates"),
        assets=path("paths.assets"),
        scoring=path("paths.scoring"),
        out=path("paths.out"),
        rejects=path("paths.rejects"),
        max_reject_rate=rate,
        as_of=_typed(flat, "data.as_of", str, source),
        formats=formats,
        webp_quality=_typed(flat, "render.webp_quality", int, source),
        jpg_quality=_typed(flat, "render.jpg_quality", int, source),
        png_compress_level=_typed(flat, "render.png_compress_level", int, source),
        sizes=tuple(_typed(flat, "render.sizes", list, source)),
        workers=_typed(flat, "render.workers", int, source),
        seed=_typed(flat, "select.seed", int, source),
        feedback_store=path("feedback.store"),
        models=path("paths.models"),
        mapping_table=path("mapping.table") if _typed(flat, "mapping.table", str, source) else None,
        mapping=tuple((key.split(".", 1)[1], _typed(flat, key, str, source))
                      for key in _DEFAULTS if key.startswith("mapping.") and key != "mapping.table"),
        serve=ServeSettings(**serve),
    )

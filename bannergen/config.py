"""Project settings: one table of rows, read from bannergen.toml (bannergen.settings_table).

A project folder is found by convention: the folder holding bannergen.toml (searched from the
current directory upwards, or given with --project). Every path in the file is relative to it.
Unknown keys are rejected with a "did you mean" hint, so a typo never silently does nothing.
The reference of every key is docs/settings.md, generated from SETTINGS.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bannergen.errors import ConfigError
from bannergen.settings_table import Row, SettingsFile, above, at_least, shown, within
from bannergen.settings_table import read_toml as read_toml  # re-exported: callers read TOML through config
from bannergen.settings_table import reject_unknown_keys as reject_unknown_keys

CONFIG_NAME = "bannergen.toml"
STORE_URL_ENV = "BANNERGEN_STORE_URL"
SECRET_ENV = "BANNERGEN_SECRET"
FORMATS = ("webp", "png", "jpg", "html")

# The single source of truth for what bannergen.toml may say.
SETTINGS = SettingsFile(CONFIG_NAME, "data files, folders, output formats and sizes, the selection seed, serving", (
    Row("data.catalog", "path", "examples/shop/catalog.csv", "catalog file (CSV, gzip CSV or Parquet)"),
    Row("data.events", "path", "examples/shop/events.parquet", "behaviour events file (CSV, gzip CSV or Parquet)"),
    Row("data.max_reject_rate", "number", 0.05, "fail closed when more than this share of rows is rejected",
        within(0, 1)),
    Row("data.as_of", "text", "", "reference time for decay (ISO 8601); empty means the newest event"),
    Row("paths.templates", "path", "templates", "campaign templates, one folder each"),
    Row("paths.assets", "path", "assets", "fonts, logos and images templates may use"),
    Row("paths.scoring", "path", "scoring", "weights, campaign rules, blend, policy and segments"),
    Row("paths.out", "path", "out", "output root; a render writes to OUT/<segment>/ unless --out is given"),
    Row("paths.rejects", "path", "out/rejects.txt", "where skipped rows are reported"),
    Row("paths.models", "path", ".bannergen/models", "fitted models (.npz/JSON, no pickle)"),
    Row("render.formats", "texts", ["webp", "png", "html"], "formats written per variant", FORMATS),
    Row("render.webp_quality", "integer", 85, "WebP quality", within(1, 100)),
    Row("render.jpg_quality", "integer", 88, "JPEG quality", within(1, 100)),
    Row("render.png_compress_level", "integer", 6, "PNG zlib level", within(0, 9)),
    Row("render.sizes", "texts", [], "1x sizes to render (e.g. ['1200x400']), each with the 2x versions its "
        "template's `scales` (template.toml) declare; empty means every size a template has"),
    Row("render.workers", "integer", 0, "render processes; 0 means one per core", at_least(0)),
    Row("select.seed", "integer", 20261129, "seed of the selection RNG: the same seed gives the same assignment",
        at_least(0)),
    Row("feedback.store", "path", ".bannergen/feedback.sqlite", "the feedback store (SQLite file)"),
    Row("mapping.table", "text", "", "a foreign order-line table (CSV, gzip CSV, Parquet); when set, the catalog "
        "and purchase events are derived from it (docs: bannergen/data/mapping.py)"),
    Row("mapping.user", "text", "user_id", "the column holding the user id (rows without one feed baskets only)"),
    Row("mapping.item", "text", "item_id", "the column holding the item id"),
    Row("mapping.time", "text", "ts", "the column holding the order time"),
    Row("mapping.basket", "text", "", "the column holding the order (basket) id; empty: one basket per user and day"),
    Row("mapping.title", "text", "", "the column holding the item title (most frequent value per item)"),
    Row("mapping.price", "text", "", "the column holding the unit price (median per item)"),
    Row("mapping.quantity", "text", "", "the column holding the quantity; rows with quantity <= 0 are returns "
        "and skipped"),
    Row("mapping.category", "text", "", "the column holding the category (empty: one category for all)"),
    Row("mapping.brand", "text", "", "the column holding the brand (empty: one brand for all)"),
    Row("mapping.cancel_prefix", "text", "C", "orders whose id starts with this are cancellations and skipped"),
    Row("serve.api_key", "text", "", "key for the service's write endpoints (Bearer); env BANNERGEN_API_KEY "
        "overrides"),
    Row("serve.sign_assets", "bool", False, "asset URLs carry an HMAC signature and an expiry; unsigned asset "
        "requests get 403"),
    Row("serve.signing_key", "text", "", "HMAC key for signed asset URLs; env BANNERGEN_SIGNING_KEY overrides"),
    Row("serve.signed_url_ttl_s", "integer", 86400, "lifetime of a signed asset URL in seconds", at_least(1)),
    Row("serve.decision_budget_ms", "integer", 20, "a decision that takes longer falls back to the default banner",
        at_least(0)),
    Row("serve.render_workers", "integer", 1, "processes that render variants a decision found missing (the "
        "decision serves a rendered candidate meanwhile); they run at a lower priority than the server", at_least(1)),
    Row("serve.header_timeout_s", "number", 5.0, "a request whose headers have not all arrived this many seconds "
        "after its first byte (or after the connection opened) is cut off", above(0)),
    Row("serve.body_timeout_s", "number", 10.0, "a request whose body has not all arrived this many seconds after "
        "its headers gets 408 and the connection is closed", above(0)),
    Row("serve.keep_alive_s", "integer", 5, "an idle keep-alive connection is closed after this many seconds",
        at_least(1)),
    Row("serve.max_body_bytes", "integer", 1048576, "request bodies above this get 413 before being read",
        at_least(1)),
    Row("serve.max_events", "integer", 500, "events per POST /v1/events batch", at_least(1)),
    Row("dask.scheduler", "text", "", "address of a running Dask scheduler (tcp://HOST:PORT) that `render "
        "--executor dask` uses; empty: a local cluster of one worker per core"),
    Row("dask.workers", "integer", 0, "worker processes of the local cluster; 0 means one per core", at_least(0)),
    Row("dask.partitions", "integer", 0, "partitions the users are cut into; 0 means one per 500,000 events and at "
        "least two per worker", at_least(0)),
    Row("dask.events", "text", "", "the events as workers read them: a Parquet file, a folder of Parquet files or an "
        "fsspec URL (s3://..., gs://...); empty means data.events"),
    Row("serve.behaviour_store", "path", ".bannergen/behaviour.sqlite", "real-time behaviour events (SQLite WAL), "
        "replayed at start-up"),
    Row("store.url", "text", "", "a PostgreSQL URL (postgresql://user@host/db) that keeps feedback, behaviour "
        "events, the decision log and cap counts for every process; env BANNERGEN_STORE_URL overrides; empty: the "
        "SQLite files feedback.store and serve.behaviour_store"),
    Row("privacy.secret", "text", "", "the project secret user ids are hashed with (HMAC-SHA256) before anything "
        "is stored; env BANNERGEN_SECRET overrides; required (exit 3 without one) except for `serve --open` on "
        "loopback"),
    Row("privacy.hashed_assignments", "bool", False, "write the keyed hash instead of the raw user id into the "
        "assignments tables a render hands to the CMS (for a CMS that computes the hash itself)"),
    Row("privacy.retention_days", "integer", 0, "`bannergen compact` (and serve, daily) drops behaviour events and "
        "decision-log rows older than this many days; 0 keeps everything", at_least(0)),
    Row("privacy.forgotten", "path", ".bannergen/forgotten.txt", "pseudonyms of forgotten users (one a line); "
        "their rows in the shop's input files are skipped on every load"),
    Row("privacy.consent", "path", ".bannergen/consent.tsv", "opt-outs and opt-ins received by POST /v1/consent "
        "(pseudonym, time, in or out)"),
))


@dataclass(frozen=True)
class ServeSettings:
    """The [serve] rows of SETTINGS (the HTTP service); keys and environment overrides are applied
    by bannergen.service, so a key never has to be written into bannergen.toml."""

    api_key: str = SETTINGS["serve.api_key"]
    sign_assets: bool = SETTINGS["serve.sign_assets"]
    signing_key: str = SETTINGS["serve.signing_key"]
    signed_url_ttl_s: int = SETTINGS["serve.signed_url_ttl_s"]
    decision_budget_ms: int = SETTINGS["serve.decision_budget_ms"]
    render_workers: int = SETTINGS["serve.render_workers"]
    header_timeout_s: float = SETTINGS["serve.header_timeout_s"]
    body_timeout_s: float = SETTINGS["serve.body_timeout_s"]
    keep_alive_s: int = SETTINGS["serve.keep_alive_s"]
    max_body_bytes: int = SETTINGS["serve.max_body_bytes"]
    max_events: int = SETTINGS["serve.max_events"]
    behaviour_store: Path = SETTINGS["serve.behaviour_store"]


@dataclass(frozen=True)
class DaskSettings:
    """The [dask] rows of SETTINGS: where `render --executor dask` runs and how it cuts the users."""

    scheduler: str = SETTINGS["dask.scheduler"]
    workers: int = SETTINGS["dask.workers"]
    partitions: int = SETTINGS["dask.partitions"]
    events: str = SETTINGS["dask.events"]


@dataclass(frozen=True)
class PrivacySettings:
    """The [privacy] rows of SETTINGS; ``secret`` has BANNERGEN_SECRET applied (bannergen.privacy
    refuses to hash with an empty one)."""

    secret: str = SETTINGS["privacy.secret"]
    hashed_assignments: bool = SETTINGS["privacy.hashed_assignments"]
    retention_days: int = SETTINGS["privacy.retention_days"]
    forgotten: Path = SETTINGS["privacy.forgotten"]
    consent: Path = SETTINGS["privacy.consent"]


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
    dask: DaskSettings = field(default_factory=lambda: DaskSettings())
    store_url: str = ""  # [store] url (or BANNERGEN_STORE_URL): PostgreSQL instead of the SQLite files
    privacy: PrivacySettings = field(default_factory=lambda: PrivacySettings())

    @property
    def feedback_location(self) -> Path | str:
        """Where feedback lives: the PostgreSQL URL when set, else the SQLite file."""
        return self.store_url or self.feedback_store

    @property
    def behaviour_location(self) -> Path | str:
        """Where serve keeps behaviour events and the decision log: the PostgreSQL URL when set, else
        the SQLite file."""
        return self.store_url or self.serve.behaviour_store

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


def load_project(root: Path | None = None, overrides: dict[str, Any] | None = None) -> Project:
    """Read ``root/bannergen.toml`` (root found by convention when None), apply ``overrides``
    (same dotted keys, e.g. {"paths.out": "/tmp/x"}), check every value, resolve paths."""
    root = find_project_root(root) if root is None else Path(root).resolve()
    source = root / CONFIG_NAME
    if not source.is_file():
        raise ConfigError(f"{source}: not found", hint="pass --project DIR pointing at a bannergen project")
    raw = read_toml(source)
    for key, value in (overrides or {}).items():
        if value is not None:
            table, _, name = key.rpartition(".")
            body = raw.setdefault(table, {})
            if isinstance(body, dict):
                body[name] = value
    v = SETTINGS.read(raw, shown(source))

    def path(key: str) -> Path:
        return (root / v[key]).resolve()

    serve = SETTINGS.record(ServeSettings, v, "serve")
    return Project(
        root=root,
        catalog=path("data.catalog"),
        events=path("data.events"),
        templates=path("paths.templates"),
        assets=path("paths.assets"),
        scoring=path("paths.scoring"),
        out=path("paths.out"),
        rejects=path("paths.rejects"),
        max_reject_rate=v["data.max_reject_rate"],
        as_of=v["data.as_of"],
        formats=v["render.formats"],
        webp_quality=v["render.webp_quality"],
        jpg_quality=v["render.jpg_quality"],
        png_compress_level=v["render.png_compress_level"],
        sizes=v["render.sizes"],
        workers=v["render.workers"],
        seed=v["select.seed"],
        feedback_store=path("feedback.store"),
        models=path("paths.models"),
        mapping_table=(root / v["mapping.table"]).resolve() if v["mapping.table"] else None,
        mapping=tuple((row.name, v[row.key]) for row in SETTINGS.rows
                      if row.table == "mapping" and row.name != "table"),
        serve=dataclasses.replace(serve, behaviour_store=path("serve.behaviour_store")),
        dask=SETTINGS.record(DaskSettings, v, "dask"),
        store_url=_store_url(os.environ.get(STORE_URL_ENV) or v["store.url"], shown(source)),
        privacy=dataclasses.replace(SETTINGS.record(PrivacySettings, v, "privacy"),
                                    secret=os.environ.get(SECRET_ENV) or v["privacy.secret"],
                                    forgotten=path("privacy.forgotten"), consent=path("privacy.consent")),
    )


def _store_url(url: str, source: str) -> str:
    """The [store] url, checked: empty (SQLite) or a postgresql:// URL."""
    url = url.strip()
    if url and not url.startswith(("postgresql://", "postgres://")):
        where = STORE_URL_ENV if os.environ.get(STORE_URL_ENV) else f"{source}: store.url"
        raise ConfigError(f"{where}: not a PostgreSQL URL; got {url[:40]!r}",
                          hint="expected postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE, or empty for SQLite")
    return url

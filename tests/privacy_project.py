"""A populated project for the privacy tests: the example shop (copied, so nothing escapes the
project folder), a render of one segment at one size, and stores holding behaviour events, logged
decisions and feedback for some of its users."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
from conftest_service import CLI

from bannergen.config import load_project
from bannergen.pipeline import Engine
from bannergen.store import open_behaviour_store
from bannergen.store.base import BehaviourEvent

ROOT = Path(__file__).resolve().parents[1]
SEGMENT = "camera-fans"
LIMIT = 20


def make_project(tmp: Path) -> Path:
    for name in ("templates", "scoring", "assets"):
        shutil.copytree(ROOT / name, tmp / name)
    shutil.copytree(ROOT / "examples/shop", tmp / "shop")
    (tmp / "bannergen.toml").write_text(
        '[data]\ncatalog = "shop/catalog.csv"\nevents = "shop/events.parquet"\n'
        '[render]\nformats = ["png", "html"]\nsizes = ["300x250"]\n', encoding="utf-8")
    return tmp


def populate(project: Path) -> list[str]:
    """Render, then store behaviour, decisions and feedback for the rendered users; returns their raw ids."""
    engine = Engine(load_project(project))
    summary = engine.render(SEGMENT, limit=LIMIT)
    manifest = pd.read_json(summary.out / "manifest.json", typ="series")
    table = pd.read_parquet(summary.out / manifest["assignments"]["parquet"])
    users = sorted(table["user_id"].unique())
    p = engine.pseudonyms
    store = open_behaviour_store(engine.project.behaviour_location)
    try:
        store.add([BehaviourEvent(f"e-{u}", 1_764_000_000_000_000 + n, p.one(u), "view", "000101")
                   for n, u in enumerate(users)])
        store.log_decisions([(f"d{n:020d}", 1_764_000_000_000_000 + n, p.one(u), "home_top", "300x250", "v", "000101",
                              "price-drop", "softmax", 0.5, 1.0, "") for n, u in enumerate(users)],
                            [(f"d{n:020d}", 0, "000101", "price-drop", "", 1.0, 0.5, 1) for n in range(len(users))])
    finally:
        store.close()
    first = table.drop_duplicates("user_id")
    engine.record_feedback(pd.DataFrame({
        "event_id": [f"i-{u}" for u in first["user_id"]], "user_id": first["user_id"].tolist(),
        "variant_id": first["variant_id"].tolist(), "event": "impression", "placement": "home_top",
        "ts": pd.Timestamp.now(tz="UTC").floor("s").isoformat()}))
    engine.store.close()
    return users


def cli(project: Path, *args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CLI, "--project", str(project), *args], capture_output=True,
                          text=True, env=env, **kwargs)


def files_holding(project: Path, needle: str, skip: tuple[Path, ...] = ()) -> list[str]:
    """Files under out/ and .bannergen/ (the stores included) whose bytes contain ``needle``."""
    found = []
    data = needle.encode("utf-8")
    for folder in (project / "out", project / ".bannergen"):
        for path in folder.rglob("*"):
            if path.is_file() and path not in skip and data in path.read_bytes():
                found.append(str(path.relative_to(project)))
    return found

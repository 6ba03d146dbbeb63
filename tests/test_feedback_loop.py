"""Choosing with feedback: holdout control, Thompson sampling that learns in real time, frequency caps."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from bannergen.config import load_project
from bannergen.pipeline import Engine

ROOT = Path(__file__).resolve().parents[1]


def project(tmp_path: Path, policy: str = "softmax", policy_toml: str | None = None) -> Engine:
    for name in ("templates", "scoring"):
        shutil.copytree(ROOT / name, tmp_path / name)
    (tmp_path / "assets").symlink_to(ROOT / "assets")
    (tmp_path / "shop").symlink_to(ROOT / "examples/shop")
    policy_file = tmp_path / "scoring/policy.toml"
    if policy_toml is not None:
        policy_file.write_text(f'[selection]\npolicy = "softmax"\n{policy_toml}', encoding="utf-8")
    text = policy_file.read_text(encoding="utf-8")
    policy_file.write_text(text.replace('policy = "softmax"', f'policy = "{policy}"', 1), encoding="utf-8")
    (tmp_path / "bannergen.toml").write_text(
        '[data]\ncatalog = "shop/catalog.csv"\nevents = "shop/events.parquet"\n'
        # one size, one format: what these tests check is the choosing, not the drawing
        '[render]\nsizes = ["300x250"]\nformats = ["png"]\n', encoding="utf-8"
    )
    return Engine(load_project(tmp_path))


def feedback(rows: list[tuple[str, str, str]], start: int = 0) -> pd.DataFrame:
    now = pd.Timestamp.now(tz="UTC").floor("s") - pd.Timedelta(minutes=1)
    return pd.DataFrame(
        {
            "event_id": [f"e{start + n}" for n in range(len(rows))],
            "ts": [(now + pd.Timedelta(milliseconds=10 * n)).isoformat() for n in range(len(rows))],
            "user_id": [r[0] for r in rows],
            "variant_id": [r[1] for r in rows],
            "event": [r[2] for r in rows],
            "placement": "home_top",
        }
    )


@pytest.mark.slow
def test_holdout_users_get_the_default_banner(tmp_path):
    engine = project(tmp_path)
    decisions = engine.decisions("all").chosen
    held = decisions[decisions["policy"] == "holdout"]
    share = len(held) / len(decisions)
    assert 0.03 < share < 0.07  # 5% configured, chosen by a hash of the user id
    assert held["item_id"].nunique() == 1 and set(held["template"]) == {"product-spotlight"}
    assert (held["propensity"] == 1.0).all() and (held["explanation"] == "对照组：默认横幅").all()
    # stable: the same users in another process / another run
    again = project(tmp_path / "again").decisions("all").chosen
    assert set(again.loc[again["policy"] == "holdout", "user_id"]) == set(held["user_id"])


@pytest.mark.slow
def test_thompson_learns_from_a_click_without_a_refit(tmp_path):
    engine = project(tmp_path, "thompson", "[thompson]\nprior_strength = 20\nexploration_floor = 0.0\n[holdout]\nshare = 0.0\n")
    summary = engine.render("camera-fans", limit=60)
    manifest = pd.read_json(summary.out / "manifest.json", typ="series")
    variants = pd.DataFrame(manifest["variants"]).T
    before = engine.decisions("camera-fans", limit=60).chosen
    assert set(before["policy"]) == {"thompson"} and before["propensity"].between(0, 1).all()
    popular = before["template"].astype(str) + "|" + before["item_id"]
    loser = popular.value_counts().index[0]  # the banner most users get now
    template, item = loser.split("|")
    loser_variants = variants[(variants["template"] == template) & (variants["item_ids"].map(lambda x: x[0]) == item)].index
    # 2,000 impressions and no click: a CTR far below the prior
    rows = [(f"x{n}", loser_variants[n % len(loser_variants)], "impression") for n in range(2000)]
    counts, rejects = engine.record_feedback(feedback(rows))
    assert counts.accepted == 2000 and not rejects
    after = engine.decisions("camera-fans", limit=60).chosen
    share_before = (popular == loser).mean()
    share_after = ((after["template"].astype(str) + "|" + after["item_id"]) == loser).mean()
    assert share_after < share_before / 2


@pytest.mark.slow
def test_the_frequency_cap_rotates_to_the_next_banner(tmp_path):
    engine = project(tmp_path, "greedy", "[frequency_cap]\nper_user_per_day = 2\n[holdout]\nshare = 0.0\n")
    summary = engine.render("camera-fans")  # zhangsan's segment (his interest is half in cameras)
    first = engine.decide_users(["zhangsan"], "camera-fans").iloc[0]
    assignments = pd.read_csv(summary.out / pd.read_json(summary.out / "manifest.json", typ="series")["assignments"]["csv"], dtype=str)
    shown = assignments[assignments["user_id"] == "zhangsan"]["variant_id"].iloc[0]
    engine.record_feedback(feedback([("zhangsan", shown, "impression")] * 1, start=0))
    assert engine.decide_users(["zhangsan"], "camera-fans").iloc[0]["item_id"] == first["item_id"]  # 1 < cap
    engine.record_feedback(feedback([("zhangsan", shown, "impression")], start=1))
    second = engine.decide_users(["zhangsan"], "camera-fans").iloc[0]
    assert (second["item_id"], second["template"]) != (first["item_id"], first["template"])


@pytest.mark.slow
def test_render_records_policy_and_propensity(tmp_path):
    engine = project(tmp_path)
    summary = engine.render("camera-fans", limit=30)
    manifest = pd.read_json(summary.out / "manifest.json", typ="series")
    table = pd.read_csv(summary.out / manifest["assignments"]["csv"], dtype={"user_id": str})
    assert set(table["policy"]) <= {"softmax", "holdout"}
    assert table["propensity"].between(0, 1, inclusive="right").all()

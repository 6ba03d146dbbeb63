"""bannergen.toml and scoring/ files: typos get a 'did you mean', bad values a clear message."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bannergen.config import load_project
from bannergen.errors import ConfigError, InputError
from bannergen.scorers.settings import load_rules, load_scoring, load_weights
from bannergen.segments import get_segment, load_segments

ROOT = Path(__file__).resolve().parents[1]


def project_with(tmp_path: Path, toml: str) -> Path:
    (tmp_path / "bannergen.toml").write_text(toml, encoding="utf-8")
    return tmp_path


def test_the_repository_is_a_project():
    project = load_project(ROOT)
    assert project.catalog == ROOT / "examples/shop/catalog.csv"
    assert project.formats == ("webp", "png", "html")
    assert project.out_for("camera-fans") == ROOT / "out/camera-fans"


@pytest.mark.parametrize(
    "toml, message",
    [
        ("[paths]\ntemplate = 'x'\n", "unknown setting 'paths.template' (hint: did you mean 'paths.templates'?)"),
        ("[render]\nformats = ['gif']\n",
         "render.formats has ['gif']; expected some of ['webp', 'png', 'jpg', 'html']"),
        ("[render]\nwebp_quality = 101\n", "render.webp_quality must be within 1..100; got 101"),
        ("[data]\nmax_reject_rate = 'lots'\n", "'data.max_reject_rate' must be a float; got 'lots'"),
        ("[data]\ncatalog = 5\n", "'data.catalog' must be a str; got 5"),
        ("paths = 3\n", "'paths' must be a [section]; got a int"),
        ("[data\n", "not valid TOML"),
    ],
)
def test_bad_project_files(tmp_path, toml, message):
    with pytest.raises(ConfigError) as err:
        load_project(project_with(tmp_path, toml))
    assert message in str(err.value)
    assert str(tmp_path / "bannergen.toml") in str(err.value)


def test_overrides_apply(tmp_path):
    project = load_project(project_with(tmp_path, ""), {"data.catalog": "/data/c.parquet", "paths.out": None})
    assert project.catalog == Path("/data/c.parquet")
    assert project.out == tmp_path / "out"


def test_missing_project_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="bannergen.toml: not found"):
        load_project(tmp_path)


def test_shipped_scoring_loads():
    settings = load_scoring(ROOT / "scoring")
    assert settings.selection.policy == "softmax"
    assert settings.weights.event_weights["purchase"] > settings.weights.event_weights["view"]


@pytest.mark.parametrize(
    "file, text, message",
    [
        ("weights.toml", "[event]\nview = 1\n", "unknown setting 'event' (hint: did you mean 'events'?)"),
        ("weights.toml", "[events]\nveiw = 1\n", "[events]: unknown setting 'veiw' (hint: did you mean 'view'?)"),
        ("weights.toml", "[events]\nview = -1\n", "'view' must be >= 0.0; got -1"),
        ("weights.toml", "[selection]\npolicy = 'best'\n",
         "'policy' must be one of ['softmax', 'greedy', 'thompson']; got 'best'"),
        ("weights.toml", "[selection]\ntemperature = 0\n", "'temperature' must be > 0; got 0.0"),
        ("weights.toml", "[price_bands]\nedges = [100, 50]\n", "'edges' must be increasing numbers; got [100, 50]"),
        ("rules.toml", "[filters]\nexclude_out_of_stok = true\n", "did you mean 'exclude_out_of_stock'?"),
        ("rules.toml", "[[boost]]\nname = 'x'\nadd = 0.1\n", "[[boost]] #1: matches nothing"),
        ("rules.toml", "[[boost]]\nbrand = 3\nadd = 0.1\n", "'brand' must be a name or a list of names; got 3"),
    ],
)
def test_bad_scoring_files(tmp_path, file, text, message):
    path = tmp_path / file
    path.write_text(text, encoding="utf-8")
    loader = load_weights if file == "weights.toml" else load_rules
    with pytest.raises(ConfigError) as err:
        loader(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_segments_file(tmp_path):
    shutil.copy(ROOT / "scoring/segments.toml", tmp_path / "segments.toml")
    segments = load_segments(tmp_path / "segments.toml")
    assert {"all", "camera-fans", "phone-shoppers"} <= set(segments)
    with pytest.raises(InputError, match="did you mean 'camera-fans'"):
        get_segment(segments, "camera-fan")


@pytest.mark.parametrize(
    "text, message",
    [
        ("[fans]\ntop_categroy = '相机'\n", "did you mean 'top_category'?"),
        ("[fans]\ndescription = 'x'\n", "[fans]: has no conditions"),
        ("[fans]\nmin_affinity = 'high'\n", "'min_affinity' must be a number; got 'high'"),
        ("[all]\nmin_purchases = 1\n", "'all' is built in"),
    ],
)
def test_bad_segments(tmp_path, text, message):
    path = tmp_path / "segments.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=None) as err:
        load_segments(path)
    assert message in str(err.value)

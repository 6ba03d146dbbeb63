"""The command line through typer's runner: output, exit codes, and bad input without tracebacks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bannergen.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A copy of the example project whose files a test may break."""
    for name in ("templates", "scoring"):
        shutil.copytree(ROOT / name, tmp_path / name)
    (tmp_path / "assets").symlink_to(ROOT / "assets")
    shutil.copytree(ROOT / "examples/shop", tmp_path / "shop")
    (tmp_path / "bannergen.toml").write_text(
        '[data]\ncatalog = "shop/catalog.csv"\nevents = "shop/events.parquet"\n'
        '[render]\nsizes = ["1200x400", "750x300", "300x250"]\n', encoding="utf-8"
    )
    return tmp_path


def run(project: Path, *args: str):
    return runner.invoke(app, ["--project", str(project), *args])


def test_help_has_examples():
    for command in ([], ["render"], ["explain"], ["segments"]):
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0
        assert "Example: bannergen" in result.output


def test_segments_lists_sizes(project):
    result = run(project, "segments")
    assert result.exit_code == 0, result.output
    lines = dict(line.split(None, 1) for line in result.output.splitlines())
    assert lines["all"].startswith("3,001")
    assert "camera-fans" in lines


def test_explain_zhangsan(project):
    result = run(project, "explain", "zhangsan")
    assert result.exit_code == 0, result.output
    assert "-> P=" in result.output and "相机新品上市" in result.output and "手机优惠活动" in result.output
    assert "reason: 因为你浏览了 佳能 相机" in result.output


@pytest.mark.slow
def test_render_prints_a_summary_and_json(project):
    result = run(project, "render", "--segment", "camera-fans", "--limit", "5")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("segment camera-fans: 5 users, ")
    assert "stages: check=" in result.output
    again = run(project, "render", "--segment", "camera-fans", "--limit", "5", "--json")
    summary = json.loads(again.output)
    assert summary["rendered"] == 0 and summary["cached"] == summary["unique_variants"] > 0
    assert (project / "out/camera-fans/manifest.json").is_file()


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["render", "--segment", "camera-fan"], 2, "error: unknown segment 'camera-fan'; known: all, camera-fans"),
        (["--catalog", "missing.csv", "segments"], 2, "missing.csv"),
    ],
)
def test_user_mistakes_are_one_line(project, args, code, message):
    result = run(project, *args)
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.slow
def test_too_many_bad_rows_fail_closed_and_keep_the_previous_output(project):
    ok = run(project, "render", "--segment", "camera-fans", "--limit", "3")
    assert ok.exit_code == 0, ok.output
    manifest = (project / "out/camera-fans/manifest.json").read_bytes()
    lines = (project / "shop/catalog.csv").read_text(encoding="utf-8").splitlines()
    # break the price of a fifth of the catalog
    broken = [lines[0]] + [line.replace(",", ",x", 4) if n % 5 == 0 else line for n, line in enumerate(lines[1:])]
    (project / "shop/catalog.csv").write_text("\n".join(broken) + "\n", encoding="utf-8")
    result = run(project, "render", "--segment", "camera-fans", "--limit", "3")
    assert result.exit_code == 2
    assert "rows rejected" in result.output and "above the limit of 5.0%" in result.output
    assert (project / "out/camera-fans/manifest.json").read_bytes() == manifest
    rejects = (project / "out/rejects.txt").read_text(encoding="utf-8").splitlines()
    assert rejects[0].endswith(
        "catalog.csv:2:price: not a positive number; got 'x1000.00'; expected a number > 0 such as 4999.00"
    )


@pytest.mark.slow
def test_a_few_bad_rows_are_skipped_and_reported(project):
    lines = (project / "shop/catalog.csv").read_text(encoding="utf-8").splitlines()
    lines[5] = lines[5].replace(",images/", ",../../etc/", 1)
    (project / "shop/catalog.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run(project, "render", "--segment", "camera-fans", "--limit", "3")
    assert result.exit_code == 0, result.output
    rejects = (project / "out/rejects.txt").read_text(encoding="utf-8").splitlines()
    assert f", {len(rejects)} rejects," in result.output
    assert ":6:image: " in rejects[0] and "escapes" in rejects[0]
    # the item's events cannot be scored without it: each is reported, none is silently lost
    item = lines[5].split(",")[0]
    assert all(f"item {item!r}" in r or repr(item) in r for r in rejects[1:]), rejects[1]


def test_a_missing_column_exits_2(project):
    text = (project / "shop/catalog.csv").read_text(encoding="utf-8").replace("item_id,", "sku,", 1)
    (project / "shop/catalog.csv").write_text(text, encoding="utf-8")
    result = run(project, "segments")
    assert result.exit_code == 2
    assert "item_id" in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_an_unwritable_output_folder_exits_3(project):
    blocker = project / "blocked"
    blocker.write_text("a file where a folder should be", encoding="utf-8")
    result = run(project, "render", "--segment", "camera-fans", "--limit", "2", "--out", str(blocker / "out"))
    assert result.exit_code == 3, result.output
    assert "cannot write" in result.output


def test_debug_shows_the_traceback_and_keeps_the_exit_code(project):
    result = run(project, "--debug", "render", "--segment", "nope")
    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.output
    assert result.output.rstrip().splitlines()[-1].startswith("error: unknown segment 'nope'")

"""Tests leave the working tree as they found it.

Tests that need "the example project" get ``example_project()``: a copy of the repository's
project files (about 10 MB, made once a run) in a temporary folder, so a render, a fit or a
rejects report lands in the copy (``out/``, ``.bannergen/``) and never in the working tree, where
a later ``bannergen recommend`` would pick up a model a test made.

The session fixture ``working_tree_unchanged`` fails the run when a test added or changed a file
where bannergen writes its output in the real tree (``out/``, ``.bannergen/``, the examples'),
naming the files.

Loaded by tests/conftest.py (``pytest_plugins``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Where bannergen writes (relative to a project folder), and what a mirror leaves out.
OUTPUTS = ("out", ".bannergen")
SKIPPED = {".git", ".venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", *OUTPUTS}

_mirror: Path | None = None


def example_project() -> Path:
    """The example project, as a copy whose outputs stay out of the working tree (made once a run)."""
    global _mirror
    if _mirror is None:
        base = Path(tempfile.mkdtemp(prefix="bannergen-project-"))
        atexit.register(shutil.rmtree, base, ignore_errors=True)
        _mirror = base / "project"
        shutil.copytree(ROOT, _mirror, symlinks=True, ignore=_not_copied)
    return _mirror


def _not_copied(folder: str, names: list[str]) -> set[str]:
    # A copy, not links: the template sandbox resolves paths, and a link out of assets/ is an escape.
    # The package itself stays out: a command run from the copy imports the code under test.
    top = {"bannergen"} if Path(folder) == ROOT else set()
    return {n for n in names if n in SKIPPED or n in top or n.endswith(".egg-info")}


def output_files(root: Path = ROOT) -> dict[str, int]:
    """{path relative to ``root``: modification time (ns)} of every file under a project's output
    folders: the repository's and each example's."""
    found: dict[str, int] = {}
    projects = [root, *(p.parent for p in (root / "examples").glob("*/bannergen.toml"))]
    for project in projects:
        for name in OUTPUTS:
            for dirpath, _, files in os.walk(project / name):
                for file in files:
                    path = Path(dirpath) / file
                    try:
                        found[str(path.relative_to(root))] = path.stat().st_mtime_ns
                    except OSError:  # removed while we looked
                        continue
    return found


@pytest.fixture(scope="session", autouse=True)
def working_tree_unchanged() -> Iterator[None]:
    before = output_files()
    started = time.time_ns()
    yield
    after = output_files()
    # Files changed since the run started (one written by someone running bannergen by hand in
    # the same tree meanwhile would be listed too: its name tells).
    touched = sorted(p for p, mtime in after.items() if before.get(p) != mtime and mtime >= started)
    assert not touched, (f"files under {ROOT}'s output folders changed during the run (by a test, or by bannergen run "
                         f"by hand in that tree meanwhile): {touched[:20]}")

"""The docstring examples of every bannergen module run, and print what they say.

Examples that need a project or a fitted model carry ``# doctest: +SKIP``; the rest are
self-contained. The same check from the command line: ``pytest --doctest-modules bannergen``.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import bannergen

MODULES = sorted(m.name for m in pkgutil.walk_packages(bannergen.__path__, "bannergen."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (see the output above)"

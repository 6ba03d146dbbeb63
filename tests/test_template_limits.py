"""Hostile templates run under limits: `templates validate` reports each at its file:line in a
bounded time, never hangs or crashes, and the other templates keep validating and rendering."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest_render import ASSETS, camera_context, copy_template, edit_file, line_with

from bannergen.errors import TemplateError
from bannergen.render import Renderer
from bannergen.templating import load_templates
from bannergen.templating.filters import format_cny, format_percent, format_thousands, format_zhe
from bannergen.templating.validate import validate_templates
from bannergen.types import RenderSpec

BODY = "<body>"
HEADLINE = 'headline = "{{ brand }} 精选好物"'
LOOPS = "".join("{% for c" + str(i) + " in title %}" for i in range(6)) + "x" + "{% endfor %}" * 6
SLOW = "".join("{% for c" + str(i) + " in title %}" for i in range(3)) + \
    "{% if (title|upper|replace('A', 'B')|length) == 0 %}x{% endif %}" + "{% endfor %}" * 3

# (file, old, new, text on the reported line, what the finding says after "file:line: ")
CASES = [
    ("template.toml", HEADLINE, 'headline = "{{ brand * 1000000000 }}"', "headline =",
     "headline: sandbox refused: '*' would build a value of 4,000,000,000 items"),
    ("template.toml", HEADLINE, 'headline = "{{ 2 ** 99999 }}"', "headline =",
     "headline: sandbox refused: '2 ** 99999' is too large"),
    ("template.toml", HEADLINE, 'headline = "{{ brand.center(1000000000) }}"', "headline =",
     "headline: sandbox refused: center(): argument 1000000000 is above the limit"),
    ("template.toml", HEADLINE, 'headline = "{{ brand|center(1000000000) }}"', "headline =",
     "headline: sandbox refused: filter 'center': argument 1000000000 is above the limit"),
    ("template.toml", HEADLINE, """headline = "{{ '%999999999s' % brand }}\"""", "headline =",
     "headline: sandbox refused: format width 999999999"),
    ("template.toml", HEADLINE, """headline = "{{ '{:>999999999}'.format(brand) }}\"""", "headline =",
     "headline: sandbox refused: format width 999999999"),
    ("template.toml", 'sizes = ["1200x400",', 'sizes = ["40000x40000", "1200x400",', "sizes =",
     "sizes: 40000x40000 is larger than 4096 pixels a side"),
    ("banner.html.j2", BODY, BODY + "\n" + LOOPS, LOOPS[:20],
     "sandbox refused: more than 200,000 loop iterations in one banner"),
    ("banner.html.j2", BODY, BODY + "\n{% include 'banner.html.j2' %}", "{% include 'banner.html.j2' %}",
     "include 'banner.html.j2' loops back on itself (banner.html.j2 -> banner.html.j2)"),
    ("banner.html.j2", BODY, BODY + "\n{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}", "{% macro m(n) %}",
     "sandbox refused: recursion too deep"),
    ("banner.html.j2", BODY, BODY + "\n{{ ([title] * 100000000)|length }}", "{{ ([title]",
     "sandbox refused: '*' would build a value of 100,000,000 items"),
    ("banner.html.j2", BODY, BODY + "\n{{ title|wordwrap(5) }}", "{{ title|wordwrap",
     "unknown filter 'wordwrap' (hint: the allowed filters are listed in docs/templates.md)"),
]


@pytest.fixture
def project(tmp_path) -> Path:
    for tid in ("product-spotlight", "price-drop"):
        copy_template(tmp_path, tid)
    return tmp_path / "templates"


@pytest.mark.parametrize(("file", "old", "new", "line_of", "expected"), CASES, ids=[c[4][:40] for c in CASES])
def test_hostile_template_is_a_finding_in_bounded_time(project, file, old, new, line_of, expected):
    path = project / "product-spotlight" / file
    edit_file(path, old, new)
    start = time.perf_counter()
    results = validate_templates(project, ASSETS)
    assert time.perf_counter() - start < 20
    assert results["price-drop"] == []  # one template's failure hides nothing of another's
    findings = [str(f) for f in results["product-spotlight"]]
    prefix = f"{path}:{line_with(path, line_of)}: "
    assert any(f.startswith(prefix) and expected in f for f in findings), findings


def test_a_scaled_canvas_is_bounded_too(project):
    path = project / "product-spotlight" / "template.toml"
    edit_file(path, 'sizes = ["1200x400",', 'sizes = ["4000x400", "1200x400",')
    edit_file(path, "scales = [1, 2]", "scales = [1, 3]")
    findings = [str(f) for f in validate_templates(project, ASSETS)["product-spotlight"]]
    assert any(f.startswith(f"{path}:{line_with(path, 'scales =')}: scales: 4000x400 at 3x would be 12000 pixels "
                            "a side, above 8192") for f in findings), findings


def test_a_slow_template_stops_at_the_deadline(project, tmp_path):
    """Few iterations, each slow enough that the whole would run for minutes: the 2 s deadline ends it."""
    path = project / "product-spotlight" / "banner.html.j2"
    edit_file(path, BODY, BODY + "\n" + SLOW)
    template = load_templates(project, assets_dir=ASSETS)["product-spotlight"]
    renderer = Renderer({template.id: template}, ASSETS, formats=("html",))
    long_title = camera_context(None, title="佳能 EOS R50 " * 20)
    start = time.perf_counter()
    with pytest.raises(TemplateError, match=r"banner.html.j2: line \d+: sandbox refused: "
                                             r"(rendering took longer than 2 s|more than 200,000 loop)"):
        renderer.render(RenderSpec(template.id, (1200, 400), long_title))
    assert time.perf_counter() - start < 15


def test_html_output_is_capped_at_one_megabyte(project):
    path = project / "product-spotlight" / "banner.html.j2"
    edit_file(path, BODY, BODY + "\n{% for c in title %}{% for d in title %}{{ title }}{{ title }}{% endfor %}{% endfor %}")
    template = load_templates(project, assets_dir=ASSETS)["product-spotlight"]
    renderer = Renderer({template.id: template}, ASSETS, formats=("html",))
    with pytest.raises(TemplateError, match="output is longer than the limit of 1,000,000 characters"):
        renderer.render(RenderSpec(template.id, (1200, 400), camera_context(None, title="佳能" * 60)))


def test_runtime_errors_name_the_real_line_of_banner_html(project):
    """An error that only a render meets (a division by a context number that is 0) names its line."""
    path = project / "product-spotlight" / "banner.html.j2"
    edit_file(path, BODY, BODY + "\n\n{{ 100 // discount_pct }}")
    template = load_templates(project, assets_dir=ASSETS)["product-spotlight"]
    renderer = Renderer({template.id: template}, ASSETS, formats=("html",))
    line = line_with(path, "{{ 100 // discount_pct }}")
    assert line > 1
    with pytest.raises(TemplateError, match=rf"banner.html.j2: line {line}: ZeroDivisionError"):
        renderer.render(RenderSpec(template.id, (1200, 400), camera_context(None, discount_pct=0)))


@pytest.mark.parametrize(("function", "value", "expected"), [
    (format_cny, 1000, "¥1,000"), (format_cny, 4999.5, "¥4,999.50"), (format_percent, 17, "17%"),
    (format_zhe, 17, "8.3折"), (format_zhe, 20, "8折"), (format_zhe, 0, ""), (format_thousands, 12999, "12,999"),
])
def test_formatting_filters(function, value, expected):
    assert function(value) == expected

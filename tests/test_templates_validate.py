"""`templates validate`: each bad input is one finding `file:line: problem (hint: ...)`, and the
other templates keep validating (and loading) as if nothing happened."""

from __future__ import annotations

import shutil
import struct
import zlib
from pathlib import Path

import pytest
from conftest_render import ASSETS, TEMPLATES, edit_file, line_with
from PIL import Image

from bannergen.errors import TemplateError
from bannergen.templating import load_templates
from bannergen.templating.manifest import load_template
from bannergen.templating.validate import validate_templates


@pytest.fixture(scope="module")
def assets(tmp_path_factory) -> Path:
    """A copy of assets/ plus bad files: a corrupt font, a TIFF named .png, a decompression bomb."""
    root = tmp_path_factory.mktemp("assets") / "assets"
    shutil.copytree(ASSETS, root)
    (root / "fonts" / "Broken.otf").write_bytes(b"OTTO" + b"\0" * 200)
    img = root / "img"
    img.mkdir()
    Image.new("RGB", (40, 40), "red").save(img / "logo.png", "PNG")
    Image.new("RGB", (40, 40), "red").save(img / "disguised.png", "TIFF")
    (img / "bomb.png").write_bytes(_png_header_only(60000, 60000))
    return root


def _png_header_only(w: int, h: int) -> bytes:
    """A tiny PNG that claims w x h pixels (decoding it would need gigabytes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.fixture
def project(tmp_path) -> Path:
    """templates/ with product-spotlight (edited by each test) and an untouched price-drop."""
    for tid in ("product-spotlight", "price-drop"):
        shutil.copytree(TEMPLATES / tid, tmp_path / "templates" / tid)
    return tmp_path / "templates"


HALO = 'kind = "ellipse"\nname = "halo"\nbox = [740, 0, 420, 400]\nfill = "halo"'
TITLE_TEXT = 'sizes."1200x400".elements[4] (title).text: '
HEADLINE = 'headline = "{{ brand }} 精选好物"'
TITLE_HTML = "<title>{{ headline }} · {{ title }}</title>"
FIRST_BOX = "box = [740, 0, 420, 400]"
PRIVATE = " (names starting with '_' are private)"


def _image(source: str) -> str:
    return f'kind = "image"\nname = "halo"\nbox = [740, 0, 420, 400]\nsource = "{source}"'


# (file, old, new, text on the reported line, the finding after "file:line: "; {line}/{assets} filled in)
CASES = [
    ("template.toml", "priority = 0.0", "priority = 0.0\nbroken = ]", "broken = ]", "not valid TOML: "),
    (
        "template.toml",
        "priority = 0.0",
        "priorty = 0.0",
        "priorty",
        "unknown key 'priorty' (hint: did you mean 'priority'?)",
    ),
    (
        "template.toml",
        HEADLINE,
        "headline = \"{{ ''.__class__.__mro__ }}\"",
        "headline =",
        "headline: sandbox refused attribute '__class__'" + PRIVATE,
    ),
    (
        "template.toml",
        HEADLINE,
        "headline = \"{{ cycler.__init__.__globals__.os.popen('id').read() }}\"",
        "headline =",
        "headline: sandbox refused attribute '__globals__'" + PRIVATE,
    ),
    ("template.toml", HEADLINE, 'headline = "{{ lipsum }}"', "headline =", "headline: unknown name 'lipsum'"),
    (
        "template.toml",
        'regular = "NotoSansSC-Regular.otf"',
        'regular = "Missing.otf"',
        "regular =",
        "font 'Missing.otf' not found under {assets}/fonts/ "
        "(hint: put the .otf/.ttf file in assets/fonts/ or name a shipped one)",
    ),
    (
        "template.toml",
        'regular = "NotoSansSC-Regular.otf"',
        'regular = "Broken.otf"',
        "regular =",
        "font 'Broken.otf' cannot be read: ",
    ),
    (
        "template.toml",
        'cta = "立即抢购"',
        'cta = "立即抢购𠀀"',
        "cta =",
        "cta: no font covers '𠀀' (U+20000) "
        "(hint: add a [fonts] fallback that has these characters, or change the text)",
    ),
    (
        "layout.toml",
        FIRST_BOX,
        "box = [980, 30, 340, 340]",
        "box = [980",
        'sizes."1200x400".elements[0] (halo): box [980, 30, 340, 340] does not lie inside the 1200x400 banner: '
        'it overflows the right edge by 120 px',
    ),
    (
        "layout.toml",
        'text = "{{ title }}"',
        'text = "{{ self._TemplateReference__context }}"',
        "_TemplateReference",
        TITLE_TEXT + "sandbox refused attribute '_TemplateReference__context'" + PRIVATE,
    ),
    (
        "layout.toml",
        'text = "{{ title }}"',
        "text = \"{{ ''|attr('__class__') }}\"",
        "|attr",
        TITLE_TEXT + "sandbox refused the 'attr' filter",
    ),
    (
        "layout.toml",
        'text = "{{ title }}"',
        'text = "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}"',
        "__subclasses__",
        TITLE_TEXT + "sandbox refused attribute '__base__'" + PRIVATE,
    ),
    (
        "layout.toml",
        HALO,
        _image("img/disguised.png"),
        "img/disguised.png",
        "asset 'img/disguised.png': disguised.png is a TIFF image, not one of PNG, JPEG, WebP "
        "(hint: re-export it as PNG or WebP)",
    ),
    (
        "layout.toml",
        HALO,
        _image("img/bomb.png"),
        "img/bomb.png",
        "asset 'img/bomb.png': bomb.png has 3,600,000,000 pixels, above the limit of 16,777,216 (4096x4096)",
    ),
    (
        "layout.toml",
        HALO,
        _image("../../etc/passwd"),
        "etc/passwd",
        "sizes.\"1200x400\".elements[0] (halo).source: asset path '../../etc/passwd' escapes assets/",
    ),
    (
        "banner.html.j2",
        TITLE_HTML,
        "<title>{{ headline }</title>",
        "<title>",
        "syntax error on line {line}: unexpected '}'",
    ),
    (
        "banner.html.j2",
        TITLE_HTML,
        '{% include "../price-drop/banner.html.j2" %}',
        "include",
        "include '../price-drop/banner.html.j2' escapes the template folder "
        "(hint: include only files inside the template's own folder)",
    ),
    (
        "banner.html.j2",
        TITLE_HTML,
        "<title>{{ ''.__class__.__mro__[1].__subclasses__() }}</title>",
        "<title>",
        "sandbox refused attribute '__class__'" + PRIVATE,
    ),
    (
        "banner.html.j2",
        TITLE_HTML,
        "<title>{{ title|safe }}</title>",
        "<title>",
        "'|safe' on catalog field 'title' (catalog text must stay escaped)",
    ),
    (
        "banner.html.j2",
        TITLE_HTML,
        "<title><a href={{ url }}>x</a></title>",
        "<title>",
        'attribute href= holds Jinja output without quotes; write href="{{ url }}"',
    ),
    (
        "banner.html.j2",
        TITLE_HTML,
        '<title><a href="{{ title }}">x</a></title>',
        "<title>",
        "href gets '{{ title }}': URLs must be http(s); use '|safe_url'",
    ),
    (
        "banner.html.j2",
        TITLE_HTML,
        '<title><a href="javascript:alert(1)">x</a></title>',
        "<title>",
        "href 'javascript:alert(1)': only http(s) or relative URLs are allowed",
    ),
    ("banner.html.j2", TITLE_HTML, "<title>{{ config.items() }}</title>", "<title>", "unknown name 'config'"),
]


@pytest.mark.parametrize(("file", "old", "new", "line_of", "expected"), CASES, ids=[c[4][:48] for c in CASES])
def test_bad_input_is_one_finding_with_file_and_line(project, assets, file, old, new, line_of, expected):
    path = project / "product-spotlight" / file
    edit_file(path, old, new)
    results = validate_templates(project, assets)
    assert results["price-drop"] == []  # the other template is unaffected
    findings = results["product-spotlight"]
    assert len(findings) == 1, [str(f) for f in findings]
    line = line_with(path, line_of)
    text = str(findings[0])
    prefix = f"{path}:{line}: "
    assert text.startswith(prefix), text
    assert text[len(prefix):].startswith(expected.replace("{line}", str(line)).replace("{assets}", str(assets))), text
    # loading still works for the healthy template
    assert list(load_templates(project, assets_dir=assets, on_error=lambda e: None)) in (
        ["price-drop"],
        ["price-drop", "product-spotlight"],
    )


def test_shipped_templates_are_valid():
    assert validate_templates(TEMPLATES, ASSETS) == {
        tid.name: [] for tid in sorted(TEMPLATES.iterdir()) if (tid / "template.toml").is_file()
    }


def test_every_broken_layout_element_is_reported_at_once(project, assets):
    """Three mistakes in two sizes of one layout.toml: three findings, each at its own line, so a
    campaign team fixes them in one pass instead of one validate run per mistake."""
    path = project / "product-spotlight" / "layout.toml"
    edit_file(path, "box = [64, 56, 6, 32]", "box = [64, 56, 6, 32, 9]")
    edit_file(path, 'colour = "ink"', 'colour = "inkk"')
    edit_file(path, "box = [460, 0, 290, 300]", "box = [460, 0, 900, 300]")
    findings = [str(f) for f in validate_templates(project, assets)["product-spotlight"]]
    assert len(findings) == 3, findings
    expected = [("box = [64, 56, 6, 32, 9]", "box must be [x, y, w, h] integers"),
                ('colour = "inkk"', "unknown colour 'inkk'"),
                ("box = [460, 0, 900, 300]", "does not lie inside the 750x300 banner")]
    for finding, (needle, problem) in zip(findings, expected):
        assert finding.startswith(f"{path}:{line_with(path, needle)}: ") and problem in finding, finding
    with pytest.raises(TemplateError, match="box must be"):  # loading for rendering still stops at the first
        load_template(project / "product-spotlight")


def test_every_finding_of_every_file_in_one_run(project, assets):
    """A typo in each of the three files: one validate run names all of them at their own lines,
    an unknown name with its "did you mean", an overflow with its pixels."""
    folder = project / "product-spotlight"
    edit_file(folder / "template.toml", "priority = 0.0", "priorty = 0.0")
    edit_file(folder / "template.toml", 'slots = ["brand"', 'slots = ["prcie", "brand"')
    edit_file(folder / "layout.toml", FIRST_BOX, "box = [980, 30, 340, 340]")
    edit_file(folder / "banner.html.j2", TITLE_HTML, "<title>{{ prcie }}</title>")
    findings = [str(f) for f in validate_templates(project, assets)["product-spotlight"]]
    expected = [
        (folder / "template.toml", "slots = [", "slots: unknown slot 'prcie' (hint: did you mean 'price'?)"),
        (folder / "template.toml", "priorty", "unknown key 'priorty' (hint: did you mean 'priority'?)"),
        (folder / "layout.toml", "box = [980", "it overflows the right edge by 120 px"),
        (folder / "banner.html.j2", "{{ prcie }}", "unknown name 'prcie' (hint: did you mean 'price'?)"),
    ]
    assert len(findings) == len(expected), findings
    for path, needle, problem in expected:
        prefix = f"{path}:{line_with(path, needle)}: "
        assert any(f.startswith(prefix) and problem in f for f in findings), (prefix, problem, findings)


def test_overlapping_text_boxes_are_a_finding(project, assets):
    path = project / "product-spotlight" / "layout.toml"
    layout = path.read_text(encoding="utf-8")
    price = layout.index('name = "price"')
    box = layout.index("box = ", price)
    end = layout.index("\n", box)
    path.write_text(layout[:box] + "box = [64, 120, 200, 40]" + layout[end:], encoding="utf-8")  # onto the title
    findings = [str(f) for f in validate_templates(project, assets)["product-spotlight"]]
    assert any(f.startswith(f"{path}:{line_with(path, 'box = [64, 120, 200, 40]')}: ")
               and "text 'price' overlaps text" in f and " px" in f for f in findings), findings

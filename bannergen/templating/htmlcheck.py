"""Static checks of banner.html.j2 beyond Jinja's own sandbox.

Every problem is ``(line, message)`` with the line in the HTML file:

* sandbox policy (``sandbox.static_problems``): no ``_``-names, no ``|attr``, only HTML_NAMES;
* ``{% include %}``/``{% import %}`` only of files inside the template folder;
* catalog text stays escaped: no ``|safe`` over a catalog field, no ``{% autoescape false %}``;
* attribute values holding Jinja output are quoted (``href={{ url }}`` breaks out of the tag);
* URLs only http(s) or relative: a URL attribute or CSS ``url()`` filled by Jinja must be
  ``url`` (already http(s)-only), a sidecar URL, or pass ``|safe_url``; a literal one may not be
  ``javascript:``, ``data:``, ``file:`` or ``vbscript:``.
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
from jinja2 import nodes

from bannergen.templating.limits import MAX_INCLUDE_DEPTH
from bannergen.templating.names import CATALOG_FIELDS, HTML_NAMES
from bannergen.templating.sandbox import static_problems

# Values that are safe to put in a URL attribute: already http(s)-only or our own sidecars.
SAFE_URL_EXPR = re.compile(
    r"^\s*(url|image_url|background_url|images\[[^\]]+\]|images\.\w+|fonts\.\w+|fonts\[[^\]]+\])\s*$|\|\s*safe_url\s*$"
)
URL_ATTRS = ("href", "src", "action", "formaction", "srcset", "poster", "data", "xlink:href", "background", "ping")
_ATTR = re.compile(r"""\s([A-Za-z_:][-\w:.]*)\s*=\s*("([^"]*)"|'([^']*)'|(\{\{.*?\}\}|\{%.*?%\}|[^\s>"']+))""", re.S)
_CSS_URL = re.compile(r"""url\(\s*["']?([^"')]*)["']?\s*\)""")
_EXPR = re.compile(r"\{\{(.*?)\}\}", re.S)
HTML_FILE = "banner.html.j2"
_BAD_SCHEME = re.compile(r"^\s*(javascript|data|file|vbscript)\s*:", re.I)


def _line(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


def _names(node: nodes.Node) -> set[str]:
    return {n.name for n in node.find_all(nodes.Name)} | ({node.name} if isinstance(node, nodes.Name) else set())


def ast_problems(ast: nodes.Template, folder: Path) -> list[tuple[int, str]]:
    problems = static_problems(ast, HTML_NAMES)
    for node in ast.find_all(nodes.Filter):
        if node.name == "safe" and node.node is not None:
            catalog = sorted(_names(node.node) & CATALOG_FIELDS)
            if catalog:
                problems.append(
                    (node.lineno, f"'|safe' on catalog field '{catalog[0]}' (catalog text must stay escaped)")
                )
    for scope in ast.find_all(nodes.ScopedEvalContextModifier):
        for kw in scope.options:
            if kw.key == "autoescape" and not (isinstance(kw.value, nodes.Const) and kw.value.value):
                problems.append(
                    (scope.lineno, "'{% autoescape false %}' is not allowed (catalog text must stay escaped)")
                )
    root = folder.resolve()
    loaders = (nodes.Include, nodes.Import, nodes.FromImport)
    for include in ast.find_all(loaders):
        if not isinstance(include, loaders):  # find_all is typed as their base class
            continue
        target = include.template
        if not isinstance(target, nodes.Const) or not isinstance(target.value, str):
            problems.append((include.lineno, "include/import needs a literal file name"))
            continue
        path = (root / target.value).resolve()
        if not path.is_relative_to(root):
            problems.append((include.lineno, f"include '{target.value}' escapes the template folder"))
        elif not path.is_file():
            problems.append((include.lineno, f"include '{target.value}' not found in the template folder"))
        else:
            chain = _include_chain(root, target.value, (HTML_FILE,))
            if chain:
                problems.append((include.lineno, chain))
    return problems


def _include_chain(root: Path, name: str, chain: tuple[str, ...]) -> str | None:
    """A problem when including ``name`` after ``chain`` loops back or nests deeper than
    MAX_INCLUDE_DEPTH (a file that includes itself would recurse until Python gives up)."""
    chain = (*chain, name)
    if name in chain[:-1]:
        return f"include '{name}' loops back on itself ({' -> '.join(chain)})"
    if len(chain) - 1 > MAX_INCLUDE_DEPTH:
        return f"includes nest deeper than {MAX_INCLUDE_DEPTH} files ({' -> '.join(chain)})"
    try:
        ast = jinja2.Environment().parse((root / name).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, jinja2.TemplateSyntaxError):
        return None  # that file's own problems are reported when it is rendered
    for node in ast.find_all((nodes.Include, nodes.Import, nodes.FromImport)):
        target = getattr(node, "template", None)
        if isinstance(target, nodes.Const) and isinstance(target.value, str):
            path = (root / target.value).resolve()
            if path.is_relative_to(root) and path.is_file():
                problem = _include_chain(root, target.value, chain)
                if problem:
                    return problem
    return None


def source_problems(source: str) -> list[tuple[int, str]]:
    problems: list[tuple[int, str]] = []
    for m in _ATTR.finditer(source):
        name, unquoted = m.group(1).lower(), m.group(5)
        if unquoted is not None and "{" in unquoted:
            problems.append(
                (
                    _line(source, m.start(1)),
                    f'attribute {name}= holds Jinja output without quotes; write {name}="{unquoted}"',
                )
            )
            continue
        value = m.group(3) if m.group(3) is not None else (m.group(4) or "")
        if name in URL_ATTRS:
            problems += _url_problems(value, name, source, m.start(2))
        if name == "style":
            for u in _CSS_URL.finditer(value):
                problems += _url_problems(u.group(1), "style url()", source, m.start(2) + u.start())
    return problems


def _url_problems(value: str, what: str, source: str, offset: int) -> list[tuple[int, str]]:
    exprs = _EXPR.findall(value)
    if exprs:
        bad = [e.strip() for e in exprs if not SAFE_URL_EXPR.search(e)]
        if bad:
            return [(_line(source, offset), f"{what} gets '{{{{ {bad[0]} }}}}': URLs must be http(s); use '|safe_url'")]
        return []
    if _BAD_SCHEME.match(value):
        return [(_line(source, offset), f"{what} {value[:40]!r}: only http(s) or relative URLs are allowed")]
    return []


def html_problems(ast: nodes.Template, source: str, folder: Path) -> list[tuple[int, str]]:
    """Every problem, sorted by line."""
    return sorted(ast_problems(ast, folder) + source_problems(source))


def hint_for(problem: str) -> str:
    """The usual fix for a problem html_problems reports."""
    if "escapes the template folder" in problem or "not found in the template folder" in problem:
        return "include only files inside the template's own folder"
    if "loops back" in problem or "nest deeper" in problem:
        return "include each shared file once, from banner.html.j2; never the file itself"
    if "|safe" in problem or "autoescape" in problem:
        return "leave catalog text escaped; style it with CSS instead of markup"
    if "without quotes" in problem:
        return "quote every attribute value that holds {{ ... }}"
    if "URL" in problem or "url" in problem:
        return "links come from {{ url }} (http(s) only) or '|safe_url'"
    return "templates may only read the documented banner context (docs/templates.md)"

"""The Jinja2 sandbox every template string runs in.

Two environments per template folder, both sandboxed with StrictUndefined and a loader rooted at
that folder only (so ``{% include "../other/x" %}`` cannot reach outside it):

* text: headline and layout text expressions, drawn by Pillow; no autoescape because the
  output is pixels, never markup.
* html: banner.html.j2, autoescaped, so a catalog title holding ``<script>`` shows as text.

Both environments have no globals (no ``range``, ``cycler``, ``lipsum``, ``namespace``: the
usual footholds of published sandbox escapes). Every template string is also checked statically
before it runs (``static_problems``): no attribute or item whose name starts with ``_``, no
``|attr`` filter, and only documented names, so a payload in a branch the sample contexts never
take is still rejected.

Jinja and sandbox errors are mapped to TemplateError at this edge.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from bannergen.errors import TemplateError

log = logging.getLogger(__name__)


class _FolderLoader(jinja2.FileSystemLoader):
    """FileSystemLoader that also refuses symlinks pointing outside the folder."""

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Any]:
        source, filename, uptodate = super().get_source(environment, template)
        root = Path(self.searchpath[0]).resolve()
        if not Path(filename).resolve().is_relative_to(root):
            raise jinja2.TemplateNotFound(template)
        return source, filename, uptodate


def safe_url(value: object) -> str:
    """``value`` when it is an http(s) URL with a host, else "" (no javascript:, data:, //x)."""
    text = str(value or "").strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    return text if parts.scheme in ("http", "https") and parts.netloc else ""


def make_environment(folder: Path, *, html: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=_FolderLoader(str(folder)),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["safe_url"] = safe_url
    env.globals.clear()
    return env


def static_problems(ast: nodes.Template, names: frozenset[str] | None) -> list[tuple[int, str]]:
    """(template line, problem) for every construct the sandbox policy forbids in ``ast``:
    attributes or items starting with ``_`` (``''.__class__``, ``x['__globals__']``), the
    ``attr`` filter (``x|attr('__class__')``), and names outside ``names`` (when given)."""
    problems: list[tuple[int, str]] = []
    for node in ast.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            problems.append(
                (node.lineno, f"sandbox refused attribute '{node.attr}' (names starting with '_' are private)")
            )
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str) \
                and node.arg.value.startswith("_"):
            problems.append(
                (node.lineno, f"sandbox refused item '{node.arg.value}' (names starting with '_' are private)")
            )
        elif isinstance(node, nodes.Filter) and node.name == "attr":
            problems.append((node.lineno, "sandbox refused the 'attr' filter"))
    if names is not None:
        for name in sorted(meta.find_undeclared_variables(ast) - names):
            line = next((n.lineno for n in ast.find_all(nodes.Name) if n.name == name), 1)
            problems.append((line, f"unknown name '{name}'"))
    return sorted(problems)


def check_static(
    env: SandboxedEnvironment, source: str, names: frozenset[str] | None, where: str, *, expression: bool = False
) -> None:
    """Raise TemplateError for the first problem static_problems finds in ``source``."""
    try:
        ast = env.parse("{{ (" + source + ") }}" if expression else source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{where}: {describe(exc)}") from exc
    problems = static_problems(ast, names)
    if problems:
        raise TemplateError(f"{where}: {problems[0][1]}", hint=name_hint(problems[0][1], names))


def name_hint(problem: str, names: frozenset[str] | None) -> str:
    """"did you mean 'colours'?" for an unknown name, else where the allowed names are listed."""
    import difflib
    import re

    match = re.match(r"unknown name '([^']+)'", problem)
    if match and names is not None:
        close = difflib.get_close_matches(match.group(1), sorted(names), n=1)
        if close:
            return f"did you mean '{close[0]}'?"
        return f"known names: {', '.join(sorted(names))}"
    return "templates may only read the documented banner context (docs/templates.md)"


def describe(exc: BaseException) -> str:
    """One line for a Jinja/sandbox failure, with the template line when Jinja knows it."""
    if isinstance(exc, SecurityError):
        return f"sandbox refused: {exc}"
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"syntax error on line {exc.lineno}: {exc.message}"
    if isinstance(exc, jinja2.UndefinedError):
        return f"unknown name: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


class TextExpression:
    """A compiled template string (e.g. ``"{{ category }}新品上市"``) rendered to plain text."""

    def __init__(self, env: SandboxedEnvironment, source: str, where: str, names: frozenset[str] | None = None) -> None:
        self.source = source
        self.where = where
        check_static(env, source, names, where)
        try:
            self._template = env.from_string(source)
        except jinja2.TemplateError as exc:
            raise TemplateError(f"{where}: {describe(exc)}") from exc

    def render(self, variables: dict[str, Any]) -> str:
        try:
            return self._template.render(variables)
        except (jinja2.TemplateError, SecurityError) as exc:
            raise TemplateError(f"{self.where}: {describe(exc)}") from exc
        except Exception as exc:  # arithmetic in an expression (1/0 ...) is still the template's fault
            raise TemplateError(f"{self.where}: {describe(exc)}") from exc


class Condition:
    """A compiled boolean expression such as ``has_discount`` or ``discount_pct >= 10``."""

    def __init__(self, env: SandboxedEnvironment, source: str, where: str, names: frozenset[str] | None = None) -> None:
        self.source = source
        self.where = where
        check_static(env, source, names, where, expression=True)
        try:
            self._expr = env.compile_expression(source, undefined_to_none=False)
        except jinja2.TemplateError as exc:
            raise TemplateError(f"{where}: {describe(exc)}") from exc

    def __call__(self, variables: dict[str, Any]) -> bool:
        try:
            value = self._expr(**variables)
            if isinstance(value, jinja2.Undefined):
                str(value)  # StrictUndefined raises here, naming the unknown variable
            return bool(value)
        except (jinja2.TemplateError, SecurityError) as exc:
            raise TemplateError(f"{self.where}: {describe(exc)}") from exc
        except Exception as exc:
            raise TemplateError(f"{self.where}: {describe(exc)}") from exc

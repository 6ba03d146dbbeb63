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

Every environment also runs under the resource limits of ``limits.py``: each ``{% for %}`` spends
the banner's budget (iterations and a 2 s deadline), calls and the ``*``, ``**`` and ``%``
operators refuse results that would be huge before they are built, only the filters listed in
``filters.py`` exist, and the output of a render is cut off at its size limit.

Jinja and sandbox errors are mapped to TemplateError at this edge, with the template line a
runtime error happened on.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

import bannergen.templating.limits as limits
from bannergen.errors import TemplateError
from bannergen.templating.filters import ALLOWED_FILTERS, bounded_filters

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


_BOUNDED = "bannergen_bounded"  # the filter every loop's iterable is wrapped in (see _parse)


class BoundedEnvironment(SandboxedEnvironment):
    """The sandbox with resource limits: see the module docstring and limits.py."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        ast = super()._parse(source, name, filename)
        for loop in ast.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, _BOUNDED, [], [], None, None, lineno=loop.lineno)
        return ast

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        limits.tick()
        limits.check_repeat(operator, left, right)
        return limits.check_size(super().call_binop(context, operator, left, right), f"'{operator}'")

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        limits.tick()
        what = getattr(__obj, "__name__", type(__obj).__name__)
        if isinstance(__obj, jinja2.runtime.Macro):  # a macro's own numbers (prices) are data, not sizes
            for value in (*args, *kwargs.values()):
                limits.check_size(value, f"{what}(): an argument")
        else:
            limits.check_arguments(args, kwargs, f"{what}()")
        return limits.check_size(super().call(__context, __obj, *args, **kwargs), f"{what}()")

    def wrap_str_format(self, value: Any) -> Any:
        owner = getattr(value, "__self__", None)
        if getattr(value, "__name__", "") in ("format", "format_map") and isinstance(owner, str):
            limits.check_format_string(owner)  # '{:>999999999}'.format(x) is refused before it is built
        return super().wrap_str_format(value)

    def get_template(self, name: Any, parent: str | None = None, globals: Any = None) -> jinja2.Template:
        budget = limits.active()
        if budget is not None:
            budget.include(str(name))
        return super().get_template(name, parent, globals)


def make_environment(folder: Path, *, html: bool) -> SandboxedEnvironment:
    env = BoundedEnvironment(
        loader=_FolderLoader(str(folder)),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.clear()
    env.filters.update(bounded_filters(jinja2.Environment().filters))
    env.filters["safe_url"] = safe_url
    env.filters[_BOUNDED] = limits.bounded_iter
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
        elif isinstance(node, nodes.Filter) and node.name not in ALLOWED_FILTERS and node.name != _BOUNDED:
            problems.append((node.lineno, f"unknown filter '{node.name}'"))
    if problems:
        return sorted(problems)  # the name analysis below compiles the template, which needs known filters
    if names is not None:
        try:
            undeclared = meta.find_undeclared_variables(ast)
        except jinja2.TemplateAssertionError as exc:  # an unknown test ("is foo")
            return [(exc.lineno, exc.message or str(exc))]
        for name in sorted(undeclared - names):
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
    """"did you mean 'colours'?" for an unknown name or filter, else where the allowed names are listed."""
    import difflib
    import re

    match = re.match(r"unknown filter '([^']+)'", problem)
    if match:
        close = difflib.get_close_matches(match.group(1), ALLOWED_FILTERS, n=1)
        listed = "the allowed filters are listed in docs/templates.md"
        return f"did you mean '{close[0]}'? ({listed})" if close else listed
    match = re.match(r"unknown name '([^']+)'", problem)
    if match and names is not None:
        close = difflib.get_close_matches(match.group(1), sorted(names), n=1)
        if close:
            return f"did you mean '{close[0]}'?"
        return f"known names: {', '.join(sorted(names))}"
    return "templates may only read the documented banner context (docs/templates.md)"


def render_bounded(template: jinja2.Template, variables: dict[str, Any], limit: int, where: str) -> str:
    """``template`` rendered within the banner's budget and at most ``limit`` characters long.
    Any failure is a TemplateError "where: [line N: ]problem", N the template line it happened on
    (for a file template: banner.html.j2 and the files it includes)."""
    try:
        with limits.evaluating(where):
            try:
                return _bounded_output(template, variables, limit)
            except Exception:  # noqa: BLE001 - Jinja rewrites the traceback to template lines and re-raises
                template.environment.handle_exception()
                raise
    except Exception as exc:  # noqa: BLE001 - whatever a render raises (1/0, RecursionError) is the template's
        line = runtime_line(exc, template.filename)
        at = f"line {line}: " if line is not None else ""
        raise TemplateError(f"{where}: {at}{describe(exc)}") from exc


def _bounded_output(template: jinja2.Template, variables: dict[str, Any], limit: int) -> str:
    """The template's output, stopped as soon as it grows past ``limit`` characters (the render
    function itself, not Template.generate: one generator layer less per chunk)."""
    parts: list[str] = []
    total = 0
    for chunk in template.root_render_func(template.new_context(variables)):
        total += len(chunk)
        if total > limit:
            raise limits.LimitExceeded(f"output is longer than the limit of {limit:,} characters")
        parts.append(chunk)
    return "".join(parts)


def runtime_line(exc: BaseException, filename: str | None) -> int | None:
    """The line of template file ``filename`` where ``exc`` was raised, from the traceback Jinja
    rewrites to point at template lines (None for a string template or when no frame is its)."""
    if not filename or filename == "<template>":
        return None
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def describe(exc: BaseException) -> str:
    """One line for a Jinja/sandbox failure, with the template line when Jinja knows it."""
    if isinstance(exc, RecursionError):
        return "sandbox refused: recursion too deep (a macro or include that calls itself?)"
    if isinstance(exc, MemoryError):
        return "sandbox refused: out of memory while rendering"
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
        return render_bounded(self._template, variables, limits.MAX_TEXT_CHARS, self.where)


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
            with limits.evaluating(self.where):
                value = self._expr(**variables)
                if isinstance(value, jinja2.Undefined):
                    str(value)  # StrictUndefined raises here, naming the unknown variable
                return bool(value)
        except Exception as exc:  # noqa: BLE001 - whatever an expression raises is the template's fault
            raise TemplateError(f"{self.where}: {describe(exc)}") from exc

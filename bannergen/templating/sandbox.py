"""The Jinja2 sandbox every template string runs in.

Two environments per template folder, both sandboxed with StrictUndefined and a loader rooted at
that folder only (so ``{% include "../other/x" %}`` cannot reach outside it):

* text: headline and layout text expressions, drawn by Pillow; no autoescape because the
  output is pixels, never markup.
* html: banner.html.j2, autoescaped, so a catalog title holding ``<script>`` shows as text.

Jinja and sandbox errors are mapped to TemplateError at this edge.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
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
    return env


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

    def __init__(self, env: SandboxedEnvironment, source: str, where: str) -> None:
        self.source = source
        self.where = where
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

    def __init__(self, env: SandboxedEnvironment, source: str, where: str) -> None:
        self.source = source
        self.where = where
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

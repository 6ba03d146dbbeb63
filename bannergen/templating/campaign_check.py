"""The campaign check that needs the project's segments: every name in a template's
``segments = [...]`` must be a segment of scoring/segments.toml (or the built-in `all`).

Reported like every other template finding, at the line of ``segments`` in template.toml.
"""

from __future__ import annotations

from pathlib import Path

from bannergen.errors import TemplateError
from bannergen.segments import load_segments
from bannergen.templating.campaign import unknown_segments
from bannergen.templating.locate import line_of
from bannergen.templating.manifest import MANIFEST, load_template
from bannergen.templating.template import Template
from bannergen.templating.validate import Finding


def _problems(template: Template, segments_file: Path) -> list[tuple[str, str]]:
    return unknown_segments(template.campaign, list(load_segments(segments_file)))


def _message(name: str, segments_file: Path) -> str:
    return f"'segments' must name segments of {segments_file.parent.name}/{segments_file.name}; '{name}' is not one"


def segment_findings(templates_dir: Path, segments_file: Path, only: tuple[str, ...] = ()) -> dict[str, list[Finding]]:
    """{template id: findings} for the templates (all, or ``only``) that load and name an
    undefined segment; a template that does not load is reported by ``validate_templates``."""
    out: dict[str, list[Finding]] = {}
    for manifest in sorted(Path(templates_dir).glob(f"*/{MANIFEST}")):
        if only and manifest.parent.name not in only:
            continue
        try:
            template = load_template(manifest.parent)
        except TemplateError:
            continue
        line = line_of(manifest, ("segments",))
        found = [Finding(str(manifest), line, _message(name, segments_file), hint)
                 for name, hint in _problems(template, segments_file)]
        if found:
            out[template.id] = found
    return out


def check_segments(template: Template, segments_file: Path) -> None:
    """Raise TemplateError (file:line) for the first undefined segment ``template`` names."""
    for name, hint in _problems(template, segments_file):
        manifest = template.folder / MANIFEST
        raise TemplateError(f"{manifest}:{line_of(manifest, ('segments',))}: {_message(name, segments_file)}",
                            hint=hint)

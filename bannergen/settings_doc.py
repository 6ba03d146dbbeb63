"""docs/settings.md, generated from the settings tables: every file's keys, kinds, defaults, ranges and help.

    python -m bannergen.settings_doc > docs/settings.md

tests/test_settings_doc.py fails when docs/settings.md differs from ``markdown()``.
"""

from __future__ import annotations

from typing import Any

from bannergen.settings_table import REQUIRED, Range, Row, SettingsFile

REGENERATE = "python -m bannergen.settings_doc > docs/settings.md"


def settings_files() -> tuple[SettingsFile, ...]:
    """Every settings file a project has, in the order a reader meets them."""
    from bannergen.config import SETTINGS
    from bannergen.scorers.settings import BLEND, CAMPAIGN_RULES, WEIGHTS
    from bannergen.segments import SEGMENTS
    from bannergen.selection.policy_table import POLICY

    return SETTINGS, WEIGHTS, POLICY, CAMPAIGN_RULES, BLEND, SEGMENTS


def _value(value: Any) -> str:
    if value is REQUIRED:
        return "required"
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return str(value)


def _limits(row: Row) -> str:
    if isinstance(row.limits, tuple):
        return ", ".join(f'"{c}"' for c in row.limits)
    if isinstance(row.limits, Range):
        return f"{row.limits} characters" if row.kind == "text" else str(row.limits)
    return ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;")


def _heading(table: str, arrays: tuple[str, ...]) -> str:
    return f"[[{table}]]" if arrays and table in arrays and not table.startswith("<") else f"[{table}]"


def file_markdown(spec: SettingsFile) -> str:
    lines = [f"## {spec.name}", "", _cell(f"{spec.about[0].upper()}{spec.about[1:]}."), ""]
    for table in spec.tables():
        lines += [f"### `{_heading(table, spec.arrays)}`", "", "| key | type | default | range | help |",
                  "|---|---|---|---|---|"]
        for row in spec.rows:
            if row.table == table:
                default = _value(row.default) if row.default in (None, REQUIRED) else f"`{_value(row.default)}`"
                cells = (f"`{row.name}`", row.kind, default, _limits(row), row.help)
                lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
    if spec.apart:
        lines += ["Read by their own readers:", ""]
        lines += [f"- `[{name}]`: {_cell(what)}" for name, what in spec.apart]
        lines.append("")
    return "\n".join(lines).rstrip()


def markdown() -> str:
    """The whole reference, as docs/settings.md holds it."""
    head = [
        "# Settings reference",
        "",
        "Generated from the settings tables in the code; do not edit by hand. To regenerate:",
        "",
        f"    {REGENERATE}",
        "",
        "Kinds: number (an integer or a decimal), integer, bool (true or false), text, names (a name or a",
        "list of names), texts (a list of text), numbers (increasing numbers), path (relative to the",
        "project folder). A range a..b includes both ends. A key that is not given takes its default; an",
        "unknown key is an error with a \"did you mean\" hint.",
    ]
    return "\n\n".join(["\n".join(head), *(file_markdown(spec) for spec in settings_files())]) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")

"""File and line of a template problem.

tomllib reports no line numbers for values, so ``toml_lines`` scans the TOML text once and maps
every key path (``("sizes", "1200x400", "elements", 3, "box")``) to the line that sets it;
``locate`` turns a TemplateError message (``file: where: problem``) into (file, line, problem).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

Path_ = tuple  # a key path: str keys and int array indexes

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r'^\s*("(?:[^"\\]|\\.)*"|[A-Za-z0-9_-]+(?:\s*\.\s*(?:"[^"]*"|[A-Za-z0-9_-]+))*)\s*=')
_PART = re.compile(r'"((?:[^"\\]|\\.)*)"|([A-Za-z0-9_-]+)')
_FILE = re.compile(r"^(?P<file>.+?\.(?:toml|j2|otf|ttf|png|jpe?g|webp|gif)): (?P<rest>.*)$", re.S)
_SEGMENT = re.compile(r'^(?:\[\w+\]|[\w-]+|"[^"]*")(?:\.[\w-]+|\."[^"]*"|\[\d+\])*(?: \([^)]*\))?(?:\.[\w-]+)*$')
_TOKEN = re.compile(r'\[(\d+)\]|\[(\w+)\]|"([^"]*)"|([\w-]+)|\s\([^)]*\)')
_KEY_IN_PROBLEM = re.compile(r"(?:unknown key|missing key) '([^']+)'|^'([^']+)' must|^(box) ")
_JINJA_LINE = re.compile(r"(?:syntax error on line|^line) (\d+)")


def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(m.group(1) if m.group(1) is not None else m.group(2) for m in _PART.finditer(dotted))


def toml_lines(text: str) -> dict[Path_, int]:
    """{key path: 1-based line} for every table header and key assignment in ``text``."""
    lines: dict[Path_, int] = {}
    table: tuple = ()
    counts: dict[tuple, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header and not line.lstrip().startswith(("[\"", "['")) and "=" not in line.split("]")[0]:
            path = _parts(header.group(2))
            if header.group(1) == "[[":
                index = counts.get(path, -1) + 1
                counts[path] = index
                table = path + (index,)
            else:
                table = path
            lines.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            lines.setdefault(table + _parts(key.group(1)), number)
    return lines


@lru_cache(maxsize=64)
def _lines_of(path: str, mtime_ns: int) -> dict[Path_, int]:
    try:
        return toml_lines(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return {}


def line_of(file: Path, key_path: Path_) -> int:
    """The line of the longest prefix of ``key_path`` that ``file`` sets (1 when none)."""
    try:
        lines = _lines_of(str(file), file.stat().st_mtime_ns)
    except OSError:
        return 1
    for n in range(len(key_path), 0, -1):
        if key_path[:n] in lines:
            return lines[key_path[:n]]
    return 1


def _chain(segment: str) -> list:
    out: list = []
    for m in _TOKEN.finditer(segment):
        if m.group(1) is not None:
            out.append(int(m.group(1)))
        elif m.group(2) is not None:
            out.append(m.group(2))
        elif m.group(3) is not None:
            out.append(m.group(3))
        elif m.group(4) is not None:
            out.append(m.group(4))
    return out


def locate(message: str) -> tuple[str | None, int, str]:
    """(file, line, problem) of a TemplateError message "file: where: problem"; file None when the
    message names no template file."""
    m = _FILE.match(message)
    if not m:
        return None, 1, message
    file, rest = m.group("file"), m.group("rest")
    if file.endswith(".j2"):
        jl = _JINJA_LINE.search(rest)
        return file, int(jl.group(1)) if jl else 1, re.sub(r"^line \d+: ", "", rest)
    if not file.endswith(".toml"):
        return file, 1, rest
    toml_line = re.search(r"not valid TOML: .*\(at line (\d+)", rest)
    if toml_line:
        return file, int(toml_line.group(1)), rest
    segments = rest.split(": ")
    path: list = []
    while len(segments) > 1 and _SEGMENT.match(segments[0]):
        path += _chain(segments.pop(0))
    key = _KEY_IN_PROBLEM.search(": ".join(segments))
    if key:
        path.append(key.group(1) or key.group(2) or key.group(3))
    return file, line_of(Path(file), tuple(path)), rest

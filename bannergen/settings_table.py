"""One declarative table per settings file, read by one loader into frozen records.

Each settings file (bannergen.toml, scoring/weights.toml, campaign_rules.toml, blend.toml, policy.toml,
segments.toml) states its settings once, as rows of (key, kind, default, range or choices, help).
``SettingsFile.read`` checks a parsed TOML document against its rows: unknown tables and keys get a
"did you mean" hint, every value is checked for kind and range, and a missing key takes the row's
default. Defaults are written only in the rows; a record's field default, where it has one, is
looked up in the table (``POLICY["thompson.draws"]``). docs/settings.md is generated from the same
rows (bannergen.settings_doc).

Every failure is one line naming the file, the table and key, what was expected and what was found::

    scoring/policy.toml [thompson]: 'draws' must be an integer within 8..4096; got 3

Why a small table of our own and not pydantic: the rows are what the reference is generated from,
and the messages above are the whole interface to the campaign teams who edit these files.
pydantic would need a model class per table plus a translation of its error list (locations as
tuples, its own wording, input coercions such as "3" -> 3 to switch off) into that one line, and
the help and range would still have to be restated for the docs. The checks needed here are six
kinds and a range, about a hundred lines.

Arrays of tables ([[boost]], [[pin]]) and free-form maps (blend weights per scorer, search
aliases) keep small dedicated readers; their scalar keys go through the same rows
(``read_table``) or the same check (``check``).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bannergen.errors import BannergenError, ConfigError

Kind = Literal["number", "integer", "bool", "text", "names", "texts", "numbers", "path"]

_EXPECTED = {
    "number": "a number",
    "integer": "an integer",
    "bool": "true or false",
    "text": "text",
    "names": "a name or a list of names",
    "texts": "a list of text",
    "numbers": "increasing numbers",
    "path": "a path (text)",
}


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()  # the default of a row that has none: the key must be given


@dataclass(frozen=True)
class Range:
    """Inclusive bounds (``lo_open``: lo itself is refused); for text, bounds of its length."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False

    def holds(self, value: float) -> bool:
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return False
        return self.hi is None or value <= self.hi

    def __str__(self) -> str:
        lo, hi = (_num(b) for b in (self.lo, self.hi))
        if self.lo is not None and self.hi is not None:
            return f"{lo}..{hi}"
        if self.lo is not None:
            return f"> {lo}" if self.lo_open else f">= {lo}"
        return f"<= {hi}" if self.hi is not None else ""


def within(lo: float, hi: float) -> Range:
    return Range(lo, hi)


def at_least(lo: float) -> Range:
    return Range(lo)


def above(lo: float) -> Range:
    return Range(lo, lo_open=True)


def _num(value: float | None) -> str:
    return "" if value is None else str(int(value)) if float(value).is_integer() else str(value)


@dataclass(frozen=True)
class Row:
    """One setting: ``key`` is "table.name" (the TOML [table] and the key in it).

    kind:    number (int or float, read as float), integer, bool, text, names (a name or a list of
             names), texts (a list of text), numbers (increasing numbers), path (text, read as Path)
    default: the value when the key is missing (REQUIRED: it must be given)
    limits:  a Range (numbers; the length of text), or choices (text; each item of texts)
    field:   the record field it fills, when that is not the key's name
    """

    key: str
    kind: Kind
    default: Any
    help: str
    limits: Range | tuple[str, ...] | None = None
    field: str = ""

    @property
    def table(self) -> str:
        return self.key.rpartition(".")[0]

    @property
    def name(self) -> str:
        return self.key.rpartition(".")[2]

    @property
    def attr(self) -> str:
        return self.field or self.name

    def expected(self) -> str:
        """What a value must be, as the messages and the reference say it."""
        limits = self.limits
        if isinstance(limits, tuple):
            listed = ", ".join(f"'{c}'" for c in limits)
            return f"some of {listed} (a non-empty list)" if self.kind == "texts" else f"one of {listed}"
        if isinstance(limits, Range):
            if self.kind == "text":
                return f"text of {limits} characters"
            both = limits.lo is not None and limits.hi is not None
            return f"{_EXPECTED[self.kind]} {'within ' if both else ''}{limits}"
        return _EXPECTED[self.kind]


def shown(path: Path | str) -> str:
    """``path`` as messages name it: relative to the current folder when under it (scoring/policy.toml)."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):  # outside the current folder, or that folder is gone
        return str(path)


def check(row: Row, value: Any, at: str) -> Any:
    """``value`` checked against ``row`` and converted (number -> float, lists -> tuples, path -> Path).

    ``at`` names the file and table ("scoring/policy.toml [thompson]"); a failure is a ConfigError
    "<at>: '<name>' must be <expected>; got <value>"."""
    if value is REQUIRED:
        raise ConfigError(f"{at}: '{row.name}' is required ({row.expected()})")
    ok, out = _convert(row.kind, value)
    if ok and isinstance(row.limits, Range):
        measure = len(out) if row.kind == "text" else out
        ok = isinstance(measure, (int, float)) and row.limits.holds(measure)
    if ok and isinstance(row.limits, tuple):
        items = out if row.kind == "texts" else (out,)
        ok = bool(items) and all(item in row.limits for item in items)
    if not ok:
        raise ConfigError(f"{at}: '{row.name}' must be {row.expected()}; got {value!r}")
    return out


def _default(row: Row, at: str) -> Any:
    """The value of a key that is not given: its default, converted; REQUIRED is an error."""
    return None if row.default is None else check(row, row.default, at)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _convert(kind: Kind, value: Any) -> tuple[bool, Any]:
    if kind == "number":
        return _is_number(value), float(value) if _is_number(value) else value
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool), value
    if kind == "bool":
        return isinstance(value, bool), value
    if kind in ("text", "path"):
        return isinstance(value, str), Path(value) if kind == "path" and isinstance(value, str) else value
    if kind == "names" and isinstance(value, str):
        return True, (value,)
    if kind in ("names", "texts"):
        ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
        return ok, tuple(value) if ok else value
    # numbers: at least one, each greater than the one before
    ok = isinstance(value, (list, tuple)) and len(value) >= 1 and all(_is_number(v) for v in value)
    ok = ok and all(b > a for a, b in zip(value, value[1:]))
    return ok, tuple(float(v) for v in value) if ok else value


def reject_unknown_keys(keys: Iterable[str], known: Iterable[str], where: str, *,
                        error: type[BannergenError] = ConfigError, word: str = "setting") -> None:
    """Raise ``error`` for the first key not in ``known``, with a "did you mean" hint.

    ``where`` names the file (and table) for the message, e.g. "scoring/campaign_rules.toml [filters]";
    ``word`` names what a key is ("setting"; "key" in template manifests)."""
    known = list(known)
    for key in keys:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
            raise error(f"{where}: unknown {word} '{key}'", hint=hint)


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file into a dict; a missing or malformed file is a ConfigError naming it."""
    if not path.is_file():
        raise ConfigError(f"{shown(path)}: not found")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{shown(path)}: not valid TOML: {exc}") from exc


def subtable(raw: Mapping[str, Any], name: str, where: str) -> dict[str, Any]:
    """``raw[name]`` (empty when missing), which must be a TOML table."""
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{name}] must be a table; got {value!r}")
    return value


@dataclass(frozen=True)
class SettingsFile:
    """The rows of one settings file.

    name:   the file as a project names it ("scoring/policy.toml")
    about:  one line on what the file decides, for the reference
    rows:   its settings; rows of an array of tables ("boost.add" for [[boost]]) are listed too
    apart:  tables read by a dedicated reader: (name, what it holds); "search.aliases" is the
            [aliases] table inside [search]
    arrays: which of the rows' tables are arrays of tables ([[boost]]), read item by item
    """

    name: str
    about: str
    rows: tuple[Row, ...]
    apart: tuple[tuple[str, str], ...] = ()
    arrays: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        keys = [row.key for row in self.rows]
        if len(set(keys)) != len(keys):
            raise ValueError(f"{self.name}: a key is listed twice")

    def __getitem__(self, key: str) -> Any:
        """The default of ``key``, converted as a read value is (a record field's default)."""
        row = self.row(key)
        return row.default if row.default is REQUIRED else _default(row, self.name)

    def row(self, key: str) -> Row:
        for row in self.rows:
            if row.key == key:
                return row
        raise KeyError(key)

    def tables(self) -> list[str]:
        """The [tables] of the rows, in order of first appearance."""
        return list(dict.fromkeys(row.table for row in self.rows))

    def only(self, *tables: str) -> SettingsFile:
        """The same file restricted to ``tables``."""
        return dataclasses.replace(self, rows=tuple(r for r in self.rows if r.table in tables), apart=(), arrays=())

    def read_table(self, table: str, body: Any, at: str) -> dict[str, Any]:
        """The rows of ``table`` read from ``body`` (one TOML table): {"table.name": checked value}.

        A missing key takes the row's default (None stays None: "not set"). Keys of ``apart``
        entries inside this table ("aliases" of [search]) are allowed and left to their reader."""
        if not isinstance(body, dict):
            raise ConfigError(f"{at}: must be a table; got {body!r}")
        rows = [row for row in self.rows if row.table == table]
        inner = [name.partition(".")[2] for name, _ in self.apart if name.partition(".")[0] == table]
        reject_unknown_keys(body, [row.name for row in rows] + [n for n in inner if n], at)
        return {row.key: check(row, body[row.name], at) if row.name in body else _default(row, at) for row in rows}

    def read(self, raw: Mapping[str, Any], where: str) -> dict[str, Any]:
        """Every row's value from a parsed file (``where`` names it): {"table.name": value}.

        Unknown tables and keys are refused; arrays of tables and ``apart`` tables are left to
        their readers (only their presence is checked here)."""
        apart_tops = [name.partition(".")[0] for name, _ in self.apart]
        known = [t for t in self.tables() if t not in self.arrays] + list(self.arrays) + apart_tops
        reject_unknown_keys(raw, list(dict.fromkeys(known)), where)
        values: dict[str, Any] = {}
        for table in self.tables():
            if table in self.arrays:
                continue
            values.update(self.read_table(table, subtable(raw, table, where), f"{where} [{table}]"))
        for top in dict.fromkeys(apart_tops):
            inner = [name.partition(".")[2] for name, _ in self.apart if name.startswith(f"{top}.")]
            if inner and top not in self.tables():  # [search] holds only [search.aliases]
                reject_unknown_keys(subtable(raw, top, where), inner, f"{where} [{top}]")
        return values

    def defaults(self) -> dict[str, Any]:
        """Every row's default (a file that is missing or empty)."""
        return self.read({}, self.name)

    def record(self, cls: type, values: Mapping[str, Any], *tables: str, **extra: Any) -> Any:
        """``cls`` built from the rows of ``tables`` (each fills the field ``row.attr``) and ``extra``."""
        kwargs = {row.attr: values[row.key] for row in self.rows if row.table in tables}
        return cls(**kwargs, **extra)

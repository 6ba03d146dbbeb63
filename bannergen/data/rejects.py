"""Deciding which rows are skipped, and reporting them.

A loader states its checks in order with RowChecks; each row is rejected for the first check
it fails (one Reject per skipped row, so rows_read == len(frame) + len(rejects)). Messages
are built for the rejected rows only; the checks themselves are whole-column masks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bannergen.cache import atomic_write
from bannergen.data.readers import RawTable, display_name
from bannergen.errors import RejectRateError
from bannergen.types import Reject

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

GOT_WIDTH = 40


@dataclass(frozen=True)
class LoadResult:
    """A loaded file: the valid rows, the skipped ones, and how many data rows the file had.

    frame      pd.DataFrame with the schema documented in bannergen/types.py
    rejects    one Reject per skipped row, in file order
    rows_read  data rows in the file (header excluded); always len(frame) + len(rejects)
    """

    frame: pd.DataFrame
    rejects: tuple[Reject, ...]
    rows_read: int


def format_got(value: object) -> str:
    """The offending value as shown after 'got': quoted, at most 40 characters."""
    text = "" if value is None else str(value)
    shown = repr(text)
    if len(shown) > GOT_WIDTH:
        shown = shown[: GOT_WIDTH - 2] + "…" + shown[0]
    return shown


class RowChecks:
    """Ordered per-row checks over one RawTable. Example::

        checks = RowChecks(raw)
        checks.add("price", ~(price > 0), price_text, "not a positive number", "a number > 0")
        keep = checks.ok()      # bool array: rows that passed every check so far
        rejects = checks.rejects()
    """

    def __init__(self, raw: RawTable) -> None:
        import numpy as np

        self._raw = raw
        self._failed = np.zeros(len(raw.frame), dtype=bool)
        self._found: list[tuple[np.ndarray, str, pd.Series, str | pd.Series, str | pd.Series]] = []

    def add(
        self, field: str, bad: pd.Series | np.ndarray, got: pd.Series, problem: str | pd.Series,
        expected: str | pd.Series,
    ) -> None:
        """Reject rows where ``bad`` holds and no earlier check failed.

        ``got`` is the raw cell text; ``problem`` and ``expected`` are one text for all rows
        or a Series aligned with the rows when the message depends on the row.
        """
        import numpy as np

        mask = np.asarray(bad, dtype=bool) & ~self._failed
        if mask.any():
            self._failed |= mask
            self._found.append((np.flatnonzero(mask), field, got, problem, expected))

    def ok(self) -> np.ndarray:
        """bool array, shape (rows,): rows that passed every check added so far."""
        return ~self._failed

    def rejects(self) -> tuple[Reject, ...]:
        """All rejects, bad-field-count rows included, in line order."""
        lines = self._raw.lines
        out = list(self._raw.bad_rows)
        for rows, field, got, problem, expected in self._found:
            got_values = got.to_numpy()[rows]
            problems = problem.to_numpy()[rows] if not isinstance(problem, str) else [problem] * len(rows)
            expects = expected.to_numpy()[rows] if not isinstance(expected, str) else [expected] * len(rows)
            out.extend(
                Reject(self._raw.display, int(lines[r]), field, str(p), format_got(g), str(e))
                for r, g, p, e in zip(rows, got_values, problems, expects)
            )
        out.sort(key=lambda rej: rej.line)
        return tuple(out)


def write_rejects(path: Path, rejects: Sequence[Reject]) -> None:
    """Write one ``str(reject)`` per line to ``path``, atomically.

    The text goes to a temporary file in the same folder, which then replaces ``path``, so a
    reader never sees half a report. An empty list writes an empty file, so a report from an
    earlier run never lingers. Parent folders are created.
    """
    atomic_write(Path(path), "".join(f"{reject}\n" for reject in rejects).encode("utf-8"))


def check_reject_rate(result: LoadResult, path: Path, max_rate: float, *, rejects_path: Path | None = None) -> None:
    """Raise RejectRateError when more than ``max_rate`` (0..1) of the rows of ``path`` (the
    data file ``result`` was loaded from) were rejected.

    ``rejects_path``, the report written by write_rejects, is named in the message so the user
    knows where to look, e.g. "catalog.csv: 120 of 1000 rows rejected (12.0%), above the limit
    of 5.0%; see out/rejects.txt". The first rejected row is quoted as the hint.
    """
    rejected, total = len(result.rejects), result.rows_read
    if total == 0 or rejected / total <= max_rate:
        return
    see = f"; see {display_name(rejects_path)}" if rejects_path is not None else ""
    raise RejectRateError(
        f"{display_name(path)}: {rejected} of {total} rows rejected ({rejected / total:.1%}), "
        f"above the limit of {max_rate:.1%}{see}",
        hint=f"the first is {result.rejects[0]}",
    )

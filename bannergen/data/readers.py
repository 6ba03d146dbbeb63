"""Reading a table file (CSV, gzip CSV, Parquet) into raw columns, with the line number of
every row as the user would count it. Whole-file problems become one-line DataErrors here.

Nothing is converted yet: CSV columns are all text (so "000123" stays "000123"), Parquet
columns keep their stored types. The catalog and events modules do the checking.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bannergen.errors import DataError
from bannergen.types import Reject

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

log = logging.getLogger(__name__)

SUFFIXES = (".csv", ".csv.gz", ".parquet")
_OTHER_DELIMITERS = {";": "';'", "\t": "tab", "|": "'|'"}
# Chinese spreadsheets often save as GBK; the fix is on the user's side, so say how.
_UTF8_HINT = "save it as UTF-8, e.g. Excel's 'CSV UTF-8' format"


@dataclass(frozen=True)
class RawTable:
    """A file's rows before validation.

    frame     the wanted columns that exist in the file (CSV: all str; Parquet: stored types)
    lines     int64 array, shape (len(frame),): line number of each row (CSV: physical line,
              the header being line 1; Parquet: row number from 1)
    bad_rows  rows that could not even be split into columns (CSV with too many fields)
    display   the file name as shown in messages
    """

    frame: pd.DataFrame
    lines: np.ndarray
    bad_rows: tuple[Reject, ...]
    display: str

    @property
    def rows_read(self) -> int:
        return len(self.frame) + len(self.bad_rows)


def display_name(path: Path) -> str:
    """The path as given, or relative to the working folder when it lies inside it."""
    path = Path(path)
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
    return str(path)


def file_kind(path: Path) -> str:
    """'csv', 'csv.gz' or 'parquet', from the (case-insensitive) suffix."""
    name = path.name.lower()
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix[1:]
    found = "".join(path.suffixes[-2:]) or "no suffix"
    raise DataError(f"{display_name(path)}: unsupported file type '{found}'; expected .csv, .csv.gz or .parquet")


def read_table(path: Path, required: Sequence[str], optional: Sequence[str] = ()) -> RawTable:
    """Read ``path`` and return its ``required`` and (present) ``optional`` columns.

    Raises DataError for a missing file, an unsupported suffix, missing required columns,
    a CSV that uses another delimiter or is not UTF-8, or an unreadable Parquet file.
    """
    path = Path(path)
    shown = display_name(path)
    if not path.exists():
        raise DataError(f"{shown}: file not found")
    if path.is_dir():
        raise DataError(f"{shown}: is a folder; expected a .csv, .csv.gz or .parquet file")
    kind = file_kind(path)
    if kind == "parquet":
        return _read_parquet(path, shown, required, optional)
    return _read_csv(path, shown, kind == "csv.gz", required, optional)


def _check_columns(shown: str, found: Sequence[str], required: Sequence[str]) -> None:
    missing = [c for c in required if c not in found]
    if missing:
        raise DataError(
            f"{shown}: missing required column(s) {', '.join(missing)}; "
            f"found {', '.join(found) if found else 'no columns'}"
        )


# --- CSV ----------------------------------------------------------------------------------------


def _open_binary(path: Path, gz: bool) -> gzip.GzipFile | io.BufferedReader:
    return gzip.open(path, "rb") if gz else path.open("rb")


def _read_header(path: Path, shown: str, gz: bool) -> list[str]:
    """The header fields as written, after checking the file is UTF-8 text split by commas."""
    try:
        with _open_binary(path, gz) as fh:
            first = fh.readline(1 << 20)
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{shown}: cannot read the file ({exc})") from exc
    try:
        text = first.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise DataError(f"{shown}: not UTF-8 text", hint=_UTF8_HINT) from exc
    if not text.strip():
        raise DataError(f"{shown}: the file is empty; expected a header line naming the columns")
    fields = next(csv.reader([text]))
    if len(fields) == 1:
        for delimiter, name in _OTHER_DELIMITERS.items():
            if delimiter in text:
                raise DataError(f"{shown}: looks {name}-delimited; expected comma-separated CSV")
    return fields


def _read_csv(path: Path, shown: str, gz: bool, required: Sequence[str], optional: Sequence[str]) -> RawTable:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    header = _read_header(path, shown, gz)
    names = [f.strip() for f in header]  # " price" from a hand-edited header still means price
    _check_columns(shown, names, required)
    skipped = 0

    def skip(_row: object) -> str:
        nonlocal skipped
        skipped += 1
        return "skip"

    try:
        # Arrow rather than pandas: every column is read as text (ids keep their leading zeros,
        # "" stays ""), rows with the wrong number of fields go to `skip` instead of silently
        # becoming an index or being truncated, and quoted line breaks are allowed.
        with pa.input_stream(str(path), compression="gzip" if gz else None) as stream:
            table = pcsv.read_csv(
                stream,
                parse_options=pcsv.ParseOptions(newlines_in_values=True, invalid_row_handler=skip),
                convert_options=pcsv.ConvertOptions(
                    column_types={raw: pa.string() for raw in header}, strings_can_be_null=False
                ),
            )
    except (pa.ArrowException, OSError, EOFError) as exc:
        if "UTF8" in str(exc) or "UTF-8" in str(exc):
            raise DataError(f"{shown}: not UTF-8 text", hint=_UTF8_HINT) from exc
        raise DataError(f"{shown}: cannot parse as CSV ({str(exc).strip().splitlines()[0]})") from exc
    table = table.rename_columns(names)
    wanted = [c for c in (*required, *optional) if c in names]
    frame = table.select(wanted).to_pandas()
    lines, bad = _line_numbers(path, shown, gz, len(frame), len(header), exact=skipped == 0)
    return RawTable(frame, lines, bad, shown)


def _line_numbers(
    path: Path, shown: str, gz: bool, n_rows: int, n_fields: int, exact: bool
) -> tuple[np.ndarray, tuple[Reject, ...]]:
    """Physical line of each parsed row, and rejects for rows with the wrong number of fields.

    When every row was parsed and the file has one line per row (the usual case), that is
    simply row + 2. Otherwise (quoted line breaks, blank lines, malformed rows) the file is
    walked once more with the csv module to find where each record starts.
    """
    import numpy as np

    if exact:
        newlines, last = 0, b"\n"
        with _open_binary(path, gz) as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                newlines += chunk.count(b"\n")
                last = chunk[-1:]
        if newlines + (0 if last == b"\n" else 1) == n_rows + 1:
            return np.arange(2, n_rows + 2, dtype=np.int64), ()

    starts: list[int] = []
    bad: list[Reject] = []
    with _open_binary(path, gz) as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        previous = reader.line_num
        for record in reader:
            start, previous = previous + 1, reader.line_num
            if not record:  # a blank line, skipped by the parser too
                continue
            if len(record) == n_fields:
                starts.append(start)
            elif len(record) > n_fields:
                bad.append(Reject(shown, start, "row", "too many fields", f"{len(record)} fields",
                                  f"{n_fields} fields as in the header (quote values that contain commas)"))
            else:
                bad.append(Reject(shown, start, "row", "too few fields", f"{len(record)} fields",
                                  f"{n_fields} fields as in the header"))
    if len(starts) != n_rows:
        # The two parsers disagree on some odd construct; approximate rather than fail.
        log.warning("%s: could not map rows to line numbers exactly; line numbers are approximate", shown)
        return np.arange(2, n_rows + 2, dtype=np.int64), tuple(bad)
    return np.asarray(starts, dtype=np.int64), tuple(bad)


# --- Parquet ------------------------------------------------------------------------------------


def _read_parquet(path: Path, shown: str, required: Sequence[str], optional: Sequence[str]) -> RawTable:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        names = list(pf.schema_arrow.names)
        _check_columns(shown, names, required)
        wanted = [c for c in (*required, *optional) if c in names]
        table = pf.read(columns=wanted)
    except DataError:
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"{shown}: not a readable Parquet file ({str(exc).strip().splitlines()[0]})") from exc
    # Dictionary-encoded columns would arrive as pandas categoricals; plain values are simpler
    # for everything downstream.
    table = pa.table({
        name: (col.cast(col.type.value_type) if pa.types.is_dictionary(col.type) else col)
        for name, col in zip(table.column_names, table.columns)
    })
    frame = table.to_pandas()
    return RawTable(frame, np.arange(1, len(frame) + 1, dtype=np.int64), (), shown)

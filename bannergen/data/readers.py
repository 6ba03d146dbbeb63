"""Reading a table file (CSV, gzip CSV, Parquet) into raw columns, with the line number of
every row as the user would count it. Whole-file problems become one-line DataErrors here.

Nothing is converted yet: CSV columns are all text (so "000123" stays "000123"), Parquet
columns keep their stored types. The catalog and events modules do the checking.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import logging
import re
import zlib
from collections.abc import Iterator, Sequence
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


def read_failure(shown: str, exc: BaseException, what: str = "cannot read the file") -> DataError:
    """The DataError for a file that failed while being read: a gzip file cut off or damaged
    (the usual result of an interrupted copy) is said so in words, anything else quotes the
    reader's own first line."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lowered = text.lower()
    if isinstance(exc, EOFError) or "truncated compressed" in lowered or "end-of-stream" in lowered:
        return DataError(f"{shown}: the gzip data is cut off before its end ({text})",
                         hint="copy the file again completely, or decompress it and pass the uncompressed file")
    if "not a gzipped file" in lowered:
        return DataError(f"{shown}: not gzip data, though the name ends in .gz",
                         hint="rename it without .gz if it is plain text")
    if "crc check" in lowered or "zlib" in lowered or "inflate" in lowered or isinstance(exc, zlib.error):
        return DataError(f"{shown}: the gzip data is damaged ({text})", hint="copy the file again")
    return DataError(f"{shown}: {what} ({text})")


# Other names of a column, accepted when the column itself is absent: the HTTP API calls the
# event kind "type", so a file written from its requests says "type" where files say "event".
COLUMN_ALIASES = {"type": "event"}


def canonical_names(names: list[str]) -> list[str]:
    """``names`` with each alias replaced by the column it stands for, unless that column is
    there too (then the alias is just another column)."""
    return [COLUMN_ALIASES[n] if n in COLUMN_ALIASES and COLUMN_ALIASES[n] not in names else n for n in names]


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
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise read_failure(shown, exc) from exc
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
    names = canonical_names([f.strip() for f in header])  # " price" from a hand-edited header still means price
    _check_columns(shown, names, required)
    wanted = [c for c in (*required, *optional) if c in names]
    if not _is_utf8(path, shown, gz):
        # Rare, so simple: the csv module reads the file, and each row holding bytes that are
        # not UTF-8 is rejected like any bad row. (Arrow would fail the whole file, and its
        # handler of malformed rows cannot even be called with such a row.)
        return _read_csv_with_bad_bytes(path, shown, gz, names, wanted)
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
        if isinstance(exc, OSError | EOFError) or "compressed" in str(exc) or "zlib" in str(exc):
            raise read_failure(shown, exc) from exc
        raise DataError(f"{shown}: cannot parse as CSV ({str(exc).strip().splitlines()[0]})") from exc
    frame = table.rename_columns(names).select(wanted).to_pandas()
    lines, bad = _line_numbers(path, shown, gz, len(frame), len(header), exact=skipped == 0)
    return RawTable(frame, lines, bad, shown)


def _is_utf8(path: Path, shown: str, gz: bool) -> bool:
    """Whether the whole file decodes as UTF-8 (one pass at memory speed, in bounded memory)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with _open_binary(path, gz) as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    except (OSError, EOFError, zlib.error) as exc:
        raise read_failure(shown, exc) from exc
    return True


def _records(path: Path, shown: str, gz: bool, n_fields: int) -> Iterator[tuple[int, list[str] | Reject]]:
    """(line, fields) of each record, or (line, Reject) for one with the wrong number of fields;
    blank lines are skipped as the parser does. Bytes that are not UTF-8 arrive as lone
    surrogates (surrogateescape), so a caller can find and reject them."""
    with _open_binary(path, gz) as raw, io.TextIOWrapper(
        raw, encoding="utf-8-sig", errors="surrogateescape", newline=""
    ) as fh:
        reader = csv.reader(fh)
        next(reader, None)
        previous = reader.line_num
        for record in reader:
            start, previous = previous + 1, reader.line_num
            if not record:
                continue
            if len(record) > n_fields:
                yield start, Reject(shown, start, "row", "too many fields", f"{len(record)} fields",
                                    f"{n_fields} fields as in the header (quote values that contain commas)")
            elif len(record) < n_fields:
                yield start, Reject(shown, start, "row", "too few fields", f"{len(record)} fields",
                                    f"{n_fields} fields as in the header")
            else:
                yield start, record


NOT_UTF8 = re.compile("[\udc80-\udcff]")  # bytes that are not UTF-8, as surrogateescape decodes them


def not_utf8_problem(cell: str) -> tuple[str, str, str]:
    """problem, got, expected of a Reject for ``cell``, which holds bytes that are not UTF-8."""
    text = cell.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return "not UTF-8 text", _quoted(text), f"UTF-8 text ({_UTF8_HINT})"


def split_not_utf8(
    frame: pd.DataFrame, lines: np.ndarray, shown: str
) -> tuple[pd.DataFrame, np.ndarray, list[Reject]]:
    """Take the rows whose text cells hold bytes that are not UTF-8 (decoded with
    surrogateescape) out of ``frame``: the rest, their lines, and one Reject per row taken,
    naming its line and first such field."""
    import numpy as np

    bad = np.zeros(len(frame), dtype=bool)
    first_field = np.full(len(frame), "", dtype=object)
    for column in frame.columns:
        if frame[column].dtype != object:
            continue
        # cell by cell: pandas' string methods would convert to Arrow strings, which refuse surrogates
        here = np.fromiter((isinstance(v, str) and NOT_UTF8.search(v) is not None for v in frame[column]),
                           dtype=bool, count=len(frame))
        first_field[here & ~bad] = column
        bad |= here
    rejects = [Reject(shown, int(lines[r]), first_field[r], *not_utf8_problem(str(frame[first_field[r]].iat[r])))
               for r in np.flatnonzero(bad)]
    return frame[~bad].reset_index(drop=True), lines[~bad], rejects


def _read_csv_with_bad_bytes(path: Path, shown: str, gz: bool, names: list[str], wanted: list[str]) -> RawTable:
    """The file read with the csv module: a row whose cells hold bytes that are not UTF-8 is a
    Reject naming its line and first such field. A file with no UTF-8 row at all is the whole
    file's problem (typically saved as GBK), said once."""
    import numpy as np
    import pandas as pd

    rows: list[list[str]] = []
    lines: list[int] = []
    bad: list[Reject] = []
    columns = [names.index(c) for c in wanted]
    for line, record in _records(path, shown, gz, len(names)):
        if isinstance(record, Reject):
            bad.append(record)
        else:
            rows.append([record[i] for i in columns])
            lines.append(line)
    frame, kept, not_utf8 = split_not_utf8(pd.DataFrame(rows, columns=wanted, dtype=object),
                                           np.asarray(lines, dtype=np.int64), shown)
    if not_utf8 and frame.empty:
        raise DataError(f"{shown}: not UTF-8 text", hint=_UTF8_HINT)
    return RawTable(frame, kept, tuple(sorted((*bad, *not_utf8), key=lambda rej: rej.line)), shown)


def _quoted(text: str, width: int = 40) -> str:
    shown = repr(text)
    return shown if len(shown) <= width else shown[: width - 2] + "…" + shown[0]


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
    for line, record in _records(path, shown, gz, n_fields):
        if isinstance(record, Reject):
            bad.append(record)
        else:
            starts.append(line)
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
        stored = list(pf.schema_arrow.names)
        names = canonical_names(stored)
        _check_columns(shown, names, required)
        wanted = [stored[names.index(c)] for c in (*required, *optional) if c in names]
        table = pf.read(columns=wanted)
        table = table.rename_columns([names[stored.index(c)] for c in table.column_names])
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

"""Streaming feedback files (CSV, gzip CSV, JSONL, Parquet) in chunks of bounded size.

Each chunk is a RawChunk: the columns as found (CSV: all text; JSONL/Parquet: stored types), the
line number of every row as the user counts it, and the rows that could not even be split into
fields. Memory stays bounded by ``block_bytes`` (text) or ``batch_rows`` (Parquet) whatever the
file size.

A file whose last line has no line break was cut off mid-row (a writer still appending, a
truncated copy): that row is rejected, not guessed at, so re-ingesting the completed file
later accepts it exactly once.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

from bannergen.data.readers import NOT_UTF8, RawTable, canonical_names, not_utf8_problem, read_failure, split_not_utf8
from bannergen.errors import DataError
from bannergen.feedback.schema import COLUMNS, REQUIRED_COLUMNS
from bannergen.types import Reject

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

KINDS = {".csv": "csv", ".csv.gz": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".jsonl.gz": "jsonl",
         ".parquet": "parquet"}
BLOCK_BYTES = 8 << 20
BATCH_ROWS = 100_000
CUT_OFF = ("row", "row cut off mid-line (the file does not end with a line break)",
           "a complete row ending with a line break")


# A chunk of a feedback file before validation has the catalog/events loader's record shape.
RawChunk = RawTable


def file_kind(path: Path) -> str:
    name = path.name.lower()
    for suffix in sorted(KINDS, key=len, reverse=True):
        if name.endswith(suffix):
            return KINDS[suffix]
    raise DataError(f"{path}: unsupported feedback file type '{''.join(path.suffixes) or 'no suffix'}'; "
                    f"expected {', '.join(KINDS)}")


def iter_chunks(path: Path, display: str | None = None, block_bytes: int = BLOCK_BYTES,
                batch_rows: int = BATCH_ROWS) -> Iterator[RawChunk]:
    """Yield the file's rows chunk by chunk. Whole-file problems raise DataError (exit 2)."""
    path = Path(path)
    shown = display or str(path)
    if not path.is_file():
        raise DataError(f"{shown}: file not found" if not path.exists() else f"{shown}: not a file")
    kind = file_kind(path)
    try:
        if kind == "parquet":
            yield from _parquet_chunks(path, shown, batch_rows)
        elif kind == "csv":
            yield from _csv_chunks(path, shown, block_bytes)
        else:
            yield from _jsonl_chunks(path, shown, block_bytes)
    except (OSError, EOFError, zlib.error) as exc:
        # A gzip file cut off or damaged fails mid-read, in whichever chunk holds the damage.
        # (EOFError must not reach the CLI raw: click reads it as "Aborted!" and exit 1.)
        raise read_failure(shown, exc) from exc


def _missing(shown: str, found: list[str]) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in found]
    if missing:
        raise DataError(f"{shown}: missing required column(s) {', '.join(missing)}; "
                        f"found {', '.join(found) if found else 'no columns'}")


def _open(path: Path) -> IO[bytes]:
    if path.name.lower().endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))  # a GzipFile is a binary file object
    return path.open("rb")


def _blocks(fh: IO[bytes], block_bytes: int, quoted: bool) -> Iterator[tuple[bytes, bool]]:
    """Whole-line blocks of the stream; the last item may be an unterminated tail (flag True).
    With ``quoted``, a block never ends inside a quoted field (odd number of quote chars)."""
    carry = b""
    while True:
        data = fh.read(block_bytes)
        if not data:
            break
        data = carry + data
        cut = data.rfind(b"\n") + 1
        while quoted and cut and data.count(b'"', 0, cut) % 2:
            cut = data.rfind(b"\n", 0, cut - 1) + 1
        if cut == 0:
            carry = data
            continue
        yield data[:cut], False
        carry = data[cut:]
    if carry.strip():
        yield carry, True


def _decode_error(shown: str, exc: UnicodeDecodeError) -> DataError:
    return DataError(f"{shown}: not UTF-8 text ({exc.reason})", hint="save the file as UTF-8")


# --- CSV ----------------------------------------------------------------------------------------


def _csv_chunks(path: Path, shown: str, block_bytes: int) -> Iterator[RawChunk]:
    import numpy as np
    import pandas as pd

    with _open(path) as fh:
        first = fh.readline()
        try:
            header = canonical_names(
                [h.strip() for h in next(csv.reader([first.decode("utf-8-sig").rstrip("\r\n")]), [])]
            )
        except UnicodeDecodeError as exc:
            raise _decode_error(shown, exc) from exc
        if not any(header):
            raise DataError(f"{shown}: the file is empty; expected a header line naming the columns")
        _missing(shown, header)
        wanted = [c for c in COLUMNS if c in header]
        line = 2  # the line the next block starts on
        for block, cut_off in _blocks(fh, block_bytes, quoted=True):
            if cut_off:
                yield RawChunk(pd.DataFrame({c: pd.Series([], dtype=object) for c in wanted}),
                               np.zeros(0, np.int64), (Reject(shown, line, *_cut(block)),), shown)
                break
            n_lines = block.count(b"\n")
            try:
                # All text, nothing guessed: ids keep leading zeros, an empty cell stays "".
                frame = pd.read_csv(io.BytesIO(block), header=None, names=header, dtype=object, usecols=wanted,
                                    keep_default_na=False, na_filter=False, on_bad_lines="skip",
                                    encoding="utf-8", encoding_errors="surrogateescape", engine="c",
                                    index_col=False)
            except (pd.errors.ParserError, ValueError) as exc:
                raise DataError(f"{shown}: cannot parse as CSV near line {line} "
                                f"({str(exc).strip().splitlines()[0]})") from exc
            if len(frame) == n_lines:
                lines, bad = np.arange(line, line + n_lines, dtype=np.int64), tuple[Reject, ...]()
            else:
                lines, bad = _csv_line_numbers(block, line, len(header), shown, len(frame))
            frame, lines, not_utf8 = split_not_utf8(frame.reset_index(drop=True), lines, shown)
            if not_utf8:
                bad = tuple(sorted((*bad, *not_utf8), key=lambda rej: rej.line))
            yield RawChunk(frame, lines, bad, shown)
            line += n_lines


def _cut(block: bytes) -> tuple[str, str, str, str]:
    field, problem, expected = CUT_OFF
    text = block.decode("utf-8", "replace").rstrip("\r\n")
    got = repr(text if len(text) <= 38 else "…" + text[-37:])
    return field, problem, got, expected


def _csv_line_numbers(block: bytes, start: int, n_fields: int, shown: str,
                      n_rows: int) -> tuple[np.ndarray, tuple[Reject, ...]]:
    """Where each record of ``block`` starts, for blocks with blank lines, quoted line breaks or
    rows with too many fields (which pandas skipped and we report)."""
    import numpy as np

    starts: list[int] = []
    bad: list[Reject] = []
    reader = csv.reader(io.StringIO(block.decode("utf-8", "surrogateescape"), newline=""))
    previous = 0
    for record in reader:
        first, previous = start + previous, reader.line_num
        if not record:
            continue
        if len(record) > n_fields:
            bad.append(Reject(shown, first, "row", "too many fields", f"{len(record)} fields",
                              f"{n_fields} fields as in the header (quote values that contain commas)"))
        else:
            starts.append(first)
    if len(starts) != n_rows:
        log.warning("%s: could not map rows to line numbers exactly near line %d", shown, start)
        return np.arange(start, start + n_rows, dtype=np.int64), tuple(bad)
    return np.asarray(starts, dtype=np.int64), tuple(bad)


# --- JSONL --------------------------------------------------------------------------------------


def _jsonl_chunks(path: Path, shown: str, block_bytes: int) -> Iterator[RawChunk]:
    import numpy as np
    import pandas as pd

    line = 1
    with _open(path) as fh:
        for block, cut_off in _blocks(fh, block_bytes, quoted=False):
            if cut_off:
                yield RawChunk(pd.DataFrame({c: pd.Series([], dtype=object) for c in COLUMNS}),
                               np.zeros(0, np.int64), (Reject(shown, line, *_cut(block)),), shown)
                break
            texts = block.decode("utf-8", "surrogateescape").split("\n")[:-1]
            records, lines, bad = [], [], []
            for offset, text in enumerate(texts):
                if not text.strip():
                    continue
                try:
                    record = json.loads(text)
                except ValueError:
                    record = None
                if isinstance(record, dict) and any(isinstance(v, str) and NOT_UTF8.search(v) for v in record.values()):
                    field = next(k for k, v in record.items() if isinstance(v, str) and NOT_UTF8.search(v))
                    bad.append(Reject(shown, line + offset, field, *not_utf8_problem(record[field])))
                    continue
                if not isinstance(record, dict):
                    got = repr(text if len(text) <= 38 else text[:37] + "…")
                    bad.append(Reject(shown, line + offset, "row", "not a JSON object", got,
                                      "one JSON object per line"))
                    continue
                records.append(record)
                lines.append(line + offset)
            frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
            frame.columns = canonical_names(list(frame.columns))
            if records:
                _missing(shown, list(frame.columns))
            frame = frame.reindex(columns=[c for c in COLUMNS if c in frame.columns or not records])
            yield RawChunk(frame, np.asarray(lines, np.int64), tuple(bad), shown)
            line += len(texts)


# --- Parquet ------------------------------------------------------------------------------------


def _parquet_chunks(path: Path, shown: str, batch_rows: int) -> Iterator[RawChunk]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"{shown}: not a readable Parquet file ({str(exc).strip().splitlines()[0]})") from exc
    stored = list(pf.schema_arrow.names)
    names = canonical_names(stored)
    _missing(shown, names)
    wanted = [stored[names.index(c)] for c in COLUMNS if c in names]
    row = 1
    try:
        for batch in pf.iter_batches(batch_size=batch_rows, columns=wanted):
            table = pa.Table.from_batches([batch])
            table = table.rename_columns([names[stored.index(c)] for c in table.column_names])
            table = pa.table({n: (c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c)
                              for n, c in zip(table.column_names, table.columns)})
            frame = table.to_pandas()
            yield RawChunk(frame, np.arange(row, row + len(frame), dtype=np.int64), (), shown)
            row += len(frame)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{shown}: Parquet file unreadable after row {row - 1} "
                        f"({str(exc).strip().splitlines()[0]})") from exc

"""Content-addressed tables written in pieces: OUT/<folder>/<digest>.csv and .parquet.

A render's assignments and decision log are written through ``TableFiles`` whether the rows come
as one frame (one machine) or as the sorted pieces of consecutive ranges of users (a cluster's
partitions, read back one at a time so the writer never holds every user's rows). The bytes do not
depend on how the rows were cut: the CSV is the pieces' rows one after another under one header,
and the Parquet file is cut into row groups of ``ROW_GROUP_ROWS`` rows whatever the pieces were.
The name is a hash of the CSV; both files are written to temp files and renamed into place.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from bannergen.cache import umask_mode
from bannergen.errors import EnvironmentFailure

ROW_GROUP_ROWS = 131_072  # rows per Parquet row group: the most a writer holds at once


class TableFiles:
    """Write one table as CSV and Parquet, piece by piece; ``close`` names the files by content.

        >>> files = TableFiles(Path("out/x"), "assignments")  # doctest: +SKIP
        >>> files.add(first_rows); files.add(more_rows)  # doctest: +SKIP
        >>> files.close()  # {"csv": "assignments/<digest>.csv", "parquet": ...}  # doctest: +SKIP
    """

    def __init__(self, out: Path, folder: str) -> None:
        self.out, self.folder = out, folder
        self.rows = 0
        self._hash = hashlib.blake2b(digest_size=8)
        self._empty: pd.DataFrame | None = None
        self._pending: list[Any] = []  # pyarrow tables not yet written as a full row group
        self._pending_rows = 0
        self._schema: Any = None
        self._parquet: Any = None
        try:
            (out / folder).mkdir(parents=True, exist_ok=True)
            self._csv_path = self._temp(".csv")
            self._parquet_path = self._temp(".parquet")
            self._csv = open(self._csv_path, "wb")  # noqa: SIM115 (closed by close() or abort())
        except OSError as exc:
            raise EnvironmentFailure(f"{out / folder}: cannot write: {exc.strerror or exc}") from exc

    def _temp(self, suffix: str) -> Path:
        fd, name = tempfile.mkstemp(dir=self.out / self.folder, prefix=".table.", suffix=suffix + ".tmp")
        os.close(fd)
        return Path(name)

    def add(self, piece: pd.DataFrame) -> None:
        """Append ``piece``'s rows (the columns of every piece alike, rows in the table's order)."""
        import pyarrow as pa

        if not len(piece):
            self._empty = piece if self._empty is None else self._empty
            return
        data = piece.to_csv(index=False, header=self.rows == 0, lineterminator="\n").encode("utf-8")
        self._hash.update(data)
        self._csv.write(data)
        table = pa.Table.from_pandas(piece, schema=self._schema, preserve_index=False)
        if self._schema is None:
            self._schema = table.schema
        self._pending.append(table)
        self._pending_rows += len(piece)
        self.rows += len(piece)
        while self._pending_rows >= ROW_GROUP_ROWS:
            self._flush(ROW_GROUP_ROWS)

    def _flush(self, rows: int) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pending = pa.concat_tables(self._pending)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self._parquet_path, self._schema)
        self._parquet.write_table(pending.slice(0, rows).combine_chunks(), row_group_size=ROW_GROUP_ROWS)
        rest = pending.slice(rows)
        self._pending, self._pending_rows = ([rest] if len(rest) else []), len(rest)

    def close(self) -> dict[str, str]:
        """Finish both files and move them into place; returns their paths relative to OUT."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            if self.rows == 0:  # header only: the columns of an empty piece
                empty = self._empty if self._empty is not None else pd.DataFrame()
                data = empty.to_csv(index=False, lineterminator="\n").encode("utf-8")
                self._hash.update(data)
                self._csv.write(data)
                pq.write_table(pa.Table.from_pandas(empty, preserve_index=False), self._parquet_path)
            elif self._pending_rows:
                self._flush(self._pending_rows)
            if self._parquet is not None:
                self._parquet.close()
            self._csv.close()
            digest = self._hash.hexdigest()
            paths = {"csv": f"{self.folder}/{digest}.csv", "parquet": f"{self.folder}/{digest}.parquet"}
            for temp, key in ((self._csv_path, "csv"), (self._parquet_path, "parquet")):
                target = self.out / paths[key]
                if target.exists():  # named by content: the same bytes are there already
                    temp.unlink()
                else:
                    os.chmod(temp, umask_mode())
                    os.replace(temp, target)
            return paths
        except OSError as exc:
            self.abort()
            raise EnvironmentFailure(f"{self.out / self.folder}: cannot write: {exc.strerror or exc}") from exc

    def abort(self) -> None:
        """Drop the temp files (a run that failed leaves nothing behind)."""
        self._csv.close()
        if self._parquet is not None:
            self._parquet.close()
        for temp in (self._csv_path, self._parquet_path):
            temp.unlink(missing_ok=True)


def merge_sorted(parts: list[Iterator[pd.DataFrame]], keys: list[str]) -> Iterator[pd.DataFrame]:
    """The rows of ``parts`` (each a stream of frames sorted by ``keys``, no key shared by two parts)
    as one stream sorted by ``keys``, holding about one frame per part at a time.

    Each round emits every buffered row up to the smallest of the parts' last buffered keys: no row
    still unread can sort before it."""
    streams = [iter(part) for part in parts]
    buffers: list[pd.DataFrame | None] = [next(s, None) for s in streams]
    while any(b is not None for b in buffers):
        live = [i for i, b in enumerate(buffers) if b is not None]
        bound = min(tuple(buffers[i].iloc[-1][keys]) for i in live)  # type: ignore[union-attr]
        out = []
        for i in live:
            frame = buffers[i]
            assert frame is not None
            upto = _rows_upto(frame, keys, bound)
            out.append(frame.iloc[:upto])
            rest = frame.iloc[upto:]
            buffers[i] = rest if len(rest) else next(streams[i], None)
        merged = pd.concat(out, ignore_index=True).sort_values(keys, kind="stable").reset_index(drop=True)
        if len(merged):
            yield merged


def _rows_upto(frame: pd.DataFrame, keys: list[str], bound: tuple) -> int:
    """How many leading rows of ``frame`` (sorted by ``keys``) sort at or before ``bound``."""
    before = pd.Series(False, index=frame.index)
    tie = pd.Series(True, index=frame.index)
    for key, value in zip(keys, bound):
        column = frame[key]
        before |= tie & (column < value)
        tie &= column == value
    return int((before | tie).sum())


def write_table_files(out: Path, folder: str, table: pd.DataFrame) -> dict[str, str]:
    """``table`` as OUT/folder/<digest>.csv and .parquet (written once, atomically)."""
    files = TableFiles(out, folder)
    try:
        files.add(table)
    except BaseException:
        files.abort()
        raise
    return files.close()

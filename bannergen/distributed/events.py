"""Events in partitions: read a Parquet dataset piece by piece on the workers, check every row,
and write each piece's rows to the partition of their users.

A piece is one row group of one file (a CSV file is one piece), so no process reads the whole
dataset. Users are cut into ranges of their sorted ids (boundaries from a sample of every piece),
so the partitions' sorted tables, one after another, are the whole sorted table. A partition is a
folder of one Parquet file per piece, in piece order: a user's events keep their file order.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bannergen.cache import atomic_write
from bannergen.data.events import OPTIONAL, REQUIRED, check_events
from bannergen.data.readers import RawTable
from bannergen.errors import DataError
from bannergen.types import Reject

SAMPLE_PER_PIECE = 1000  # user ids a piece contributes to the partition boundaries


@dataclass(frozen=True)
class Piece:
    """One unit of reading: row group ``row_group`` of ``url`` (None: the whole file), whose first
    row is row ``first_row`` + 1 of its file (row numbers in reject messages are the file's)."""

    index: int
    url: str
    row_group: int | None
    first_row: int
    rows: int


@dataclass(frozen=True)
class StagedPiece:
    """What checking and splitting one piece found: its rejects, rows read and kept, the newest
    event time and whether it holds a purchase."""

    index: int
    rejects: tuple[Reject, ...]
    rows_read: int
    rows_kept: int
    newest: pd.Timestamp | None
    has_purchases: bool


def _filesystem(url: str):
    import fsspec.core

    return fsspec.core.url_to_fs(url)


def list_pieces(url: str) -> list[Piece]:
    """The pieces of an events source: a Parquet file, a folder of Parquet files (read in name
    order), a CSV file, or the same behind an fsspec URL. Reads the Parquet footers only."""
    import pyarrow.parquet as pq

    fs, path = _filesystem(url)
    if not fs.exists(path):
        raise DataError(f"{url}: events not found", hint="set [data] events or [dask] events in bannergen.toml")
    if fs.isdir(path):
        files = sorted(f for f in fs.find(path) if f.endswith(".parquet") and not Path(f).name.startswith("."))
        if not files:
            raise DataError(f"{url}: a folder without .parquet files", hint="events as a Parquet dataset")
    else:
        files = [path]
    pieces: list[Piece] = []
    for name in files:
        full = fs.unstrip_protocol(name) if "://" in url else name
        if not name.endswith(".parquet"):
            pieces.append(Piece(len(pieces), full, None, 0, 0))
            continue
        with fs.open(name, "rb") as handle:
            meta = pq.ParquetFile(handle).metadata
        first = 0
        for group in range(meta.num_row_groups):
            rows = meta.row_group(group).num_rows
            pieces.append(Piece(len(pieces), full, group, first, rows))
            first += rows
    return pieces


def read_piece(piece: Piece) -> RawTable:
    """The piece's rows before validation (the columns of REQUIRED and OPTIONAL it has)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    shown = piece.url.rsplit("/", 1)[-1]
    if piece.row_group is None:
        from bannergen.data.readers import read_table

        return read_table(Path(piece.url), REQUIRED, OPTIONAL)
    fs, path = _filesystem(piece.url)
    try:
        with fs.open(path, "rb") as handle:
            pf = pq.ParquetFile(handle)
            names = list(pf.schema_arrow.names)
            missing = [c for c in REQUIRED if c not in names]
            if missing:
                raise DataError(f"{shown}: missing column(s) {', '.join(missing)}; found {', '.join(names)}",
                                hint=f"events need {', '.join(REQUIRED)}")
            table = pf.read_row_group(piece.row_group, columns=[c for c in (*REQUIRED, *OPTIONAL) if c in names])
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"{shown}: not a readable Parquet file ({str(exc).strip().splitlines()[0]})") from exc
    table = pa.table({  # dictionary columns as plain values, like the local reader
        name: (col.cast(col.type.value_type) if pa.types.is_dictionary(col.type) else col)
        for name, col in zip(table.column_names, table.columns)
    })
    frame = table.to_pandas()
    lines = np.arange(piece.first_row + 1, piece.first_row + len(frame) + 1, dtype=np.int64)
    return RawTable(frame, lines, (), shown)


def sample_users(piece: Piece) -> np.ndarray:
    """Up to SAMPLE_PER_PIECE of the piece's distinct user ids, evenly spread over their order."""
    users = np.unique(read_piece(piece).frame["user_id"].astype(str).to_numpy())
    if len(users) <= SAMPLE_PER_PIECE:
        return users
    return users[np.linspace(0, len(users) - 1, SAMPLE_PER_PIECE).astype(np.int64)]


def boundaries(samples: list[np.ndarray], partitions: int) -> np.ndarray:
    """partitions - 1 user ids cutting the sampled ids into ranges of about equal size: a user
    belongs to partition ``searchsorted(boundaries, user_id, side="right")``."""
    users = np.unique(np.concatenate(samples)) if samples else np.zeros(0, dtype=object)
    if partitions <= 1 or len(users) == 0:
        return np.zeros(0, dtype=object)
    cuts = np.linspace(0, len(users), partitions + 1)[1:-1].astype(np.int64)
    return np.unique(users[np.minimum(cuts, len(users) - 1)]).astype(object)


def partition_of(user_ids: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Partition index of each user id (ranges of sorted ids between ``cuts``)."""
    return np.searchsorted(cuts, np.asarray(user_ids, dtype=object), side="right")


def partition_folder(scratch: Path, partition: int) -> Path:
    return scratch / f"part-{partition:05d}"


def stage_piece(piece: Piece, cuts: np.ndarray, scratch: Path, known_items: pd.Index) -> StagedPiece:
    """Check the piece's rows (``check_events``) and write the kept ones to their partitions'
    folders (atomically: a task run again by Dask writes the same file)."""
    result = check_events(read_piece(piece), known_items)
    frame = result.frame
    where = partition_of(frame["user_id"].to_numpy(), cuts)
    for partition in np.unique(where):
        part = frame[where == partition].reset_index(drop=True)
        buffer = io.BytesIO()
        part.to_parquet(buffer, index=False)
        atomic_write(partition_folder(scratch, int(partition)) / f"piece-{piece.index:06d}.parquet", buffer.getvalue())
    newest = frame["ts"].max() if len(frame) else None
    return StagedPiece(piece.index, result.rejects, result.rows_read, len(frame), newest,
                       bool((frame["event"] == "purchase").any()))


def read_partition(scratch: Path, partition: int) -> pd.DataFrame:
    """The checked events of one partition's users, pieces in order (an empty frame if none)."""
    files = sorted(partition_folder(scratch, partition).glob("piece-*.parquet"))
    if not files:
        return pd.DataFrame({"user_id": pd.Series(dtype="str"), "item_id": pd.Series(dtype="str"),
                             "event": pd.Series(dtype="str"), "ts": pd.Series(dtype="datetime64[ns, UTC]"),
                             "query": pd.Series(dtype="str")})
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    for column in ("user_id", "item_id", "event", "query"):
        frame[column] = frame[column].astype("str")
    return frame

"""Events loading: timestamps, event kinds, unknown items, exact reject messages."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bannergen.data import load_events
from bannergen.errors import DataError

FIXTURES = Path(__file__).parent / "data_fixtures"
HEADER = "user_id,item_id,event,ts,query"
GOOD = "u000123,000101,view,2026-11-28T23:59:59Z,"
KNOWN = pd.Index(["000101", "000102", "000103"])
TS_EXPECTED = "expected ISO 8601 such as 2026-11-28T23:59:59Z, or epoch seconds"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # messages then read "events.csv:2:..."


def write(name: str, text: str) -> Path:
    path = Path(name)
    path.write_text(text, encoding="utf-8")
    return path


ROW_REJECTS = [
    ("empty user", ",000101,view,2026-11-28T23:59:59Z,",
     "events.csv:2:user_id: empty; got ''; expected a user id such as u000123"),
    ("unknown event", "u1,000101,click,2026-11-28T23:59:59Z,",
     "events.csv:2:event: not a known event; got 'click'; expected one of view, search, cart, purchase"),
    ("words for a time", "u1,000101,view,yesterday,",
     f"events.csv:2:ts: not a timestamp; got 'yesterday'; {TS_EXPECTED}"),
    ("impossible date", "u1,000101,view,2026-13-01T00:00:00Z,",
     f"events.csv:2:ts: not a timestamp; got '2026-13-01T00:00:00Z'; {TS_EXPECTED}"),
    ("empty time", "u1,000101,view,,", f"events.csv:2:ts: not a timestamp; got ''; {TS_EXPECTED}"),
    ("epoch milliseconds", "u1,000101,view,1795910400000,",
     f"events.csv:2:ts: outside the years 1970-2199; got '1795910400000'; {TS_EXPECTED}"),
    ("view without item", "u1,,view,2026-11-28T23:59:59Z,",
     "events.csv:2:item_id: empty; got ''; expected an item_id for view, cart and purchase events"),
    ("purchase without item", "u1,,purchase,2026-11-28T23:59:59Z,",
     "events.csv:2:item_id: empty; got ''; expected an item_id for view, cart and purchase events"),
    ("item not in catalog", "u1,999999,cart,2026-11-28T23:59:59Z,",
     "events.csv:2:item_id: not in the catalog; got '999999'; expected an item_id listed in the catalog"),
    ("leading zeros matter", "u1,101,view,2026-11-28T23:59:59Z,",
     "events.csv:2:item_id: not in the catalog; got '101'; expected an item_id listed in the catalog"),
    ("search without query", "u1,,search,2026-11-28T23:59:59Z,",
     "events.csv:2:query: empty; got ''; expected the search text of a search event"),
]


@pytest.mark.parametrize(("line", "message"), [c[1:] for c in ROW_REJECTS], ids=[c[0] for c in ROW_REJECTS])
def test_row_rejects(line: str, message: str) -> None:
    result = load_events(write("events.csv", f"{HEADER}\n{line}\n{GOOD}\n"), known_items=KNOWN)
    assert [str(r) for r in result.rejects] == [message]
    assert len(result.frame) == 1 and result.rows_read == 2


FILE_ERRORS = [
    ("missing column", "user_id,item_id,event\nu1,000101,view\n",
     "events.csv: missing required column(s) ts; found user_id, item_id, event"),
    ("semicolons", "user_id;item_id;event;ts\nu1;000101;view;2026-11-28\n",
     "events.csv: looks ';'-delimited; expected comma-separated CSV"),
]


@pytest.mark.parametrize(("text", "message"), [c[1:] for c in FILE_ERRORS], ids=[c[0] for c in FILE_ERRORS])
def test_whole_file_errors(text: str, message: str) -> None:
    with pytest.raises(DataError) as caught:
        load_events(write("events.csv", text))
    assert str(caught.value) == message


def test_missing_events_file() -> None:
    with pytest.raises(DataError) as caught:
        load_events(Path("events.parquet"))
    assert str(caught.value) == "events.parquet: file not found"


def test_header_only_is_an_empty_history() -> None:
    result = load_events(write("events.csv", HEADER + "\n"))
    assert len(result.frame) == 0 and result.rejects == () and result.rows_read == 0
    assert list(result.frame.columns) == ["user_id", "item_id", "event", "ts", "query"]
    assert str(result.frame["ts"].dtype) == "datetime64[ns, UTC]"


def test_timestamps_iso_with_and_without_zone_and_epoch() -> None:
    result = load_events(FIXTURES / "events_small.csv", known_items=KNOWN)
    assert result.rejects == ()
    frame = result.frame
    assert str(frame["ts"].dtype) == "datetime64[ns, UTC]"
    assert frame["ts"].tolist() == [pd.Timestamp(t, tz="UTC") for t in (
        "2026-11-28 23:05:00", "2026-11-28 23:05:30", "2026-11-28 23:06:40",  # Z, +00:00, naive = UTC
        "2026-11-29 00:00:00",  # epoch seconds 1795910400
        "2026-11-28 23:27:00",  # +08:00 converted to UTC
        "2026-11-28 23:30:00.250",
    )]
    assert frame["item_id"].tolist() == ["", "000101", "000102", "000103", "000103", ""]
    assert frame["query"].tolist() == ["手机", "", "", "", "", "佳能 相机"]
    for column in ("user_id", "item_id", "event", "query"):
        assert pd.api.types.is_string_dtype(frame[column].dtype), column


def test_parquet_timestamps_and_numeric_epochs() -> None:
    moments = pd.to_datetime(["2026-11-28 23:05:00", "2026-11-28 23:06:40"])
    base = {"user_id": ["u1", "u2"], "item_id": ["000101", "000102"], "event": ["view", "cart"]}
    variants = {
        "naive.parquet": pa.array(moments.to_numpy(), pa.timestamp("us")),
        "aware.parquet": pa.array(moments.tz_localize("UTC").tz_convert("Asia/Shanghai")),
        "epoch.parquet": pa.array(((moments - pd.Timestamp(0)) // pd.Timedelta(seconds=1)).to_numpy()),
    }
    for name, ts in variants.items():
        pq.write_table(pa.table({**base, "ts": ts}), name)
        frame = load_events(Path(name), known_items=KNOWN).frame
        assert frame["ts"].tolist() == list(moments.tz_localize("UTC")), name


def test_parquet_integer_user_ids_become_text() -> None:
    pq.write_table(pa.table({"user_id": [7, 8], "item_id": ["000101", ""], "event": ["view", "search"],
                             "ts": ["2026-11-28T00:00:00Z"] * 2, "query": ["", "耳机 降噪"]}), "events.parquet")
    frame = load_events(Path("events.parquet")).frame
    assert frame["user_id"].tolist() == ["7", "8"]


def test_gzip_and_parquet_load_the_same_frame_as_csv() -> None:
    source = FIXTURES / "events_small.csv"
    with gzip.open("events.csv.gz", "wb") as gz:
        gz.write(source.read_bytes())
    text = pd.read_csv(source, dtype=str, keep_default_na=False)
    pq.write_table(pa.Table.from_pandas(text, preserve_index=False), "events.parquet")
    expected = load_events(source, known_items=KNOWN).frame
    for name in ("events.csv.gz", "events.parquet"):
        result = load_events(Path(name), known_items=KNOWN)
        assert result.rejects == ()
        pd.testing.assert_frame_equal(result.frame, expected, obj=name)


def test_event_case_and_stray_query_are_normalised() -> None:
    text = f"{HEADER}\nu1,000101,View,2026-11-28T23:59:59Z,leftover\n"
    frame = load_events(write("events.csv", text)).frame
    assert frame[["event", "query"]].values.tolist() == [["view", ""]]


def test_without_known_items_any_item_is_accepted() -> None:
    text = f"{HEADER}\nu1,424242,view,2026-11-28T23:59:59Z,\n"
    assert load_events(write("events.csv", text)).rejects == ()


def test_rows_read_counts_kept_and_rejected() -> None:
    lines = [GOOD, "u1,,view,2026-11-28,", "u1,999999,view,2026-11-28,", GOOD, ",000101,view,x,"]
    result = load_events(write("events.csv", HEADER + "\n" + "\n".join(lines) + "\n"), known_items=KNOWN)
    assert result.rows_read == 5 == len(result.frame) + len(result.rejects)
    assert [(r.line, r.field) for r in result.rejects] == [(3, "item_id"), (4, "item_id"), (6, "user_id")]


def test_events_csv_copy_keeps_working(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "events_small.csv", tmp_path / "copy.csv")
    assert len(load_events(tmp_path / "copy.csv").frame) == 6

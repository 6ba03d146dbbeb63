"""Feedback validation, ingest and the SQLite store: exact reject messages, idempotence, durability."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bannergen.errors import DataError, EnvironmentFailure
from bannergen.feedback import ingest_file, open_store, validate_frame
from bannergen.feedback.traffic import invalid_clicks

NOW = pd.Timestamp("2026-11-29T12:00:00Z").timestamp()
GOOD = {"event_id": "e1", "ts": "2026-11-29T08:00:00Z", "user_id": "u1", "variant_id": "v1", "event": "click",
        "value": "", "cost": "0.01", "placement": "home", "propensity": "0.25", "policy": "thompson"}


@pytest.mark.parametrize("field, value, message", [
    ("event", "purchase", "x:1:event: unknown event type; got 'purchase'; expected impression | click | conversion"),
    ("ts", "", "x:1:ts: missing timestamp; got ''; expected an ISO 8601 time, e.g. 2026-11-29T08:00:00Z"),
    ("ts", "yesterday", "x:1:ts: not a timestamp; got 'yesterday'; expected an ISO 8601 time, e.g. 2026-11-29T08:00:00Z"),
    ("ts", "2026-11-29T12:06:00Z", "x:1:ts: in the future; got '2026-11-29T12:06:00Z'; expected a time at most 5 minutes ahead of now"),
    ("value", "-5", "x:1:value: negative; got '-5'; expected a number >= 0 (CNY)"),
    ("value", "1e12", "x:1:value: absurdly large; got '1e12'; expected at most 10,000,000 CNY"),
    ("cost", "abc", "x:1:cost: not a number; got 'abc'; expected a number >= 0 (CNY)"),
    ("propensity", "0", "x:1:propensity: outside (0, 1]; got '0'; expected a probability in (0, 1]"),
    ("propensity", "1.5", "x:1:propensity: outside (0, 1]; got '1.5'; expected a probability in (0, 1]"),
    ("user_id", "", "x:1:user_id: missing user id; got ''; expected a non-empty id"),
])
def test_bad_rows_are_rejected_with_exact_messages(field: str, value: str, message: str) -> None:
    checked = validate_frame(pd.DataFrame([{**GOOD, field: value}], dtype=object), display="x", now=NOW)
    assert [str(r) for r in checked.rejects] == [message]
    assert checked.frame.empty


def test_good_row_passes_and_small_clock_skew_is_allowed() -> None:
    rows = pd.DataFrame([GOOD, {**GOOD, "event_id": "e2", "ts": "2026-11-29T12:04:00Z", "event": " Click"}], dtype=object)
    checked = validate_frame(rows, now=NOW)
    assert checked.rejects == () and list(checked.frame["event"]) == ["click", "click"]
    assert np.isnan(validate_frame(pd.DataFrame([{**GOOD, "propensity": ""}], dtype=object), now=NOW).frame["propensity"][0])


def _csv(path: Path, rows: list[dict], cut: bool = False) -> Path:
    text = pd.DataFrame(rows).to_csv(index=False, lineterminator="\n")
    path.write_text(text[:-12] if cut else text, encoding="utf-8")
    return path


def _rows(n: int, start: int = 0) -> list[dict]:
    return [{**GOOD, "event_id": f"e{i}", "user_id": f"u{i % 7}", "event": "impression"} for i in range(start, start + n)]


def test_ingest_counts_add_up_and_reingest_changes_nothing(tmp_path: Path) -> None:
    rows = _rows(50) + [_rows(1)[0], {**GOOD, "event_id": "bad", "event": "like"}]  # a duplicate id, a reject
    f = _csv(tmp_path / "a.csv", rows)
    with open_store(tmp_path / "s.sqlite") as store:
        first = ingest_file(f, store, rejects_path=tmp_path / "rej.txt", now=NOW).counts
        assert (first.accepted, first.duplicate, first.rejected) == (50, 1, 1)
        assert (tmp_path / "rej.txt").read_text().startswith(f"{f}:53:event: unknown event type; got 'like'")
        again = ingest_file(f, store, now=NOW).counts
        assert (again.accepted, again.duplicate, again.rejected) == (0, 51, 1)
        other = ingest_file(_csv(tmp_path / "b.csv", _rows(10, start=45)), store, now=NOW).counts  # across files
        assert (other.accepted, other.duplicate) == (5, 5)
        assert store.count() == 55


def test_small_chunks_give_the_same_counts_and_line_numbers(tmp_path: Path) -> None:
    rows = _rows(300) + [{**GOOD, "event_id": "x", "ts": "nope"}]
    f = _csv(tmp_path / "a.csv", rows)
    with open_store(tmp_path / "s.sqlite") as store:
        result = ingest_file(f, store, block_bytes=2000, now=NOW)
    assert result.counts.line() == "accepted=300 duplicate=0 rejected=1"
    assert str(result.first_rejects[0]).startswith(f"{f}:302:ts: not a timestamp")


def test_file_cut_off_mid_row_rejects_the_partial_row(tmp_path: Path) -> None:
    f = _csv(tmp_path / "cut.csv", _rows(5), cut=True)
    with open_store(tmp_path / "s.sqlite") as store:
        result = ingest_file(f, store, now=NOW)
    assert result.counts.line() == "accepted=4 duplicate=0 rejected=1"
    assert str(result.first_rejects[0]).startswith(f"{f}:6:row: row cut off mid-line (the file does not end with a line break)")


def test_derived_ids_dedupe_across_csv_jsonl_and_parquet(tmp_path: Path) -> None:
    rows = [{k: v for k, v in r.items() if k != "event_id"} for r in _rows(20)]
    for r, i in zip(rows, range(20)):
        r["ts"] = f"2026-11-29T08:00:{i:02d}Z"
    frame = pd.DataFrame(rows)
    frame.to_csv(tmp_path / "a.csv", index=False)
    frame.to_json(tmp_path / "a.jsonl", orient="records", lines=True)
    frame.to_parquet(tmp_path / "a.parquet")
    with open_store(tmp_path / "s.sqlite") as store:
        counts = [ingest_file(tmp_path / name, store, now=NOW).counts for name in ("a.csv", "a.jsonl", "a.parquet")]
    assert [(c.accepted, c.duplicate, c.rejected) for c in counts] == [(20, 0, 0), (0, 20, 0), (0, 20, 0)]


def test_unknown_variants_are_kept_and_flagged(tmp_path: Path) -> None:
    f = _csv(tmp_path / "a.csv", _rows(4) + [{**GOOD, "event_id": "z", "variant_id": "new"}])
    with open_store(tmp_path / "s.sqlite") as store:
        counts = ingest_file(f, store, known_variants=frozenset({"v1"}), now=NOW).counts
        assert (counts.accepted, counts.unknown_variant) == (5, 1)
        assert store.events_frame(["variant_id", "unknown_variant"]).query("variant_id == 'new'")["unknown_variant"].tolist() == [1]


def test_missing_required_column_is_a_data_error(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("ts,user_id\n2026-11-29T08:00:00Z,u1\n")
    with open_store(tmp_path / "s.sqlite") as store, pytest.raises(DataError, match="missing required column"):
        ingest_file(tmp_path / "a.csv", store)


def test_locked_store_waits_then_fails_with_exit_3(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    open_store(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with open_store(path, timeout=0.2) as store, pytest.raises(EnvironmentFailure) as err:
            ingest_file(_csv(tmp_path / "a.csv", _rows(3)), store, now=NOW)
        assert err.value.exit_code == 3 and "is locked by another process (waited 0.2s)" in str(err.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_acknowledged_events_survive_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    script = textwrap.dedent(f"""
        import sys, time, pandas as pd
        from pathlib import Path
        from bannergen.feedback import open_store, validate_frame
        store = open_store(Path({str(path)!r}))
        for b in range(1000):
            rows = pd.DataFrame([{{"event_id": f"b{{b}}-{{i}}", "ts": "2026-11-29T08:00:00Z", "user_id": "u",
                                  "variant_id": "v", "event": "impression"}} for i in range(100)], dtype=object)
            store.add(validate_frame(rows, now={NOW}).frame.drop(columns="line"))
            print(b, flush=True)   # acknowledged: printed only after COMMIT returned
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    acked = -1
    deadline = time.time() + 30
    while acked < 20 and time.time() < deadline:
        acked = int(proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with open_store(path) as store:
        assert store.count() >= (acked + 1) * 100


def test_invalid_clicks_no_prior_impression_and_double_click() -> None:
    s = 1_000_000
    frame = pd.DataFrame({
        "user_id": ["a", "a", "a", "a", "b", "a"],
        "variant_id": ["v", "v", "v", "v", "v", "w"],
        "event": ["impression", "click", "click", "click", "click", "click"],
        "ts": [0, 2 * s, 2 * s + s // 2, 5 * s, 1 * s, 3 * s],
    })
    assert invalid_clicks(frame).tolist() == [False, False, True, False, True, True]


def test_store_reads_while_another_connection_writes(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with open_store(path) as writer, open_store(path) as reader:
        writer.add(validate_frame(pd.DataFrame(_rows(10), dtype=object), now=NOW).frame.drop(columns="line"))
        writer._db.execute("BEGIN IMMEDIATE")  # a write in progress does not block WAL readers
        assert reader.variant_counts()["impressions"].tolist() == [10]
        writer._db.execute("ROLLBACK")


def test_decision_ids_arrive_from_every_format_and_unknown_ones_are_kept_and_flagged(tmp_path: Path) -> None:
    rows = [{**r, "decision_id": f"d{i % 3}"} for i, r in enumerate(_rows(6))]
    rows[5]["decision_id"] = ""  # a CMS that did not echo one: not flagged
    frame = pd.DataFrame(rows)
    frame.to_csv(tmp_path / "a.csv", index=False)
    frame.assign(event_id=frame["event_id"] + "j").to_json(tmp_path / "a.jsonl", orient="records", lines=True)
    frame.assign(event_id=frame["event_id"] + "p").to_parquet(tmp_path / "a.parquet")
    known = frozenset({"d0", "d1"})
    with open_store(tmp_path / "s.sqlite") as store:
        counts = [ingest_file(tmp_path / name, store, known_decisions=known, now=NOW).counts
                  for name in ("a.csv", "a.jsonl", "a.parquet")]
        stored = store.events_frame(["event_id", "decision_id", "unknown_decision"])
    assert [(c.accepted, c.unknown_decision) for c in counts] == [(6, 1), (6, 1), (6, 1)]
    assert stored["decision_id"].tolist() == ["d0", "d1", "d2", "d0", "d1", ""] * 3
    assert stored["unknown_decision"].tolist() == [0, 0, 1, 0, 0, 0] * 3


def test_a_store_from_before_decision_ids_gets_the_column_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""CREATE TABLE events (event_id TEXT NOT NULL UNIQUE, ts INTEGER NOT NULL, user_id TEXT NOT NULL,
        variant_id TEXT NOT NULL, event INTEGER NOT NULL, value REAL NOT NULL, cost REAL NOT NULL,
        placement TEXT NOT NULL, propensity REAL, policy TEXT NOT NULL, unknown_variant INTEGER);
        INSERT INTO events VALUES ('old', 1796000000000000, 'u', 'v', 0, 0, 0, 'home', 0.5, 'softmax', NULL);""")
    db.commit()
    db.close()
    with open_store(path) as store:
        store.add(validate_frame(pd.DataFrame([{**GOOD, "decision_id": "d9"}], dtype=object), now=NOW).frame.drop(columns="line"))
        assert store.events_frame(["event_id", "decision_id"]).values.tolist() == [["old", ""], ["e1", "d9"]]


def test_derived_event_ids_ignore_an_empty_decision_id() -> None:
    without = {k: v for k, v in GOOD.items() if k != "event_id"}
    a = validate_frame(pd.DataFrame([without], dtype=object), now=NOW).frame["event_id"][0]
    b = validate_frame(pd.DataFrame([{**without, "decision_id": ""}], dtype=object), now=NOW).frame["event_id"][0]
    c = validate_frame(pd.DataFrame([{**without, "decision_id": "d1"}], dtype=object), now=NOW).frame["event_id"][0]
    assert a == b != c

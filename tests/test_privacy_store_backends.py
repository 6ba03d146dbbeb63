"""forget, compact and rekey on both stores (SQLite files and a real PostgreSQL database): the
same rows go, the rollup keeps its totals, and on SQLite the bytes are gone from the files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bannergen.store import open_behaviour_store, open_feedback_store
from bannergen.store.base import BehaviourEvent

NOW_US = 1_795_853_073_000_000
DAY_US = 86_400_000_000
GONE, KEPT = "p" + "a" * 24, "p" + "b" * 24


@pytest.fixture(params=["sqlite", "postgres"])
def location(request, tmp_path) -> Path | str:
    if request.param == "sqlite":
        return tmp_path / "store.sqlite"
    return request.getfixturevalue("postgres_url")


def _feedback(users: list[str]) -> pd.DataFrame:
    n = len(users)
    return pd.DataFrame({"event_id": [f"f{i}" for i in range(n)], "ts": [NOW_US + i for i in range(n)],
                         "user_id": users, "variant_id": "v1", "event": "impression", "value": 0.0, "cost": 0.0,
                         "placement": "home", "propensity": 0.5, "policy": "softmax", "decision_id": ""})


def _populate_behaviour(location) -> None:
    store = open_behaviour_store(location)
    try:
        store.add([BehaviourEvent(f"e{i}", NOW_US - i * DAY_US, u, "view", "000101")
                   for i, u in enumerate([GONE, KEPT] * 5)])
        store.log_decisions([(f"d{i}", NOW_US - i * DAY_US, u, "home", "300x250", "v1", "000101", "price-drop",
                              "softmax", 0.5, 1.0, "") for i, u in enumerate([GONE, KEPT] * 5)],
                            [(f"d{i}", 0, "000101", "price-drop", "", 1.0, 0.5, 1) for i in range(10)])
    finally:
        store.close()


def test_forget_removes_the_users_rows_and_keeps_the_totals(location):
    behaviour_at = location if isinstance(location, str) else location.with_name("behaviour.sqlite")
    _populate_behaviour(behaviour_at)
    with open_feedback_store(location) as fb:
        fb.add(_feedback([GONE, KEPT, GONE]))
        before = fb.variant_counts()
        assert fb.forget([GONE, "p" + "c" * 24]) == 2
        assert fb.events_frame(["user_id"])["user_id"].tolist() == [KEPT]
        pd.testing.assert_frame_equal(fb.variant_counts(), before)  # aggregate reports keep their totals
    store = open_behaviour_store(behaviour_at)
    try:
        erased = store.forget([GONE])
        assert (erased.behaviour, erased.decisions, erased.candidates) == (5, 5, 5)
        assert {e.user_id for e in store.all()} == {KEPT}
        log = store.decision_log()
        assert set(log["user_id"]) == {KEPT} and len(log) == 5
        assert store.forget([GONE]).total == 0  # a rerun finds nothing left
    finally:
        store.close()
    if not isinstance(location, str):
        for path in location.parent.glob("*.sqlite*"):
            assert GONE.encode() not in path.read_bytes(), path.name


def test_compact_drops_old_rows_and_rekey_renames(location):
    behaviour_at = location if isinstance(location, str) else location.with_name("behaviour.sqlite")
    _populate_behaviour(behaviour_at)
    store = open_behaviour_store(behaviour_at)
    try:
        dropped = store.compact(NOW_US - 3 * DAY_US - 1)  # rows 4..9 days old
        assert (dropped.behaviour, dropped.decisions, dropped.candidates) == (6, 6, 6)
        assert sorted(e.event_id for e in store.all()) == ["e0", "e1", "e2", "e3"]
        new = "p" + "d" * 24
        assert store.rekey([(new, GONE)]) == 4  # two behaviour rows, two decisions
        assert sorted({e.user_id for e in store.all()}) == [KEPT, new]
        assert np.isin(store.decision_log()["user_id"].unique(), [KEPT, new]).all()
    finally:
        store.close()
    with open_feedback_store(location) as fb:
        fb.add(_feedback([GONE, KEPT]))
        assert fb.rekey([("p" + "e" * 24, GONE)]) == 1
        assert sorted(fb.events_frame(["user_id"])["user_id"]) == sorted(["p" + "e" * 24, KEPT])

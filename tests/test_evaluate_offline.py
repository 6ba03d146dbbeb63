"""Offline evaluation: metrics by hand, the split protocol, and the JSON contract."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from tree_guard import example_project

from bannergen.evaluation import bootstrap_ratio, evaluate, rank_metrics, top_k
from bannergen.scorers.settings import BlendSettings

ROOT = example_project()  # the example project; what tests write stays out of the working tree
CLI = [
    sys.executable,
    "-c",
    "from bannergen.cli.main import app; from bannergen.cli.scoring import register; register(app); app()",
]


def test_metrics_by_hand():
    targets = sp.csr_matrix(np.asarray([[0, 1, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0]], dtype=np.float32))
    top = np.asarray([[1, 0], [2, 3], [3, 2]])
    m = rank_metrics(top, targets, 2)
    assert m.hr.tolist() == [1.0, 0.0, 0.0]
    assert m.precision.tolist() == [0.5, 0.0, 0.0]
    assert m.recall[0] == pytest.approx(0.5)
    assert m.ndcg[0] == pytest.approx(1.0 / (1.0 + 1.0 / np.log2(3)))
    assert m.summary(4)["coverage"] == pytest.approx(1.0)


def test_top_k_excludes_and_breaks_ties_by_index():
    scores = np.asarray([[1.0, 3.0, 3.0, 2.0]], dtype=np.float32)
    assert top_k(scores, 2).tolist() == [[1, 2]]
    assert top_k(scores, 2, sp.csr_matrix(np.asarray([[0, 1, 0, 0]]))).tolist() == [[2, 3]]


def test_bootstrap_ratio_of_identical_arrays_is_one():
    a = np.random.default_rng(1).random(200)
    r, lo, hi = bootstrap_ratio(a, a)
    assert r == pytest.approx(1.0) and lo == pytest.approx(1.0) and hi == pytest.approx(1.0)


def shop():
    """Two groups that always buy the same pair; the test period holds the pair's second item."""
    end = pd.Timestamp("2026-03-01T00:00:00Z")
    rows = []
    for n in range(40):
        a, b = ("A", "B") if n % 2 else ("C", "D")
        t0 = end - pd.Timedelta(days=90 - n)
        rows += [(f"u{n}", a, "purchase", t0), (f"u{n}", b, "purchase", t0)]
        rows += [
            (f"u{n}", a, "purchase", end - pd.Timedelta(days=40)),
            (f"u{n}", b, "purchase", end - pd.Timedelta(days=35)),
        ]
    for n in range(40, 60):
        a, b = ("A", "B") if n % 2 else ("C", "D")
        rows += [
            (f"u{n}", a, "purchase", end - pd.Timedelta(days=70)),
            (f"u{n}", "E", "purchase", end - pd.Timedelta(days=69)),
            (f"u{n}", b, "purchase", end - pd.Timedelta(days=5)),
        ]
    for n in range(60, 80):
        a, b = ("A", "B") if n % 2 else ("C", "D")
        rows += [
            (f"u{n}", a, "purchase", end - pd.Timedelta(days=60)),
            (f"u{n}", b, "purchase", end - pd.Timedelta(days=40)),
        ]
    events = pd.DataFrame(rows, columns=["user_id", "item_id", "event", "ts"]).assign(query="")
    catalog = pd.DataFrame({"item_id": list("ABCDE"), "title": list("ABCDE"), "brand": "-", "category": "-",
                            "price": 1.0, "list_price": np.nan, "image": "", "stock": 1, "url": ""})
    return catalog, events


def test_protocol_new_items_finds_the_partner_item():
    catalog, events = shop()
    r = evaluate(catalog, events, k=2, settings=BlendSettings(weights={"ease": 1.0}, params={}), n_boot=50)
    assert r.users == 20 and r.protocol == "new-items"
    res = {x["scorer"]: x for x in r.results}
    assert {"blend", "popularity", "popularity_recent", "item_knn", "ease"} <= set(res) and "history" not in res
    assert res["ease"]["hr"] == pytest.approx(1.0) and res["item_knn"]["hr"] == pytest.approx(1.0)
    repeat = evaluate(
        catalog, events, k=2, protocol="repeat", settings=BlendSettings(weights={"ease": 1.0}, params={}), n_boot=50
    )
    assert "history" in {x["scorer"] for x in repeat.results}


@pytest.mark.slow
def test_example_shop_json_contract(tmp_path):
    r = subprocess.run([*CLI, "--project", str(ROOT), "evaluate", "--k", "10", "--format", "json"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert list(doc)[:5] == ["k", "protocol", "split_date", "users", "results"]
    assert doc["k"] == 10 and doc["protocol"] == "new-items" and doc["users"] > 0
    names = [x["scorer"] for x in doc["results"]]
    assert {"blend", "popularity", "popularity_recent", "item_knn", "ease"} <= set(names)
    for x in doc["results"]:
        assert set(x) == {"scorer", "hr", "ndcg", "precision", "recall", "coverage"}
        assert all(0.0 <= x[m] <= 1.0 for m in ("hr", "ndcg", "precision", "recall", "coverage"))


@pytest.mark.parametrize("args, message", [
    (["--split-date", "yesterday-ish"], "--split-date: not a date"),
    (["--split-date", "1999-01-01"], "is outside the data"),
])
def test_bad_evaluate_flags(args, message):
    r = subprocess.run([*CLI, "--project", str(ROOT), "evaluate", *args], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


def test_logistic_weights_come_from_the_validation_fold_and_may_be_negative():
    from bannergen.evaluation.offline import Fold, logistic_weights

    rng = np.random.default_rng(0)
    n_users, n_items = 200, 30
    good = rng.random((n_users, n_items)).astype(np.float32)
    noise = rng.random((n_users, n_items)).astype(np.float32)
    targets = sp.csr_matrix((good > 0.9).astype(np.float32))
    anti = (1.0 - good + 0.05 * noise).astype(np.float32)  # says the opposite of the truth
    fold = Fold(
        data=None, rows=np.arange(n_users), targets=targets, exclude=None, cut=pd.Timestamp("2026-01-01", tz="UTC")
    )
    w = logistic_weights({"good": good, "noise": noise, "anti": anti}, fold, 5, candidates=30)
    assert w["good"] > 0 and w.get("anti", 0.0) < 0 and max(abs(v) for v in w.values()) == pytest.approx(1.0)

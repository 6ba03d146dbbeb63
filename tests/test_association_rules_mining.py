"""`association-rules mine`: baskets in, rules out; real data (Groceries, Online Retail) and bad input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from bannergen.association import mine_rules, read_baskets, write_rules
from bannergen.association.mining import ThresholdError
from bannergen.association.scorer import pair_rules

CLI = [
    sys.executable,
    "-c",
    "from bannergen.cli.main import app; from bannergen.cli.scoring import register; register(app); app()",
]


def run(*args, cwd=None):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd)


def test_lines_file_strips_dedups_and_counts_blank_lines(tmp_path):
    f = tmp_path / "b.csv"
    f.write_text("milk, bread ,milk\n\nbread,butter\nmilk,bread\n  ,\nbutter\n", encoding="utf-8")
    b = read_baskets(f)
    assert b.items == ["bread", "butter", "milk"]
    assert b.n_baskets == 4 and b.empty == 2 and b.duplicates == 1
    rules = mine_rules(b, 0.5, 0.5)
    row = rules[(rules["antecedents"] == ("milk",)) & (rules["consequents"] == ("bread",))].iloc[0]
    assert row["support"] == pytest.approx(0.5) and row["confidence"] == pytest.approx(1.0)
    assert row["lift"] == pytest.approx(1.0 / 0.75)


def test_csv_output_joins_itemsets_sorted(tmp_path):
    f = tmp_path / "b.csv"
    f.write_text("c,b,a\na,b,c\na,b\n", encoding="utf-8")
    write_rules(mine_rules(read_baskets(f), 0.6, 0.5), tmp_path / "r.csv")
    out = pd.read_csv(tmp_path / "r.csv", dtype=str, keep_default_na=False)
    assert list(out.columns[:7]) == [
        "antecedents",
        "consequents",
        "support",
        "confidence",
        "lift",
        "leverage",
        "conviction",
    ]
    assert set(out["antecedents"]) <= {"a", "b", "c", "a|b", "a|c", "b|c"}


def test_cancelled_invoices_are_skipped(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("InvoiceNo,StockCode\n1,A\n1,B\nC2,A\nC2,B\n3,A\n3,B\n", encoding="utf-8")
    b = read_baskets(f, "InvoiceNo", "StockCode")
    assert b.n_baskets == 2 and b.cancelled == 1


@pytest.mark.parametrize("args, message", [
    (["--min-support", "0", "--min-confidence", "0.5"], "--min-support must be within (0, 1]; got 0.0"),
    (["--min-support", "0.5", "--min-confidence", "1.5"], "--min-confidence must be within (0, 1]; got 1.5"),
    (["--min-support", "0.5", "--min-confidence", "0.5", "--basket-col", "Invoice", "--item-col", "Item"],
     "missing required column(s) Invoice, Item"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    f = tmp_path / "b.csv"
    f.write_text("a,b\n", encoding="utf-8")
    r = run("association-rules", "mine", "--baskets", str(f), *args)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr


def test_rules_mine_is_a_hidden_alias_with_a_deprecation_note(tmp_path):
    f = tmp_path / "b.csv"
    f.write_text("a,b\na,b\nb,c\n", encoding="utf-8")
    new = run("association-rules", "mine", "--baskets", str(f), "--min-support", "0.5", "--min-confidence", "0.5")
    old = run("rules", "mine", "--baskets", str(f), "--min-support", "0.5", "--min-confidence", "0.5")
    assert new.returncode == old.returncode == 0, old.stderr
    summary = "2 rules (fpgrowth, min-support 0.5, min-confidence 0.5)"
    assert old.stdout.split(" in ")[0] == new.stdout.split(" in ")[0] == summary
    assert old.stdout.splitlines()[1:] == new.stdout.splitlines()[1:]
    note = "note: 'bannergen rules mine' is deprecated; use 'bannergen association-rules mine'"
    assert old.stderr.splitlines()[0] == note and note not in new.stderr
    helped = run("--help")
    commands = [line.split()[0] for line in helped.stdout.splitlines() if line.startswith("  ")]
    assert "association-rules" in commands and "rules" not in commands


@pytest.mark.parametrize(
    "support, confidence, published",
    [
        # Hahsler, arulesViz vignette "Visualizing Association Rules" and R Journal 9(2), 2017:
        # apriori(Groceries, parameter = list(support = 0.001, confidence = 0.5)) -> "set of 5668 rules"
        (0.001, 0.5, 5668),
        # Lantz, Machine Learning with R, chapter 8: apriori(groceries, parameter = list(support =
        # 0.006, confidence = 0.25, minlen = 2)) -> "set of 463 rules"
        (0.006, 0.25, 463),
    ],
)
def test_groceries_matches_the_published_rule_count(shared_data, support, confidence, published):
    """arules writes rules with one item on the right-hand side and mines itemsets of up to 10
    items (maxlen = 10); mlxtend also writes rules with several consequents, so only the rules with
    one consequent are counted, mined with arules' maxlen."""
    b = read_baskets(shared_data / "groceries/groceries.csv")
    assert b.n_baskets == 9835 and len(b.items) == 169  # trailing spaces stripped
    rules = mine_rules(b, support, confidence, max_len=10)
    assert (rules["consequents"].map(len) == 1).sum() == published


def test_groceries_fpgrowth_and_apriori_agree(shared_data):
    b = read_baskets(shared_data / "groceries/groceries.csv")
    rules = mine_rules(b, 0.006, 0.25)
    top = rules.iloc[0]
    assert top["antecedents"] == ("root vegetables", "tropical fruit") and top["lift"] == pytest.approx(4.454, abs=1e-3)
    apriori = mine_rules(b, 0.006, 0.25, algorithm="apriori")
    pd.testing.assert_frame_equal(rules, apriori)


def test_pair_rules_equal_mlxtend(shared_data):
    b = read_baskets(shared_data / "groceries/groceries.csv")
    ours = pair_rules(b.matrix, 0.01, 0.2)
    theirs = mine_rules(b, 0.01, 0.2, max_len=2)
    assert len(ours) == len(theirs)
    idx = {n: k for k, n in enumerate(b.items)}
    key = {
        (idx[a[0]], idx[c[0]]): conf
        for a, c, conf in zip(theirs["antecedents"], theirs["consequents"], theirs["confidence"])
    }
    for a, c, conf in zip(ours["antecedent"], ours["consequent"], ours["confidence"]):
        assert key[(a, c)] == pytest.approx(conf)


@pytest.mark.slow
def test_online_retail_cli_and_explosion_guard(shared_data, tmp_path):
    path = shared_data / "online-retail/online_retail.csv.gz"
    r = run("association-rules", "mine", "--baskets", str(path), "--basket-col", "InvoiceNo", "--item-col", "StockCode",
            "--min-support", "0.02", "--min-confidence", "0.3", "--out", str(tmp_path / "r.json"))
    assert r.returncode == 0, r.stderr
    assert "skipped 3,836 cancelled" in r.stderr
    assert (tmp_path / "r.json").read_text(encoding="utf-8").startswith("[")
    r = run("association-rules", "mine", "--baskets", str(path), "--basket-col", "InvoiceNo", "--item-col", "StockCode",
            "--min-support", "0.001", "--min-confidence", "0.3")
    assert r.returncode == 2 and "too low" in r.stderr and "--max-len" in r.stderr and "Traceback" not in r.stderr


def test_threshold_error_is_raised_before_mining():
    import scipy.sparse as sp

    from bannergen.association import BasketSet

    m = sp.csr_matrix(np.ones((20, 40), dtype=np.float32))  # every basket holds every item: 2^40 itemsets
    with pytest.raises(ThresholdError, match="too low"):
        mine_rules(BasketSet(m, [f"i{k:02d}" for k in range(40)]), 0.5, 0.5)

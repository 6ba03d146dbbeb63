"""Off-policy evaluation over each decision's own candidates, against a simulator's known truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bannergen.cli.main import app
from bannergen.feedback import open_store
from bannergen.ope import ClickModel, estimate, evaluate_policy, join_decisions, simulate
from bannergen.ope.targets import reference_target
from bannergen.selection.kernel import CANDIDATE_COLUMNS, DecisionPolicy

LOGGING = DecisionPolicy("softmax", temperature=0.5)
ITEMS = pd.DataFrame({"item_id": [f"i{j}" for j in range(200)], "category": [f"c{j % 7}" for j in range(200)],
                      "price_band": [f"b{j % 3}" for j in range(200)]})


def candidate_sets(users: int, k: int = 5, seed: int = 0) -> pd.DataFrame:
    """A render's decision log: ``users`` decisions of k scored candidates each."""
    rng = np.random.default_rng(seed)
    d = np.repeat(np.arange(users), k)
    n = users * k
    return pd.DataFrame({
        "decision_id": np.char.add("d", d.astype(str)).astype(object),
        "user_id": np.char.add("u", d.astype(str)).astype(object),
        "position": np.tile(np.arange(k), users),
        "item_id": np.char.add("i", rng.integers(0, 200, n).astype(str)).astype(object),
        "template": np.array(["launch", "price-drop", "spotlight", "carousel"], dtype=object)[rng.integers(0, 4, n)],
        "antecedent_id": "", "score": rng.normal(0, 0.6, n).round(6), "probability": 1.0 / k, "chosen": False,
        "policy": "softmax"}, columns=list(CANDIDATE_COLUMNS))


@pytest.fixture(scope="module")
def softmax_log():
    sim = simulate(candidate_sets(20_000), "softmax", LOGGING, ClickModel(intercept=-3.0, seed=2),
                   impressions_per_user=6, categories=ITEMS, seed=1)
    return sim, join_decisions(sim.events, sim.decisions, sim.banners)


@pytest.mark.parametrize("policy", ["uniform", "greedy"])
def test_reference_policies_from_a_softmax_log_match_their_true_ctr(softmax_log, policy: str) -> None:
    sim, logged = softmax_log
    assert logged.n == 120_000 and logged.unmatched == logged.no_propensity == 0
    truth = sim.true_value(policy, LOGGING)
    result = evaluate_policy(logged, policy, LOGGING, items=ITEMS, n_boot=200)
    for est in (result.ipw, result.snipw, result.dr):
        assert abs(est.estimate - truth) < 0.15 * truth
        assert est.ci_low <= truth <= est.ci_high
    assert 0 < result.ess < result.n and result.unsupported == 0.0


def test_the_logged_policy_has_weights_of_one_and_ipw_equal_to_the_logged_ctr(softmax_log) -> None:
    sim, logged = softmax_log
    result = evaluate_policy(logged, "logged", LOGGING, n_boot=20)
    assert result.ipw.estimate == logged.reward.sum() / logged.n
    assert result.ess == pytest.approx(logged.n)
    assert abs(result.ipw.estimate - sim.true_value("logged", LOGGING)) < 0.05 * result.ipw.estimate


def test_targets_are_distributions_over_each_decisions_own_candidates(softmax_log) -> None:
    _, logged = softmax_log
    target = reference_target(logged, "uniform", LOGGING)
    assert np.allclose(target.sum(axis=1), 1.0)
    assert np.all(target[~logged.listed[logged.decision]] == 0)


def test_estimators_recover_a_known_value_on_a_context_free_log() -> None:
    rng = np.random.default_rng(4)
    n, ctr = 60_000, np.array([0.02, 0.06, 0.12])
    action = rng.integers(0, 3, n)
    reward = (rng.random(n) < ctr[action]).astype(float)
    target = np.tile([0.0, 0.2, 0.8], (n, 1))
    result = estimate("t", action, reward, np.full(n, 1 / 3), target, np.full((n, 3), reward.mean()), n_boot=100)
    truth = target[0] @ ctr
    for est in (result.ipw, result.snipw, result.dr):
        assert abs(est.estimate - truth) < 0.05 * truth and est.ci_low <= truth <= est.ci_high


def _log(rows: list[tuple]) -> pd.DataFrame:
    cols = ["decision_id", "user_id", "position", "item_id", "template", "score", "probability", "chosen", "policy",
            "ts"]
    frame = pd.DataFrame(rows, columns=cols).assign(antecedent_id="", placement="", size="")
    return frame


def _imps(rows: list[tuple]) -> pd.DataFrame:
    cols = ["ts", "user_id", "variant_id", "event", "propensity", "decision_id"]
    return pd.DataFrame(rows, columns=cols).assign(placement="home", policy="softmax")


BANNERS = pd.DataFrame({"variant_id": ["vA", "vB", "vC", "vP"], "item_id": ["a", "b", "c", "p"],
                        "template": ["t", "t", "t", "spot"]})


@pytest.mark.parametrize("text", [object, "str"])  # ids as read from SQLite (object) or built by pandas (str)
def test_impressions_join_by_decision_id_else_the_latest_earlier_decision_listing_their_banner(text) -> None:
    log = _log([("d1", "u1", 0, "a", "t", 1.0, 0.7, True, "softmax", 100),
                ("d1", "u1", 1, "b", "t", 0.5, 0.3, False, "softmax", 100),
                ("d2", "u1", 0, "b", "t", 1.0, 0.6, True, "softmax", 200),
                ("d2", "u1", 1, "c", "t", 0.9, 0.4, False, "softmax", 200),
                ("d3", "u2", 0, "p", "spot", np.nan, 1.0, True, "holdout", 100)])
    events = _imps([(150, "u1", "vB", "impression", 0.3, ""),      # latest earlier decision listing b: d1
                    (250, "u1", "vB", "impression", np.nan, ""),   # d2 now; propensity from the log
                    (260, "u1", "vA", "impression", 0.7, "d1"),    # by id, though d2 is later
                    (50, "u1", "vA", "impression", 0.7, ""),       # before any decision: unmatched
                    (300, "u1", "vC", "impression", 0.4, "d9"),    # unknown id: falls back to time -> d2
                    (300, "u2", "vP", "impression", np.nan, "d3"),
                    (300, "u2", "vX", "impression", 0.5, "")])     # a banner no log knows: unmatched
    events = events.astype({c: text for c in ("user_id", "variant_id", "decision_id", "placement")})
    logged = join_decisions(events, log.astype({"user_id": object, "item_id": object}), BANNERS)
    assert logged.decision_ids[logged.decision].tolist() == ["d1", "d2", "d1", "d2", "d3"]
    assert logged.action.tolist() == [1, 0, 0, 1, 0]
    assert logged.pscore.tolist() == [0.3, 0.6, 0.7, 0.4, 1.0]
    assert (logged.unmatched, logged.no_propensity) == (2, 0)
    # The holdout's fixed banner is kept by every target policy.
    for name in ("uniform", "greedy", "softmax", "thompson"):
        assert reference_target(logged, name, LOGGING)[4, 0] == 1.0


def test_a_greedy_log_cannot_support_uniform_and_says_how_much() -> None:
    log = _log([("d1", "u1", 0, "a", "t", 1.0, 1.0, True, "greedy", 100),
                ("d1", "u1", 1, "b", "t", 0.5, 0.0, False, "greedy", 100)])
    events = _imps([(150 + i, "u1", "vA", "impression", 1.0, "d1") for i in range(10)])
    result = evaluate_policy(join_decisions(events, log, BANNERS), "uniform", LOGGING, n_boot=10)
    assert result.unsupported == pytest.approx(0.5)
    assert any("cannot support 50.00% of the target's mass" in w for w in result.warnings)


# --- the CLI over a project folder ---------------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project whose render logged small candidate sets, with a simulated softmax log ingested."""
    root = tmp_path_factory.mktemp("project")
    (root / "bannergen.toml").write_text("", encoding="utf-8")
    cands = candidate_sets(2_000, k=3, seed=3)
    sim = simulate(cands, "softmax", LOGGING, ClickModel(intercept=-2.5), impressions_per_user=5, seed=5)
    out = root / "out" / "seg"
    (out / "candidates").mkdir(parents=True)
    sim.decisions[list(CANDIDATE_COLUMNS)].to_parquet(out / "candidates" / "c.parquet")
    variants = {v: {"template": t, "item_ids": [i], "size": "1200x400"}
                for v, i, t in sim.banners.itertuples(index=False)}
    (out / "manifest.json").write_text(json.dumps({"generated_at": "2026-11-28T07:00:00+00:00", "variants": variants,
                                                   "candidates": {"parquet": "candidates/c.parquet"}}))
    with open_store(root / ".bannergen" / "feedback.sqlite") as store:
        store.add(sim.events)
    return root


def _run(project: Path, *args: str):
    """``bannergen --project PROJECT feedback evaluate ARGS`` in process."""
    return CliRunner().invoke(app, ["--project", str(project), "feedback", "evaluate", *args])


def test_cli_evaluates_reference_policies_and_a_target_file(project: Path, tmp_path: Path) -> None:
    res = _run(project, "--policy", "greedy", "--format", "json", "--boot", "50")
    assert res.exit_code == 0, res.output
    body = json.loads(res.stdout.strip().splitlines()[-1])
    assert body["policy"] == "greedy" and body["n"] == 10_000 and body["unmatched"] == 0
    assert set(body["dr"]) == {"estimate", "ci_low", "ci_high"} and 0 < body["ess"] <= 10_000
    log = pd.read_parquet(project / "out" / "seg" / "candidates" / "c.parquet")
    shown = log[log["chosen"]].merge(pd.read_csv(io_banners(project)), on=["item_id", "template"])
    target = shown.drop_duplicates("decision_id")[["decision_id", "variant_id"]].assign(probability=1.0)
    target.to_csv(tmp_path / "t.csv", index=False)
    res = _run(project, "--target", str(tmp_path / "t.csv"), "--format", "json", "--boot", "20")
    body = json.loads(res.stdout.strip().splitlines()[-1])
    assert res.exit_code == 0 and body["n"] == 10_000 and 0 < body["snipw"]["estimate"] < 1


def io_banners(project: Path) -> Path:
    manifest = json.loads((project / "out" / "seg" / "manifest.json").read_text())
    path = project / "banners.csv"
    pd.DataFrame([(v, m["item_ids"][0], m["template"]) for v, m in manifest["variants"].items()],
                 columns=["variant_id", "item_id", "template"]).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("text, message", [
    ("placement,variant_id,probability\nhome_top,v1,0.5\nhome_top,v2,0.4\n",
     "t.csv:2:probability: the probabilities of placement 'home_top' do not sum to 1; got 0.9; "
     "expected 1 (within 1e-06)"),
    ("placement,variant_id,probability\nhome_top,v1,high\n",
     "t.csv:2:probability: not a probability; got 'high'; expected a number within 0..1"),
    ("variant_id,probability\nv1,1\n",
     "t.csv: columns variant_id, probability; expected placement, variant_id, probability "
     "or decision_id, variant_id, probability"),
])
def test_bad_target_files_exit_2_naming_the_file_and_row(project: Path, tmp_path: Path, text: str,
                                                         message: str) -> None:
    (tmp_path / "t.csv").write_text(text, encoding="utf-8")
    res = _run(project, "--target", str(tmp_path / "t.csv"))
    assert res.exit_code == 2 and message in res.output and "Traceback" not in res.output


def test_target_mass_on_variants_the_log_never_shows_is_reported(project: Path, tmp_path: Path) -> None:
    banners = pd.read_csv(io_banners(project))
    rows = [("home_top", v, 0.7 / len(banners)) for v in banners["variant_id"]] + [("home_top", "never-shown", 0.3)]
    pd.DataFrame(rows, columns=["placement", "variant_id", "probability"]).to_csv(tmp_path / "t.csv", index=False)
    res = _run(project, "--target", str(tmp_path / "t.csv"))
    assert res.exit_code == 0, res.output
    assert "puts 30.00% of its mass on variants the log never shows" in res.output


def test_ingest_flags_decision_ids_no_log_knows(project: Path, tmp_path: Path) -> None:
    log = pd.read_parquet(project / "out" / "seg" / "candidates" / "c.parquet", columns=["decision_id"])
    rows = pd.DataFrame({"event_id": ["x1", "x2", "x3"], "ts": "2026-11-28T09:00:00Z", "user_id": "u1",
                         "variant_id": "v", "event": "impression",
                         "decision_id": [log["decision_id"].iat[0], "nope", ""]})
    rows.to_csv(tmp_path / "e.csv", index=False)
    res = CliRunner().invoke(app, ["--project", str(project), "feedback", "ingest", str(tmp_path / "e.csv"),
                                   "--store", str(tmp_path / "s.sqlite")])
    assert res.exit_code == 0, res.output
    assert "unknown_decision=1 (kept and flagged" in res.stdout
    assert res.stdout.strip().splitlines()[-1] == "accepted=3 duplicate=0 rejected=0"


def test_the_reward_model_and_reference_policies_read_the_project() -> None:
    from bannergen.ope.inputs import item_table, project_policy

    root = Path(__file__).resolve().parents[1]
    items = item_table(root / "examples" / "shop" / "catalog.csv", root / "scoring")
    assert list(items.columns) == ["item_id", "title", "category", "price_band"] and len(items) == 320
    camera = items.set_index("item_id").loc["000103"]
    assert (camera["category"], camera["price_band"]) == ("相机", "1000-3000")
    policy = project_policy(root / "scoring", "thompson", floor=0.05, seed=3)
    assert (policy.name, policy.exploration_floor, policy.seed) == ("thompson", 0.05, 3)
    assert project_policy(None, "softmax").temperature == DecisionPolicy().temperature


def test_the_table_says_what_each_estimate_means_and_when_to_trust_it(project: Path) -> None:
    res = _run(project, "--policy", "greedy", "--boot", "20")
    assert res.exit_code == 0, res.output
    lines = res.stdout.strip().splitlines()
    for name in ("ipw", "snipw", "dr"):
        assert any(x.split()[0] == name and x.rstrip().endswith("]") for x in lines)  # the estimate
        meaning = next(x for x in lines if x.startswith(f"{name}:"))
        assert len(meaning.split()) > 8 and len(meaning) <= 120  # a sentence that fits a terminal
    assert lines[-1].startswith("trust them when ess") and len(lines[-1]) <= 120

"""bannergen.toml and scoring/ files: typos get a 'did you mean', bad values one exact line.

Every test writes its own files under tmp_path: the shipped scoring/*.toml are campaign teams'
to edit, and no test may move with them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from tree_guard import example_project

from bannergen.config import SETTINGS, ServeSettings, load_project
from bannergen.errors import ConfigError, InputError
from bannergen.scorers.settings import (
    BLEND,
    CAMPAIGN_RULES,
    DEFAULT_BLEND,
    WEIGHTS,
    BlendSettings,
    CampaignRules,
    load_blend,
    load_campaign_rules,
    load_scoring,
    load_weights,
)
from bannergen.segments import get_segment, load_segments
from bannergen.selection.kernel import DecisionPolicy
from bannergen.selection.settings import (
    POLICY,
    PolicySettings,
    SelectionSettings,
    load_policy_settings,
    load_selection,
)
from bannergen.settings_doc import settings_files
from bannergen.types import EVENT_TYPES

ROOT = example_project()  # the example project; what tests write stays out of the working tree

LOADERS = {
    "bannergen.toml": lambda path: load_project(path.parent),
    "scoring/weights.toml": load_weights,
    "scoring/policy.toml": load_policy_settings,
    "scoring/campaign_rules.toml": load_campaign_rules,
    "scoring/blend.toml": load_blend,
    "scoring/segments.toml": load_segments,
}

# (file, its text, the exact one-line error). Messages name files relative to the current folder.
INVALID = [
    ("bannergen.toml", "[paths]\ntemplate = 'x'\n",
     "bannergen.toml [paths]: unknown setting 'template' (hint: did you mean 'templates'?)"),
    ("bannergen.toml", "[pahts]\n", "bannergen.toml: unknown setting 'pahts' (hint: did you mean 'paths'?)"),
    ("bannergen.toml", "[render]\nformats = ['gif']\n",
     "bannergen.toml [render]: 'formats' must be some of 'webp', 'png', 'jpg', 'html' (a non-empty list); "
     "got ['gif']"),
    ("bannergen.toml", "[render]\nformats = []\n",
     "bannergen.toml [render]: 'formats' must be some of 'webp', 'png', 'jpg', 'html' (a non-empty list); got []"),
    ("bannergen.toml", "[render]\nwebp_quality = 101\n",
     "bannergen.toml [render]: 'webp_quality' must be an integer within 1..100; got 101"),
    ("bannergen.toml", "[data]\nmax_reject_rate = 'lots'\n",
     "bannergen.toml [data]: 'max_reject_rate' must be a number within 0..1; got 'lots'"),
    ("bannergen.toml", "[data]\ncatalog = 5\n", "bannergen.toml [data]: 'catalog' must be a path (text); got 5"),
    ("bannergen.toml", "paths = 3\n", "bannergen.toml: [paths] must be a table; got 3"),
    ("bannergen.toml", "[serve]\nsign_assets = 'yes'\n",
     "bannergen.toml [serve]: 'sign_assets' must be true or false; got 'yes'"),
    ("bannergen.toml", "[serve]\nmax_events = 0\n",
     "bannergen.toml [serve]: 'max_events' must be an integer >= 1; got 0"),
    ("scoring/policy.toml", "[thompson]\ndraws = 3\n",
     "scoring/policy.toml [thompson]: 'draws' must be an integer within 8..4096; got 3"),
    ("scoring/policy.toml", "[thompson]\ndraws = 64.0\n",
     "scoring/policy.toml [thompson]: 'draws' must be an integer within 8..4096; got 64.0"),
    ("scoring/policy.toml", "[thompson]\nprior_ctr = 1.5\n",
     "scoring/policy.toml [thompson]: 'prior_ctr' must be a number within 1e-06..0.999; got 1.5"),
    ("scoring/policy.toml", "[thompson]\nscope = ''\n",
     "scoring/policy.toml [thompson]: 'scope' must be text of 1..128 characters; got ''"),
    ("scoring/policy.toml", "[thompson]\nscope = 3\n",
     "scoring/policy.toml [thompson]: 'scope' must be text of 1..128 characters; got 3"),
    ("scoring/policy.toml", "[frequency_cap]\nper_user_per_day = -1\n",
     "scoring/policy.toml [frequency_cap]: 'per_user_per_day' must be an integer >= 0; got -1"),
    ("scoring/policy.toml", "[holdout]\nshare = true\n",
     "scoring/policy.toml [holdout]: 'share' must be a number within 0..1; got True"),
    ("scoring/policy.toml", "[holdut]\n",
     "scoring/policy.toml: unknown setting 'holdut' (hint: did you mean 'holdout'?)"),
    ("scoring/policy.toml", "[selection]\npolicy = 'best'\n",
     "scoring/policy.toml [selection]: 'policy' must be one of 'softmax', 'greedy', 'thompson'; got 'best'"),
    ("scoring/policy.toml", "[selection]\ntemperature = 0\n",
     "scoring/policy.toml [selection]: 'temperature' must be a number > 0; got 0"),
    ("scoring/policy.toml", "[selection]\ncandidates = 0\n",
     "scoring/policy.toml [selection]: 'candidates' must be an integer >= 1; got 0"),
    ("scoring/weights.toml", "[event]\nview = 1\n",
     "scoring/weights.toml: unknown setting 'event' (hint: did you mean 'events'?)"),
    ("scoring/weights.toml", "[events]\nveiw = 1\n",
     "scoring/weights.toml [events]: unknown setting 'veiw' (hint: did you mean 'view'?)"),
    ("scoring/weights.toml", "[events]\nview = -1\n",
     "scoring/weights.toml [events]: 'view' must be a number >= 0; got -1"),
    ("scoring/weights.toml", "[decay]\nhalf_life_days = 0\n",
     "scoring/weights.toml [decay]: 'half_life_days' must be a number > 0; got 0"),
    ("scoring/weights.toml", "[session]\nweight = 2\n",
     "scoring/weights.toml [session]: 'weight' must be a number within 0..1; got 2"),
    ("scoring/weights.toml", "[price_bands]\nedges = [100, 50]\n",
     "scoring/weights.toml [price_bands]: 'edges' must be increasing numbers; got [100, 50]"),
    ("scoring/weights.toml", "[search.aliases]\nphone = 3\n",
     "scoring/weights.toml [search.aliases]: must map words to a category or brand name"),
    ("scoring/weights.toml", "[search]\nalias = {}\n",
     "scoring/weights.toml [search]: unknown setting 'alias' (hint: did you mean 'aliases'?)"),
    ("scoring/weights.toml", "[selection]\ntemperature = -1\n",
     "scoring/weights.toml [selection]: 'temperature' must be a number > 0; got -1"),
    ("scoring/campaign_rules.toml", "[filters]\nexclude_out_of_stok = true\n",
     "scoring/campaign_rules.toml [filters]: unknown setting 'exclude_out_of_stok' "
     "(hint: did you mean 'exclude_out_of_stock'?)"),
    ("scoring/campaign_rules.toml", "[filters]\nexclude_out_of_stock = 1\n",
     "scoring/campaign_rules.toml [filters]: 'exclude_out_of_stock' must be true or false; got 1"),
    ("scoring/campaign_rules.toml", "[carousel]\nmin_compared = 2.5\n",
     "scoring/campaign_rules.toml [carousel]: 'min_compared' must be an integer >= 0; got 2.5"),
    ("scoring/campaign_rules.toml", "[[boost]]\nname = 'x'\nadd = 0.1\n",
     "scoring/campaign_rules.toml [[boost]] #1: matches nothing (hint: give brand, category or item_ids)"),
    ("scoring/campaign_rules.toml", "[[boost]]\nbrand = 3\nadd = 0.1\n",
     "scoring/campaign_rules.toml [[boost]] #1: 'brand' must be a name or a list of names; got 3"),
    ("scoring/campaign_rules.toml", "[[boost]]\nbrand = 'x'\n",
     "scoring/campaign_rules.toml [[boost]] #1: 'add' is required (a number)"),
    ("scoring/campaign_rules.toml", "[[boost]]\nbrand = 'x'\nadd = 1\nad = 2\n",
     "scoring/campaign_rules.toml [[boost]] #1: unknown setting 'ad' (hint: did you mean 'add'?)"),
    ("scoring/campaign_rules.toml", "[[pin]]\nsegment = 'fans'\n",
     "scoring/campaign_rules.toml [[pin]] #1: 'item_id' is required (text)"),
    ("scoring/campaign_rules.toml", "boost = 1\n", "scoring/campaign_rules.toml: [[boost]] must be an array of tables; got 1"),
    ("scoring/blend.toml", "[weights]\nease = -1\n",
     "scoring/blend.toml [weights]: 'ease' must be a number >= 0; got -1"),
    ("scoring/blend.toml", "[weights]\neas = 1\n",
     "scoring/blend.toml [weights]: unknown setting 'eas' (hint: did you mean 'ease'?)"),
    ("scoring/blend.toml", "[cold_start]\nfallback = 'random'\n",
     "scoring/blend.toml [cold_start]: 'fallback' must be one of 'popularity', 'popularity_recent'; got 'random'"),
    ("scoring/blend.toml", "[tune]\nk = 0\n", "scoring/blend.toml [tune]: 'k' must be an integer >= 1; got 0"),
    ("scoring/segments.toml", "[fans]\ntop_categroy = '相机'\n",
     "scoring/segments.toml [fans]: unknown setting 'top_categroy' (hint: did you mean 'top_category'?)"),
    ("scoring/segments.toml", "[fans]\nmin_affinity = 'high'\n",
     "scoring/segments.toml [fans]: 'min_affinity' must be a number within 0..1; got 'high'"),
    ("scoring/segments.toml", "[fans]\nmin_purchases = 1.5\n",
     "scoring/segments.toml [fans]: 'min_purchases' must be an integer >= 0; got 1.5"),
    ("scoring/segments.toml", "[fans]\nbrand = [1]\n",
     "scoring/segments.toml [fans]: 'brand' must be a name or a list of names; got [1]"),
    ("scoring/segments.toml", "[all]\nmin_purchases = 1\n",
     "scoring/segments.toml [all]: 'all' is built in and cannot be redefined"),
]


@pytest.mark.parametrize("file, text, message", INVALID, ids=[f"{f}:{t.splitlines()[-1]}" for f, t, _ in INVALID])
def test_invalid_settings_are_one_exact_line(tmp_path, monkeypatch, file, text, message):
    monkeypatch.chdir(tmp_path)
    path = Path(file)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if file == "bannergen.toml":
        path = tmp_path / file
    with pytest.raises(ConfigError) as err:
        LOADERS[file](path)
    assert str(err.value) == message


def test_a_file_outside_the_current_folder_is_named_in_full(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text("[thompson]\ndraws = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="draws") as err:
        load_policy_settings(path)
    assert str(err.value).startswith(f"{path} [thompson]: ")


def test_malformed_toml_names_the_file(tmp_path):
    (tmp_path / "bannergen.toml").write_text("[data\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="bannergen.toml: not valid TOML"):
        load_project(tmp_path)


def test_missing_project_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="bannergen.toml: not found"):
        load_project(tmp_path)


def test_the_repository_is_a_project():
    project = load_project(ROOT)
    assert project.catalog == ROOT / "examples/shop/catalog.csv"
    assert project.formats == ("webp", "png", "html")
    assert project.out_for("camera-fans") == ROOT / "out/camera-fans"


def test_an_empty_project_file_gives_the_table_defaults(tmp_path):
    (tmp_path / "bannergen.toml").write_text("", encoding="utf-8")
    project = load_project(tmp_path)
    assert project.catalog == tmp_path / SETTINGS["data.catalog"]
    assert project.formats == ("webp", "png", "html") and project.sizes == () and project.seed == 20261129
    assert project.mapping_table is None and dict(project.mapping)["cancel_prefix"] == "C"
    assert project.serve.behaviour_store == tmp_path / ".bannergen/behaviour.sqlite"
    assert ServeSettings(behaviour_store=project.serve.behaviour_store) == project.serve


def test_overrides_apply(tmp_path):
    (tmp_path / "bannergen.toml").write_text("[paths]\nout = 'elsewhere'\n", encoding="utf-8")
    project = load_project(tmp_path, {"data.catalog": "/data/c.parquet", "paths.out": None})
    assert project.catalog == Path("/data/c.parquet")
    assert project.out == tmp_path / "elsewhere"


def test_every_default_passes_its_own_row(tmp_path):
    """A default that its own range refuses would make every project without the key fail."""
    for spec in settings_files():
        spec.defaults()
        for row in spec.rows:
            spec[row.key]


def test_records_take_their_defaults_from_the_tables(tmp_path):
    for name in ("policy", "campaign_rules", "blend", "weights"):
        (tmp_path / f"{name}.toml").write_text("", encoding="utf-8")
    assert load_policy_settings(tmp_path / "policy.toml") == PolicySettings() == load_policy_settings(tmp_path / "no")
    assert load_campaign_rules(tmp_path / "campaign_rules.toml") == CampaignRules()
    blend = load_blend(tmp_path / "blend.toml")
    assert blend == BlendSettings(weights={}, params={})
    assert (blend.cold_start, blend.tune, blend.k) == (BLEND["cold_start.fallback"], False, 10)
    assert load_blend(tmp_path / "missing.toml") == DEFAULT_BLEND
    weights, selection = load_weights(tmp_path / "weights.toml")
    assert selection == SelectionSettings() == SelectionSettings("softmax", 0.1, 5)
    assert weights.half_life_days == WEIGHTS["decay.half_life_days"] == 7.0
    assert weights.band_edges == (0.0, 100.0, 300.0, 1000.0, 3000.0, 8000.0)
    assert (weights.session_minutes, weights.session_weight) == (30.0, 0.5)
    assert PolicySettings().draws == POLICY["thompson.draws"] == 64
    assert CampaignRules().carousel_within_days == CAMPAIGN_RULES["carousel.within_days"] == 3.0


def test_event_weights_have_one_row_per_event_type():
    assert [row.name for row in WEIGHTS.rows if row.table == "events"] == list(EVENT_TYPES)


def test_values_are_read_into_the_records(tmp_path):
    (tmp_path / "policy.toml").write_text(
        "[selection]\npolicy = 'thompson'\ntemperature = 0.5\ncandidates = 3\n"
        "[thompson]\nprior_ctr = 0.05\ndraws = 128\nscope = 'home_top'\n"
        "[frequency_cap]\nper_user_per_day = 0\n[holdout]\nshare = 0\ntemplate = 't'\nsalt = 's'\n", encoding="utf-8")
    policy = load_policy_settings(tmp_path / "policy.toml")
    assert policy == PolicySettings(prior_ctr=0.05, draws=128, scope="home_top", cap_per_day=0, holdout_share=0.0,
                                    holdout_template="t", holdout_salt="s")
    assert isinstance(policy.holdout_share, float)
    kernel = policy.decision_policy("thompson", 0.5, seed=7)
    assert isinstance(kernel, DecisionPolicy)
    assert (kernel.prior_ctr, kernel.draws, kernel.cap_per_day) == (0.05, 128, 0)
    (tmp_path / "campaign_rules.toml").write_text(
        "[filters]\nsuppress_purchased_days = 7\n[[boost]]\nbrand = ['a', 'b']\nadd = -0.5\n"
        "[[boost]]\nname = 'sale'\nitem_ids = '1'\nadd = 1\n[[pin]]\nsegment = 'fans'\nitem_id = '9'\n",
        encoding="utf-8")
    rules = load_campaign_rules(tmp_path / "campaign_rules.toml")
    assert rules.suppress_purchased_days == 7.0
    assert [(b.name, b.brands, b.item_ids, b.add) for b in rules.boosts] == [
        ("boost 1", ("a", "b"), (), -0.5), ("sale", (), ("1",), 1.0)]
    assert [(p.segment, p.item_id) for p in rules.pins] == [("fans", "9")]
    (tmp_path / "weights.toml").write_text("[events]\npurchase = 5\n[search.aliases]\nPhone = '手机'\n",
                                           encoding="utf-8")
    weights, selection = load_weights(tmp_path / "weights.toml")
    assert weights.event_weights == {"view": 0.0, "search": 0.0, "cart": 0.0, "purchase": 5.0}
    assert weights.aliases == {"phone": "手机"}
    assert selection == SelectionSettings("thompson", 0.5, 3)


# -- [selection]: scoring/policy.toml, and scoring/weights.toml for one release ----------------------------------

def scoring_dir(tmp_path: Path, weights: str = "", policy: str | None = None) -> Path:
    folder = tmp_path / "scoring"
    folder.mkdir()
    (folder / "weights.toml").write_text(weights, encoding="utf-8")
    (folder / "campaign_rules.toml").write_text("", encoding="utf-8")
    if policy is not None:
        (folder / "policy.toml").write_text(policy, encoding="utf-8")
    return folder


def test_selection_is_read_from_policy_toml(tmp_path, caplog):
    folder = scoring_dir(tmp_path, policy="[selection]\npolicy = 'greedy'\ncandidates = 2\n")
    with caplog.at_level(logging.WARNING):
        settings = load_scoring(folder)
    assert settings.selection == SelectionSettings("greedy", 0.1, 2)
    assert not caplog.records


def test_selection_in_weights_toml_is_still_read_with_a_warning(tmp_path, caplog):
    folder = scoring_dir(tmp_path, weights="[selection]\npolicy = 'thompson'\ntemperature = 0.2\n",
                         policy="[thompson]\ndraws = 16\n")
    with caplog.at_level(logging.WARNING, logger="bannergen.selection.settings"):
        settings = load_scoring(folder)
    assert settings.selection == SelectionSettings("thompson", 0.2, 5)
    assert load_policy_settings(folder / "policy.toml").draws == 16
    [record] = caplog.records
    assert str(folder / "weights.toml") in record.getMessage() and str(folder / "policy.toml") in record.getMessage()
    assert "deprecated" in record.getMessage()


def test_selection_in_weights_toml_without_policy_toml(tmp_path, caplog):
    folder = scoring_dir(tmp_path, weights="[selection]\ncandidates = 7\n")
    with caplog.at_level(logging.WARNING, logger="bannergen.selection.settings"):
        assert load_selection(folder / "policy.toml", folder / "weights.toml").candidates == 7
    assert len(caplog.records) == 1


def test_selection_in_both_files_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = scoring_dir(tmp_path, weights="[selection]\ntemperature = 0.2\n",
                         policy="[selection]\npolicy = 'greedy'\n")
    with pytest.raises(ConfigError) as err:
        load_scoring(folder)
    assert str(err.value) == (
        "scoring/weights.toml [selection] and scoring/policy.toml [selection] both set the selection "
        "(hint: keep [selection] in scoring/policy.toml only and delete it from scoring/weights.toml)"
    )


# -- scoring/campaign_rules.toml, and scoring/rules.toml for one release ------------------------------------------

def test_campaign_rules_are_read_from_campaign_rules_toml(tmp_path, caplog):
    folder = scoring_dir(tmp_path)
    (folder / "campaign_rules.toml").write_text("[filters]\nmin_discount_pct = 5\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert load_scoring(folder).campaign_rules == CampaignRules(min_discount_pct=5.0)
    assert not caplog.records


def test_rules_toml_is_still_read_with_a_warning(tmp_path, caplog):
    folder = scoring_dir(tmp_path)
    (folder / "campaign_rules.toml").unlink()
    (folder / "rules.toml").write_text("[[pin]]\nsegment = 'fans'\nitem_id = '9'\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="bannergen.scorers.settings"):
        settings = load_scoring(folder)
    assert [(p.segment, p.item_id) for p in settings.campaign_rules.pins] == [("fans", "9")]
    [record] = caplog.records
    message = record.getMessage()
    assert str(folder / "rules.toml") in message and str(folder / "campaign_rules.toml") in message
    assert "deprecated" in message


def test_rules_toml_and_campaign_rules_toml_both_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = scoring_dir(tmp_path)
    (folder / "rules.toml").write_text("", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_scoring(folder)
    assert str(err.value) == (
        "scoring/rules.toml and scoring/campaign_rules.toml both set the campaign rules "
        "(hint: keep scoring/campaign_rules.toml only and delete scoring/rules.toml)"
    )


# -- blend.toml: the association-rules scorer, once "rules" ------------------------------------------------------

def test_association_rules_scorer_by_its_name(tmp_path, caplog):
    path = tmp_path / "blend.toml"
    path.write_text("[weights]\nassociation_rules = 0.1\n[scorers.association_rules]\nmin_support = 0.01\n",
                    encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        blend = load_blend(path)
    assert blend.weights == {"association_rules": 0.1}
    assert blend.params == {"association_rules": {"min_support": 0.01}}
    assert not caplog.records


def test_the_old_scorer_name_rules_is_still_read_with_warnings(tmp_path, caplog, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("blend.toml").write_text("[weights]\ncontent = 1\nrules = 0.1\n[scorers.rules]\nmin_support = 0.01\n",
                                  encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="bannergen.scorers.settings"):
        blend = load_blend(Path("blend.toml"))
    assert blend.weights == {"content": 1.0, "association_rules": 0.1}
    assert blend.params == {"association_rules": {"min_support": 0.01}}
    assert [r.getMessage() for r in caplog.records] == [
        "blend.toml [weights]: 'rules' is deprecated and read for this release only: rename it to 'association_rules'",
        "blend.toml: [scorers.rules] is deprecated and read for this release only: rename it to "
        "[scorers.association_rules]",
    ]


@pytest.mark.parametrize("text, message", [
    ("[weights]\nrules = 0.1\nassociation_rules = 0.2\n",
     "blend.toml [weights]: 'rules' and 'association_rules' both set the association_rules scorer "
     "(hint: keep 'association_rules' only and delete 'rules')"),
    ("[scorers.rules]\nmin_support = 0.01\n[scorers.association_rules]\nmin_support = 0.02\n",
     "blend.toml: [scorers.rules] and [scorers.association_rules] both set the association_rules scorer "
     "(hint: keep [scorers.association_rules] only and delete [scorers.rules])"),
])
def test_the_old_and_the_new_scorer_name_both_is_an_error(tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    Path("blend.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_blend(Path("blend.toml"))
    assert str(err.value) == message


# -- scoring/segments.toml -------------------------------------------------------------------------------------

def test_segments_file(tmp_path):
    path = tmp_path / "segments.toml"
    path.write_text(
        "[camera-fans]\ndescription = 'cameras'\ntop_category = '相机'\nmin_affinity = 0.3\n"
        "[big-spenders]\nmin_purchases = 2\nprice_band = ['3000-8000', '8000+']\n", encoding="utf-8")
    segments = load_segments(path)
    assert set(segments) == {"all", "camera-fans", "big-spenders"}
    assert segments["camera-fans"].description == "cameras"
    assert segments["camera-fans"].conditions == {"top_category": ("相机",), "min_affinity": 0.3}
    assert segments["big-spenders"].conditions == {"min_purchases": 2, "price_band": ("3000-8000", "8000+")}
    with pytest.raises(InputError, match="did you mean 'camera-fans'"):
        get_segment(segments, "camera-fan")


def test_a_segment_without_conditions(tmp_path):
    path = tmp_path / "segments.toml"
    path.write_text("[fans]\ndescription = 'x'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[fans\]: has no conditions \(hint: use some of top_category, "):
        load_segments(path)

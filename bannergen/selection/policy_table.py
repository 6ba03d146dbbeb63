"""The rows of scoring/policy.toml: the only place the selection policy's, Thompson sampling's,
the frequency cap's and the holdout's defaults are written. The decision kernel's DecisionPolicy
and the settings records (bannergen.selection.settings) both take their defaults from here."""

from __future__ import annotations

from bannergen.settings_table import Row, SettingsFile, above, at_least, within

POLICIES: tuple[str, ...] = ("softmax", "greedy", "thompson")

POLICY = SettingsFile("scoring/policy.toml", "how a banner is chosen from a user's candidates, how often one user may "
                      "see one banner, and who is held out as the control group", (
    Row("selection.policy", "text", "softmax", "softmax: sample P(A|U,C) = exp(s/t) / sum exp(s/t); greedy: the top "
        "candidate; thompson: Thompson sampling over each banner's feedback ([thompson])", POLICIES),
    Row("selection.temperature", "number", 0.1, "t of the softmax, in units of the score; lower is greedier", above(0)),
    Row("selection.candidates", "integer", 5, "candidate banners per user: the best item of each of the top "
        "categories", at_least(1)),
    Row("thompson.prior_ctr", "number", 0.02, "the CTR a candidate of average score is expected to have before any "
        "feedback", within(1e-6, 0.999)),
    Row("thompson.prior_strength", "number", 50.0, "the prior counts as this many impressions; feedback outweighs it "
        "after that", at_least(0)),
    Row("thompson.exploration_floor", "number", 0.01, "every available candidate keeps at least this probability",
        within(0, 1)),
    Row("thompson.draws", "integer", 64, "common posterior draws per decision (seeded)", within(8, 4096)),
    Row("thompson.scope", "text", "all", "whose feedback counts: \"all\" pools every placement; a placement name "
        "keeps only its own", within(1, 128)),
    Row("frequency_cap.per_user_per_day", "integer", 3, "impressions of one banner (item x template) per user per "
        "UTC day; 0: no cap", at_least(0), field="cap_per_day"),
    Row("holdout.share", "number", 0.05, "share of users (a stable hash of the user id) who always get the default "
        "banner", within(0, 1), field="holdout_share"),
    Row("holdout.template", "text", "product-spotlight", "the default banner: this template over the shop's most "
        "popular in-stock item", field="holdout_template"),
    Row("holdout.salt", "text", "holdout", "salt of the holdout hash; change it to draw a new control group",
        field="holdout_salt"),
))

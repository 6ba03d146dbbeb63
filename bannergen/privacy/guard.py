"""What every load of the shop's events applies before any stage sees them: user ids become
pseudonyms, forgotten users' rows are skipped, and consent is honoured.

Consent comes from the events file's optional ``consent`` column (on any row: ``out`` / ``in``, or
no, yes, false, true, 0, 1, opt-out, opt-in) and from POST /v1/consent. A user whose newest
consent is an opt-out has no events at all (no profile: the non-personalized default banner); a
user who opted in again after an opt-out starts fresh, from the opt-in on.

    >>> guard = PrivacyGuard.of(project)  # doctest: +SKIP
    >>> kept = guard.protect(events)      # doctest: +SKIP
    >>> kept.frame["user_id"].str.startswith("p").all(), kept.raw_ids.head(1)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from bannergen.config import Project
from bannergen.privacy.lists import ConsentRecords, ForgottenList
from bannergen.privacy.pseudonyms import Pseudonymizer, project_pseudonymizer

if TYPE_CHECKING:
    import pandas as pd

CONSENT_COLUMN = "consent"
# What the consent column may say, lower case; "" (or no column) says nothing.
CONSENT_VALUES = {"out": "out", "no": "out", "false": "out", "0": "out", "opt-out": "out", "opt_out": "out",
                  "in": "in", "yes": "in", "true": "in", "1": "in", "opt-in": "in", "opt_in": "in", "": ""}


@dataclass(frozen=True)
class ProtectedEvents:
    """The events frame with pseudonyms (every other column as loaded, ``consent`` dropped), and
    the raw id of each of its users (index: pseudonym), held in memory only: a render writes the raw
    ids into the assignments tables the CMS looks users up in."""

    frame: pd.DataFrame
    raw_ids: pd.Series
    skipped: int  # rows of forgotten or opted-out users


@dataclass(frozen=True)
class PrivacyGuard:
    pseudonyms: Pseudonymizer
    forgotten: frozenset[str] = frozenset()
    consent: pd.DataFrame | None = field(default=None)  # ConsentRecords.frame()

    @classmethod
    def of(cls, project: Project) -> PrivacyGuard:
        """The project's guard (exit 3 without a secret)."""
        return cls(project_pseudonymizer(project), ForgottenList(project.privacy.forgotten).read(),
                   ConsentRecords(project.privacy.consent).frame())

    def protect(self, events: pd.DataFrame) -> ProtectedEvents:
        """``events`` (events frame schema, plus an optional normalized ``consent`` column) with
        pseudonyms, forgotten users and opted-out behaviour left out."""
        import pandas as pd

        codes, uniques = pd.factorize(events["user_id"], sort=False)
        hashed = np.asarray(self.pseudonyms.many(uniques.astype(str)), dtype=object)
        frame = events.assign(user_id=pd.Series(hashed[codes] if len(codes) else hashed[:0], index=events.index,
                                                dtype="str"))
        # Judged per distinct user (a few thousand hashes), then spread to the rows by their codes.
        kept_users = ~np.isin(hashed, np.asarray(sorted(self.forgotten), dtype=object))
        keep = kept_users[codes] if len(codes) else np.ones(0, dtype=bool)
        keep &= self._consented(frame)
        if CONSENT_COLUMN in frame.columns:
            frame = frame.drop(columns=[CONSENT_COLUMN])
        skipped = int((~keep).sum())
        if skipped:
            frame = frame[keep].reset_index(drop=True)
        present = np.unique(codes[keep])
        raw_ids = pd.Series(np.asarray(uniques, dtype=object)[present], index=pd.Index(hashed[present], dtype="str"),
                            dtype="str")
        return ProtectedEvents(frame, raw_ids, skipped)

    def _consented(self, frame: pd.DataFrame) -> np.ndarray:
        """Which rows count: none of a user whose newest consent is an opt-out, and none before the
        newest opt-in of a user who ever opted out."""
        import pandas as pd

        ts = frame["ts"].dt.tz_convert(None).to_numpy("datetime64[us]").view(np.int64)
        changes = []
        if CONSENT_COLUMN in frame.columns:
            said = frame[CONSENT_COLUMN].to_numpy(dtype=object) != ""
            changes.append(pd.DataFrame({"user_id": frame["user_id"].to_numpy()[said], "ts_us": ts[said],
                                         "consent": frame[CONSENT_COLUMN].to_numpy()[said]}))
        if self.consent is not None and len(self.consent):
            changes.append(self.consent)
        if not changes:
            return np.ones(len(frame), dtype=bool)
        c = pd.concat(changes, ignore_index=True)
        last = c.pivot_table(index="user_id", columns="consent", values="ts_us", aggfunc="max")
        out = last["out"] if "out" in last.columns else pd.Series(dtype="float64")
        into = last["in"].reindex(out.index) if "in" in last.columns else pd.Series(np.nan, index=out.index)
        out = out.dropna()
        into = into.reindex(out.index)
        # Opted out for good: dropped whole; opted in again: kept from the opt-in on.
        start = pd.Series(np.where(into.to_numpy() > out.to_numpy(), into.to_numpy(), np.inf), index=out.index)
        starts = start.reindex(frame["user_id"]).to_numpy(dtype=np.float64)
        return np.isnan(starts) | (ts >= starts)

"""Forget users: every record of them, everywhere bannergen keeps one.

Order matters for a forget cut short (kill -9, power): the pseudonyms go into the forgotten list
first, so from then on no load brings the users back whatever was deleted yet; then each store
deletes their rows in one transaction of its own, the render tables are rewritten, and fitted
models (made with their events) are removed. Running the same forget again finishes the job; an id
bannergen never saw is not an error (0 records).

    >>> report = forget_users(project, ["zhangsan"])  # doctest: +SKIP
    >>> report.line()  # doctest: +SKIP
    'forgot 1 user: 412 records (behaviour 0, decisions 0, ...)'
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from bannergen.config import Project
from bannergen.privacy.lists import ConsentRecords, ForgottenList
from bannergen.privacy.outputs import TablesRewritten, remove_users
from bannergen.privacy.pseudonyms import Pseudonymizer, project_pseudonymizer
from bannergen.store.base import Erased

log = logging.getLogger(__name__)

MODEL_FILES = ("model.json", "model.npz")  # bannergen.scorers.store: json last written, so removed first


@dataclass(frozen=True)
class ForgetReport:
    """What one forget removed."""

    users: int
    store: Erased = field(default_factory=Erased)
    tables: TablesRewritten = field(default_factory=TablesRewritten)
    consent: int = 0
    models_removed: int = 0

    @property
    def records(self) -> int:
        return self.store.total + self.tables.rows + self.consent

    def as_dict(self) -> dict:
        s = self.store
        return {"users": self.users, "records": self.records, "behaviour": s.behaviour, "decisions": s.decisions,
                "decision_candidates": s.candidates, "feedback": s.feedback, "table_rows": self.tables.rows,
                "tables_rewritten": self.tables.tables, "consent": self.consent,
                "models_removed": self.models_removed}

    def line(self) -> str:
        s = self.store
        who = f"{self.users} user" + ("" if self.users == 1 else "s")
        return (f"forgot {who}: {self.records:,} records (behaviour {s.behaviour:,}, decisions {s.decisions:,}, "
                f"decision candidates {s.candidates:,}, feedback {s.feedback:,}, render table rows "
                f"{self.tables.rows:,} in {self.tables.tables} tables, consent {self.consent})"
                + ("; fitted model removed (refitted without them on next use)" if self.models_removed else ""))


def forget_users(project: Project, user_ids: list[str]) -> ForgetReport:
    """Forget raw ``user_ids`` in the project's stores, out folder and .bannergen folder."""
    return forget_pseudonyms(project, project_pseudonymizer(project), user_ids)


def forget_pseudonyms(project: Project, pseudonyms: Pseudonymizer, user_ids: list[str],
                      behaviour=None, feedback=None) -> ForgetReport:
    """As forget_users; ``behaviour`` and ``feedback`` are stores already open in this process (a
    running server's), else the project's are opened for the job and closed."""
    from bannergen.store import is_database_url, open_behaviour_store, open_feedback_store

    raw = sorted(set(user_ids))
    hashed = pseudonyms.many(raw)
    ForgottenList(project.privacy.forgotten).add(hashed)  # first: no later load brings them back
    erased = Erased()
    behaviour_at = project.behaviour_location
    if behaviour is not None or is_database_url(behaviour_at) or Path(behaviour_at).exists():
        store = behaviour or open_behaviour_store(behaviour_at)
        try:
            erased += store.forget(hashed)
        finally:
            if behaviour is None:
                store.close()
    feedback_at = project.feedback_location
    if feedback is not None or is_database_url(feedback_at) or Path(feedback_at).exists():
        fb = feedback or open_feedback_store(feedback_at)
        try:
            erased += Erased(feedback=fb.forget(hashed))
        finally:
            if feedback is None:
                fb.close()
    consent = ConsentRecords(project.privacy.consent).drop(frozenset(hashed))
    tables = remove_users(project.out, frozenset(raw) | frozenset(hashed))
    models = remove_models(project.models)
    report = ForgetReport(len(raw), erased, tables, consent, models)
    log.info("%s", report.line())
    return report


def remove_models(folder: Path) -> int:
    """Remove the fitted model: its item side was learned with the forgotten users' events (its
    fingerprint covers the forgotten list, so it would not be used again either)."""
    removed = 0
    for name in MODEL_FILES:
        path = folder / name
        if path.exists():
            path.unlink()
            removed = 1
    return removed

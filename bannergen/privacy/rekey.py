"""Re-keying after a secret rotation: every pseudonym made under the old secret is replaced by the
one the new secret gives, offline (no server running on the project).

A pseudonym cannot be turned back into its id, so the ids come from where bannergen still sees
them raw: the shop's events file (read as it is: forgotten users included, so their forgotten-list
entries move too), the assignments tables under out/ when they hold raw ids, and any further ids
the caller names (users known only through the HTTP API). A stored row whose pseudonym matches
none of them keeps the old one and is counted as not re-keyed. The fitted model is removed (its
fingerprint names the secret; it is refitted on next use).

    >>> done = rekey_project(project, old_secret="old")  # doctest: +SKIP
    >>> done.line()  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bannergen.config import Project
from bannergen.errors import InputError
from bannergen.privacy.forget import remove_models
from bannergen.privacy.lists import ConsentRecords, ForgottenList
from bannergen.privacy.outputs import TablesRewritten, rename_users
from bannergen.privacy.pseudonyms import Pseudonymizer, project_pseudonymizer


@dataclass(frozen=True)
class Rekeyed:
    ids: int           # raw ids whose pseudonyms were mapped
    store_rows: int    # store rows moved to the new pseudonyms
    tables: TablesRewritten
    forgotten: int     # forgotten-list entries moved
    consent: int       # consent records moved

    def line(self) -> str:
        return (f"re-keyed {self.ids:,} user ids: {self.store_rows:,} store rows, {self.tables.rows:,} render table "
                f"rows in {self.tables.tables} tables, {self.forgotten} forgotten-list entries, {self.consent} consent "
                "records; fitted model removed (refitted on next use)")


def known_raw_ids(project: Project, extra: list[str]) -> np.ndarray:
    """Every raw user id bannergen can still see: the events file, raw assignments under out/, ``extra``."""
    from bannergen.data.mapping import load_raw_shop

    ids = [load_raw_shop(project, None).events["user_id"].astype(str).unique()]
    for path in Path(project.out).glob("**/assignments/*.parquet"):
        users = pd.read_parquet(path, columns=["user_id"])["user_id"].astype(str)
        ids.append(users[~users.str.fullmatch(r"p[0-9a-f]{24}")].unique())
    ids.append(np.asarray(extra, dtype=object))
    return np.unique(np.concatenate([np.asarray(i, dtype=object) for i in ids]).astype(str))


def rekey_project(project: Project, old_secret: str, extra_ids: list[str] | None = None) -> Rekeyed:
    """Move every pseudonym made under ``old_secret`` to the project's current secret."""
    new = project_pseudonymizer(project)
    old = Pseudonymizer.from_secret(old_secret)
    if old.key == new.key:
        raise InputError("the old secret is the project's current one: nothing to re-key",
                         hint="set BANNERGEN_SECRET (or [privacy] secret) to the new secret first")
    raw = known_raw_ids(project, extra_ids or [])
    mapping = pd.Series(new.many(raw), index=pd.Index(old.many(raw), dtype="str"), dtype="str")
    pairs = list(zip(mapping.to_numpy().tolist(), mapping.index.tolist()))
    store_rows = _rekey_stores(project, pairs)
    tables = rename_users(project.out, mapping)
    forgotten_list = ForgottenList(project.privacy.forgotten)
    entries = forgotten_list.read()
    moved = {mapping.get(p, p) for p in entries}
    forgotten_list.replace(moved)
    consent = ConsentRecords(project.privacy.consent)
    records = consent.frame()
    hits = records["user_id"].isin(mapping.index)
    if hits.any():
        records["user_id"] = records["user_id"].map(mapping).fillna(records["user_id"])
        consent.path.unlink()
        consent.add(records.itertuples(index=False, name=None))
    remove_models(project.models)
    return Rekeyed(len(raw), store_rows, tables, len(entries & set(mapping.index)), int(hits.sum()))


def _rekey_stores(project: Project, pairs: list[tuple[str, str]]) -> int:
    from bannergen.store import is_database_url, open_behaviour_store, open_feedback_store

    changed = 0
    if is_database_url(project.behaviour_location) or Path(project.behaviour_location).exists():
        store = open_behaviour_store(project.behaviour_location)
        try:
            changed += store.rekey(pairs)
        finally:
            store.close()
    if is_database_url(project.feedback_location) or Path(project.feedback_location).exists():
        with open_feedback_store(project.feedback_location) as feedback:
            changed += feedback.rekey(pairs)
    return changed

"""Retention: behaviour events and logged decisions older than ``[privacy] retention_days`` are
dropped by ``bannergen compact``, and by a running server once a day.

The decision logs of renders under out/ are the CMS's record of what it was told and are replaced
by the next render; the retention applies to what the stores accumulate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from bannergen.config import Project
from bannergen.store.base import BehaviourStore, Erased

DAY_US = 86_400 * 1_000_000


@dataclass(frozen=True)
class Compacted:
    retention_days: int
    before_us: int
    erased: Erased

    def line(self) -> str:
        if not self.retention_days:
            return "retention_days is 0 (keep everything): nothing dropped"
        cut = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(self.before_us / 1e6))
        e = self.erased
        return (f"dropped rows older than {self.retention_days} days (before {cut}): behaviour {e.behaviour:,}, "
                f"decisions {e.decisions:,}, decision candidates {e.candidates:,}")


def compact_store(store: BehaviourStore, retention_days: int, now_us: int | None = None) -> Compacted:
    """Drop what ``store`` holds older than ``retention_days`` (0: nothing)."""
    now_us = time.time_ns() // 1000 if now_us is None else now_us
    before = now_us - retention_days * DAY_US
    erased = store.compact(before) if retention_days > 0 else Erased()
    return Compacted(retention_days, before, erased)


def compact_project(project: Project, now_us: int | None = None) -> Compacted:
    """``bannergen compact``: the project's behaviour store under its retention."""
    from bannergen.store import is_database_url, open_behaviour_store

    days = project.privacy.retention_days
    location = project.behaviour_location
    if not days or not (is_database_url(location) or Path(location).exists()):
        return compact_store_absent(days, now_us)
    store = open_behaviour_store(location)
    try:
        return compact_store(store, days, now_us)
    finally:
        store.close()


def compact_store_absent(days: int, now_us: int | None) -> Compacted:
    now_us = time.time_ns() // 1000 if now_us is None else now_us
    return Compacted(days, now_us - days * DAY_US, Erased())

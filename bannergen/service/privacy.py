"""POST /v1/forget and POST /v1/consent: the service's side of bannergen.privacy.

Both take raw user ids in the body (never in a URL) and hash them on entry. A forget runs the
project's forget (forgotten list first, then the stores this server has open, the render tables,
the fitted model) on the writer thread, which owns the store connections, then drops the users
from this server's memory: candidates, kept decisions, live events, decisions not yet written and
today's impression counts. An opt-out does the same to the user's stored behaviour and decisions
and records the opt-out; from then on their events are not stored and they get the default banner.
An opt-in records itself; the user starts fresh from their next event.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from bannergen.privacy.forget import forget_pseudonyms
from bannergen.privacy.lists import ConsentRecords, ForgottenList
from bannergen.privacy.retention import compact_store

if TYPE_CHECKING:
    from bannergen.service.core import Service

log = logging.getLogger(__name__)

MAX_FORGET = 1000
PSEUDONYMS_KEPT = 100_000  # raw id -> pseudonym of recent requests (about 20 MB at most)
DAY_S = 86_400


class ForgetRequest(BaseModel):
    """Users to forget: every record of them is removed."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"user_ids": ["zhangsan"]}]})

    user_ids: list[str] = Field(min_length=1, max_length=MAX_FORGET, description="the shop's user ids")


class Forgotten(BaseModel):
    users: int
    records: int = Field(description="rows removed from the stores, render tables and consent records")


class ConsentRequest(BaseModel):
    """A user's consent to personalization changed."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"user_id": "zhangsan", "consent": "out"}]})

    user_id: str = Field(min_length=1, max_length=256, description="the shop's user id")
    consent: Literal["in", "out"] = Field(description="out: no personalization, behaviour not stored; in: again")


class ConsentRecorded(BaseModel):
    user_id: str
    consent: Literal["in", "out"]
    records: int = Field(description="stored rows of the user removed (an opt-out)")


class ServicePrivacy:
    """Forget, consent and the daily retention for one Service."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.consent = ConsentRecords(service.project.privacy.consent)
        self.opted_out: set[str] = set(self.consent.opted_out())  # pseudonyms
        self.forgotten = ForgottenList(service.project.privacy.forgotten)
        self._forgotten_seen = self.forgotten.read()
        self._files_seen = self._files_stamp()
        self.last_compaction = 0.0
        self._pseudonyms: dict[str, str] = {}

    def _files_stamp(self) -> tuple:
        return tuple(_stat(path) for path in (self.forgotten.path, self.consent.path))

    def follow_files(self) -> None:
        """Apply the forgets and consent changes another worker of this server took (writer thread).
        The forgotten list and the consent records are files every worker on this machine reads: a
        change of either drops the newly forgotten and opted-out users from this process's memory."""
        stamp = self._files_stamp()
        if stamp == self._files_seen:
            return
        self._files_seen = stamp
        forgotten = self.forgotten.read()
        opted_out = set(self.consent.opted_out())
        gone = (forgotten - self._forgotten_seen) | (opted_out - self.opted_out)
        self._forgotten_seen, self.opted_out = forgotten, opted_out - forgotten
        if gone:
            self._drop_from_memory(set(gone))

    def pseudonym(self, user_id: str) -> str:
        """The pseudonym of ``user_id``; the last PSEUDONYMS_KEPT are kept, since the same users come
        back page after page and an HMAC per request was a visible share of a decision's CPU."""
        known = self._pseudonyms.get(user_id)
        if known is None:
            known = self._pseudonyms[user_id] = self.service.engine.pseudonyms.one(user_id)
            if len(self._pseudonyms) > PSEUDONYMS_KEPT:
                self._pseudonyms.pop(next(iter(self._pseudonyms)), None)  # the oldest entry
        return known

    async def forget(self, request: ForgetRequest) -> dict:
        s = self.service
        return await asyncio.wrap_future(s.writer.submit(self._forget, list(dict.fromkeys(request.user_ids))))

    def _forget(self, user_ids: list[str]) -> dict:
        s = self.service
        hashed = set(s.engine.pseudonyms.many(user_ids))
        self._drop_from_memory(hashed)  # first: nothing of theirs is written after the stores are cleared
        report = forget_pseudonyms(s.project, s.engine.pseudonyms, user_ids, behaviour=s.behaviour,
                                   feedback=s.engine.store)
        self.opted_out -= hashed
        return {"users": report.users, "records": report.records}

    async def set_consent(self, request: ConsentRequest) -> dict:
        return await asyncio.wrap_future(self.service.writer.submit(self._set_consent, request.user_id,
                                                                    request.consent))

    def _set_consent(self, user_id: str, consent: str) -> dict:
        s = self.service
        pseudonym = self.pseudonym(user_id)
        self.consent.add([(pseudonym, time.time_ns() // 1000, consent)])
        records = 0
        if consent == "out":
            self.opted_out.add(pseudonym)
            self._drop_from_memory({pseudonym})
            records = s.behaviour.forget([pseudonym]).total
        else:
            self.opted_out.discard(pseudonym)
        return {"user_id": user_id, "consent": consent, "records": records}

    def _drop_from_memory(self, pseudonyms: set[str]) -> None:
        """Everything this process holds of these users (writer thread)."""
        s = self.service
        state = s.state
        for user in pseudonyms:
            state.users.pop(user, None)
            state.uniforms.pop(user, None)
        for key in [k for k in list(state._kept) if k[0] in pseudonyms]:
            state._kept.pop(key, None)
        s.rescorer.drop_users(pseudonyms)
        for decision_id in [d for d, v in list(s.recent.items()) if v[0] in pseudonyms]:
            s.recent.pop(decision_id, None)
        gone = {row[0] for row in s.pending_log if row[2] in pseudonyms}
        s.pending_log = [row for row in s.pending_log if row[2] not in pseudonyms]
        s.pending_candidates = [row for row in s.pending_candidates if row[0] not in gone]
        view = s.engine.feedback
        for key in [k for k in list(view.today) if k[0] in pseudonyms]:
            view.today.pop(key, None)
        for user in pseudonyms:
            view.user_today.pop(user, None)
        for raw in [raw for raw, user in list(self._pseudonyms.items()) if user in pseudonyms]:
            self._pseudonyms.pop(raw, None)  # the raw id too, not only what it stood for

    def compaction_due(self) -> bool:
        """Whether a day has passed since the last compaction (the first: at start-up)."""
        return bool(self.service.project.privacy.retention_days) and time.time() - self.last_compaction >= DAY_S

    def compact(self) -> None:
        """Drop rows past the retention (writer thread)."""
        self.last_compaction = time.time()
        done = compact_store(self.service.behaviour, self.service.project.privacy.retention_days)
        log.info("retention: %s", done.line())


def _stat(path: Path) -> tuple[int, int, int] | None:
    """What changes when a file is replaced (atomic writes make a new inode); None when missing."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino

"""Several serving processes, one state: each process applies what the others commit to the store.

Every process answers decisions from memory, and commits the events posted to it before its 202.
The follower polls the store's commit sequence (SQLite's rowid, PostgreSQL's ``seq``) a few
times a second and feeds the rows committed since its last poll, minus the ones this process
committed itself (already applied in process), into the same in-memory updates a local commit
goes through: feedback counts and today's impressions (Thompson and the frequency cap) in the
FeedbackView, behaviour events through the rescorer. So a view or a click posted to any process
changes the next decision of every process within one poll interval, and a cap counts impressions
served by every process.

Writers of both backends commit in sequence order (SQLite's single writer, PostgreSQL's advisory
lock), so a row is never committed behind a sequence number the follower has passed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bannergen.errors import EnvironmentFailure
from bannergen.feedback.queries import commit_delta
from bannergen.feedback.schema import EVENT_CODES

if TYPE_CHECKING:
    from bannergen.feedback.store import FeedbackStore
    from bannergen.selection.feedback_view import FeedbackView
    from bannergen.store.base import BehaviourEvent, BehaviourStore

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.2


def _others(seq: np.ndarray, own: list[tuple[int, int]]) -> np.ndarray:
    """Mask of the sequence numbers outside every (after, upto] range this process committed."""
    mine = np.zeros(len(seq), dtype=bool)
    for after, upto in own:
        mine |= (seq > after) & (seq <= upto)
    return ~mine


def _prune(own: list[tuple[int, int]], upto: int) -> None:
    """Forget the own ranges the follower has passed (the list is shared with the store)."""
    own[:] = [r for r in own if r[1] > upto]


class StoreFollower:
    """Applies other processes' commits to this process's FeedbackView and users (writer thread only).

    ``start()`` reads where the feedback is now: call it before loading the view, so nothing
    committed meanwhile is missed. A row committed while the view loads is in the loaded counts
    and after the start, so it counts twice in this process (a few events under live traffic; an
    ingest running during a worker's start-up, all it commits meanwhile). ``replay()`` returns
    every stored behaviour event and follows on from the last one exactly."""

    def __init__(self, feedback: FeedbackStore, behaviour: BehaviourStore,
                 on_behaviour: Callable[[list[BehaviourEvent]], object]) -> None:
        self.feedback = feedback
        self.behaviour = behaviour
        self.on_behaviour = on_behaviour
        self.view: FeedbackView | None = None
        self.feedback_seq = 0
        self.behaviour_seq = 0

    def start(self) -> None:
        self.feedback_seq = self.feedback.last_seq()

    def replay(self) -> list[BehaviourEvent]:
        events: list[BehaviourEvent] = []
        while True:
            batch, self.behaviour_seq = self.behaviour.changes_since(self.behaviour_seq)
            if not batch:
                return events
            events.extend(e for _, e in batch)

    def poll(self) -> int:
        """Apply what other processes committed since the last poll; returns how many rows.
        Raises EnvironmentFailure when the store cannot be read (the caller flags degraded)."""
        return self._poll_feedback() + self._poll_behaviour()

    def _poll_feedback(self) -> int:
        rows = self.feedback.changes_since(self.feedback_seq)
        if rows.empty:
            return 0
        own = self.feedback.own_commits
        upto = int(rows["seq"].iloc[-1])
        others = rows[_others(rows["seq"].to_numpy(), own)]
        self.feedback_seq = upto
        _prune(own, upto)
        if others.empty or self.view is None:
            return 0
        counts = others.assign(code=others["event"].map(EVENT_CODES)).groupby(
            ["variant_id", "placement", "code"], sort=False).size()
        rollup = [(v, p, "", int(code), int(n)) for (v, p, code), n in counts.items()]
        self.view.on_commit(commit_delta(rollup))
        now_us = pd.Timestamp.now("UTC").value // 1000
        self.view.note_impressions(others[["user_id", "variant_id", "event", "ts"]], now_us)
        return len(others)

    def _poll_behaviour(self) -> int:
        changes, upto = self.behaviour.changes_since(self.behaviour_seq)
        if not changes:
            return 0
        own = self.behaviour.own_commits
        seqs = np.asarray([seq for seq, _ in changes], dtype=np.int64)
        keep = _others(seqs, own)
        events = [e for (_, e), k in zip(changes, keep.tolist()) if k]
        self.behaviour_seq = upto
        _prune(own, upto)
        if events:
            self.on_behaviour(events)
        return len(events)


class StoreHealth:
    """Whether the store answered the last time serve used it: decisions go on from memory while it
    does not (flagged ``degraded``), event posts get 503, and the next successful poll clears it."""

    def __init__(self) -> None:
        self.problem: str | None = None

    def failed(self, exc: BaseException) -> None:
        if self.problem is None:
            log.warning("store unavailable, serving from memory: %s", exc)
        self.problem = str(exc)

    def answered(self) -> None:
        if self.problem is not None:
            log.warning("store reachable again")
        self.problem = None


def follow_forever(stop: threading.Event, writer: Executor, follower: StoreFollower, health: StoreHealth,
                   interval_s: float = POLL_INTERVAL_S, also: Callable[[], None] | None = None) -> None:
    """Poll the store on the writer thread (which owns the connections) until ``stop`` is set;
    ``also`` runs there after each poll (the service's forgotten list and consent records)."""
    while not stop.wait(interval_s):
        try:
            writer.submit(follower.poll).result()
            if also is not None:
                writer.submit(also).result()
            health.answered()
        except EnvironmentFailure as exc:
            health.failed(exc)
        except RuntimeError:  # the writer was shut down: the service is closing
            return
        except Exception as exc:  # a bug must not stop the follower silently forever
            log.exception("store follower: %s", exc)

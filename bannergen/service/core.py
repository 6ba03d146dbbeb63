"""The service's state and operations, independent of HTTP: decide, take events, render on demand.

    >>> service = Service.start(load_project(Path(".")), keys=("k",))  # doctest: +SKIP
    >>> service.decide_now("zhangsan", "1200x400")  # doctest: +SKIP
    Choice(user_id='zhangsan', ..., policy='softmax', ...)

(decide_now is pure: no I/O.)

Threads: the event loop decides (reads only); one writer thread owns every SQLite connection
(behaviour log, decision log, feedback store) and recomputes users. Variants nobody has rendered
yet are drawn by worker processes (bannergen.service.render_pool), never in this process: a
decision answers at once with the best rendered candidate meanwhile.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime

from bannergen.config import Project
from bannergen.errors import EnvironmentFailure
from bannergen.service.assets import AssetFiles
from bannergen.service.follow import StoreFollower, StoreHealth, follow_forever
from bannergen.service.keys import Signer, api_keys, signing_key
from bannergen.service.metrics import Metrics
from bannergen.service.privacy import ServicePrivacy
from bannergen.service.problems import Problem
from bannergen.service.realtime import UserRescorer
from bannergen.service.render_pool import RenderPool
from bannergen.service.schemas import BEHAVIOUR, DecisionRequest, Event, EventBatch
from bannergen.service.state import Choice, DecisionState, Listed
from bannergen.store import open_behaviour_store
from bannergen.store.base import BehaviourEvent

log = logging.getLogger(__name__)

LIVE_FOLDER = "_live"  # OUT/_live/assets: variants the service rendered on demand
MIN_TS_US = 946_684_800_000_000  # 2000-01-01
FUTURE_SKEW_US = 300_000_000
RECENT_DECISIONS = 200_000
RETRY_AFTER_S = 2  # what a 503 for an unreachable store tells the client to wait


def _now_us() -> int:
    return time.time_ns() // 1000


def parse_ts(value: str | float | None, field: str) -> int:
    """Microseconds since the epoch from ISO 8601 text or unix seconds; Problem 422 naming ``field``."""
    if value is None:
        return _now_us()
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or abs(value) > 1e11:
            raise Problem(422, f"{field}: not a unix time in seconds; got {value!r}",
                          [{"field": field, "message": "not a unix time"}])
        us = int(value * 1_000_000)
    else:
        try:
            parsed = datetime.fromisoformat(value.strip())
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            us = int(parsed.timestamp() * 1_000_000)
        except (ValueError, OverflowError):
            raise Problem(422, f"{field}: not a timestamp; got {value[:40]!r}; "
                          "expected ISO 8601, e.g. 2026-11-29T08:00:00Z",
                          [{"field": field, "message": "not an ISO 8601 timestamp"}]) from None
    if not MIN_TS_US <= us <= _now_us() + FUTURE_SKEW_US:
        raise Problem(422, f"{field}: outside 2000-01-01 .. now + 5 minutes",
                      [{"field": field, "message": "out of range"}])
    return us


def new_decision_id() -> str:
    """``d`` + 13 hex digits of the time in microseconds + 7 random: unique across workers, and in
    time order, so the decision log's indexes grow at their right edge (random ids scattered each
    insert over the whole index: twice the CPU per logged decision)."""
    return f"d{time.time_ns() // 1000:013x}{os.urandom(4).hex()[:7]}"


class Service:
    """Everything the HTTP app needs, built once at start-up (a few seconds on the example shop)."""

    def __init__(self, project: Project, *, keys: tuple[str, ...] | None = None, signer: Signer | None = None,
                 engine=None) -> None:
        from bannergen.pipeline import Engine

        self.project = project
        self.settings = project.serve
        self.keys = api_keys(self.settings.api_key) if keys is None else keys
        if signer is None and self.settings.sign_assets:
            signer = Signer(signing_key(self.settings.signing_key), self.settings.signed_url_ttl_s)
        self.signer = signer
        self.engine = engine or Engine(project)
        self.metrics = Metrics()
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="bannergen-writer")
        self.live_out = project.out / LIVE_FOLDER
        # Started first: its worker imports the renderer while this process builds the state.
        self.render_pool = RenderPool(self.engine.renderer_options(), self.live_out,
                                      workers=self.settings.render_workers, on_done=self._rendered,
                                      on_error=lambda _vid, exc: self.fault("render-error", exc))
        render_workers_up = self.render_pool.start()
        self.recent: OrderedDict[str, tuple] = OrderedDict()  # decision id -> (user, placement, variant, policy, p)
        self.pending_log: list[tuple] = []
        self.pending_candidates: list[tuple] = []
        self.last_fault: tuple[float, str] | None = None
        self.store_health = StoreHealth()
        self._stop_following = threading.Event()
        self.privacy = ServicePrivacy(self)  # user ids are hashed on entry; forget, consent, retention
        self.writer.submit(self._load).result()
        # Other processes serving the same store: their commits reach this one within a poll.
        threading.Thread(target=follow_forever, args=(self._stop_following, self.writer, self.follower,
                                                      self.store_health),
                         kwargs={"also": self.privacy.follow_files}, name="bannergen-follow", daemon=True).start()
        render_workers_up.result()

    @classmethod
    def start(cls, project: Project, **kwargs) -> Service:
        return cls(project, **kwargs)

    def _load(self) -> None:
        """Runs on the writer thread, so the SQLite connections it opens belong to that thread."""
        engine = self.engine
        started = time.perf_counter()
        self.state = DecisionState.build(engine)
        self.behaviour = open_behaviour_store(self.project.behaviour_location)
        self.rescorer = UserRescorer(engine.model, engine.shop.events, engine.policy_settings, engine.segments)
        self.follower = StoreFollower(engine.store, self.behaviour, self._apply_behaviour)
        self.follower.start()  # before the view loads: nothing committed meanwhile is missed
        self.follower.view = engine.feedback  # load the view (and open the store) on this thread
        replay = self.follower.replay()
        if replay:
            touched = self.rescorer.add_live(replay)
            self.state.update_users(self.rescorer.rescore(touched))
        self.assets = AssetFiles(self.project.out, extra=(self.live_out / "assets",))
        self._credit_variants()
        templates = self.state.model.templates
        self.formats = {t: engine.renderer.formats_for(templates[t]) for t in range(len(templates))}
        log.info("service ready: %d users, %d variant ids, %d replayed events, %.1fs", len(self.state.users),
                 len(self.state.variants), len(replay), time.perf_counter() - started)

    def _credit_variants(self) -> None:
        """Feedback on any variant the service may serve (rendered by it or not) counts for its banner."""
        import pandas as pd

        known = set(self.engine.feedback.variants["variant_id"])
        rows = [(vid, self.state.template_ids[t], str(self.state.item_ids[i]))
                for (i, t, _a, _size), vid in list(self.state.variants.items()) if vid not in known]
        if rows:
            self.engine.feedback.add_variants(pd.DataFrame(rows, columns=["variant_id", "template", "item_id"]))

    def close(self) -> None:
        self._stop_following.set()
        self.flush_decisions()
        self.writer.submit(self.behaviour.close).result()
        self.writer.shutdown(wait=True)
        self.render_pool.close()

    # -- decisions ---------------------------------------------------------------------------------
    def warm(self, seconds: float = 2.0) -> int:
        """Decide for known users at each size a render draws, for up to ``seconds``, before the
        server says it is ready: the first requests then find kept decisions and warm code paths,
        as later ones do. Nothing is logged (these decisions are not served). Returns how many."""
        sizes = [s for s in (self.project.sizes or self.state.sizes) if s in self.state.renders]
        deadline = time.perf_counter() + seconds
        made = 0
        for user in list(self.state.users):
            for size in sizes:
                self.state.decide(user, size)
                made += 1
            if time.perf_counter() > deadline:
                break
        return made

    def fault(self, reason: str, exc: BaseException | None = None) -> None:
        self.metrics.fallbacks[reason] += 1
        self.last_fault = (time.time(), reason)
        if exc is not None:
            log.error("decision fault (%s): %s", reason, exc, exc_info=exc)

    def decide_now(self, user_id: str, size: str) -> Choice | None:
        """The policy's choice, or the default when scoring fails or overruns its budget."""
        start = time.perf_counter()
        try:
            choice = self.state.decide(user_id, size)
        except Exception as exc:  # never an error page for the CMS
            self.fault("error", exc)
            return self.state.default_choice(user_id, "default", "热门推荐", user_id in self.state.users)
        if (time.perf_counter() - start) * 1000 > self.settings.decision_budget_ms:
            self.fault("budget")
            return self.state.default_choice(user_id, "default", "热门推荐", user_id in self.state.users)
        return choice

    def decide(self, request: DecisionRequest) -> dict:
        """The answer to POST /v1/decisions (Problem 422 for a size no template renders). Never
        waits for a render: a chosen variant not on disk yet is queued for the render pool and a
        rendered candidate stands in (``fallback`` "not-rendered")."""
        if request.size not in self.state.sizes:
            raise Problem(422, f"body.size: no template renders {request.size}; sizes: {', '.join(self.state.sizes)}",
                          [{"field": "body.size", "message": f"expected one of {self.state.sizes}"}])
        choice = self.decide_now(self.privacy.pseudonym(request.user_id), request.size)
        fallback = None
        if choice is None:
            raise Problem(503, "no banner can be shown: no item is allowed by the rules")
        if not choice.known:
            fallback = "unknown-user"
            self.metrics.fallbacks["unknown-user"] += 1
        elif choice.policy == "default":
            fallback = "no-candidate"
        variant_id = self.state.variants.get((*choice.banner, request.size))
        if variant_id is None:  # a banner not precomputed (cannot happen for candidates; defensive)
            self.state.variant_ids_for({choice.banner})
            variant_id = self.state.variants[(*choice.banner, request.size)]
        rendered = self.assets.has(variant_id)
        if not rendered:
            self._render_later(choice.banner, request.size, variant_id)
            self.metrics.fallbacks["not-rendered"] += 1
            stand_in = self._best_cached(choice, request.size)
            if stand_in is not None:
                choice, variant_id, rendered, fallback = stand_in[0], stand_in[1], True, "not-rendered"
            else:  # nothing of this decision is on disk: its own banner, with rendered false
                fallback = fallback or "not-rendered"
        self.metrics.decisions[choice.policy] += 1
        decision_id = new_decision_id()
        size2 = self.state.double(choice.template, request.size)
        variant2 = self.state.variants.get((*choice.banner, size2)) if size2 else None
        if size2 and variant2 and not self.assets.has(variant2):
            self._render_later(choice.banner, size2, variant2)
        formats = self.formats[choice.template]
        images = [f for f in formats if f != "html"]
        self._log_decision(decision_id, choice, request, variant_id)
        answer: dict[str, object] = {
            "decision_id": decision_id,
            "variant_id": variant_id,
            "item_id": choice.item_id,
            "template": choice.template_id,
            "size": request.size,
            "placement": request.placement,
            "assets": {f: self.url(f"/assets/{variant_id}.{f}") for f in images},
            "assets_2x": {f: self.url(f"/assets/{variant2}.{f}") for f in images} if variant2 else None,
            "html": self.url(f"/assets/{variant_id}.html") if "html" in formats else None,
            "policy": choice.policy,
            "propensity": choice.propensity,
            "score": None if math.isnan(choice.score) else round(choice.score, 6),
            "explanation": choice.explanation,
            "rendered": rendered,
            "fallback": fallback,
            "degraded": self.store_health.problem is not None,
        }
        if request.explain:
            answer["candidates"] = [
                {"position": c.position, "item_id": c.item_id, "template": c.template_id,
                 "antecedent_id": c.antecedent_id, "score": None if math.isnan(c.score) else c.score,
                 "probability": c.probability, "reason": c.reason,
                 "variant_id": self.state.variants.get((c.item, c.template, c.antecedent, request.size))}
                for c in choice.candidates]
        return answer

    def url(self, path: str) -> str:
        return self.signer.sign(path) if self.signer else path

    def _best_cached(self, choice: Choice, size: str) -> tuple[Choice, str] | None:
        """The best other candidate whose variant is on disk, else the default banner if it is."""
        options = [(i, t, a, r, "fallback") for i, t, a, r in choice.ranked]
        if self.state.default is not None:
            options.append((*self.state.default, -1, "热门推荐", "fallback"))
        for item, t, a, reason, policy in options:
            vid = self.state.variants.get((item, t, a, size))
            if vid and self.assets.has(vid):
                # Deterministic given the cache: logged with propensity 1 and its own policy name.
                item_id, template_id = str(self.state.item_ids[item]), self.state.template_ids[t]
                antecedent_id = str(self.state.item_ids[a]) if a >= 0 else ""
                listed = Listed(-1, item, t, a, item_id, template_id, antecedent_id, math.nan, 1.0, reason)
                stand_in = replace(choice, item=item, template=t, antecedent=a, item_id=item_id,
                                   template_id=template_id, score=math.nan, propensity=1.0, policy=policy,
                                   explanation=reason, ranked=(), candidates=(listed,), position=-1)
                return stand_in, vid
        return None

    def _log_decision(self, decision_id: str, choice: Choice, request: DecisionRequest, variant_id: str) -> None:
        """Keep the decision and every candidate it was drawn from (written in batches by the writer)."""
        self.recent[decision_id] = (choice.user_id, request.placement, variant_id, choice.policy, choice.propensity)
        if len(self.recent) > RECENT_DECISIONS:
            self.recent.popitem(last=False)
        self.pending_log.append((decision_id, _now_us(), choice.user_id, request.placement, request.size, variant_id,
                                 choice.item_id, choice.template_id, choice.policy, choice.propensity,
                                 None if math.isnan(choice.score) else choice.score, choice.explanation))
        self.pending_candidates.extend(
            (decision_id, c.position, c.item_id, c.template_id, c.antecedent_id,
             None if math.isnan(c.score) else c.score, c.probability, int(c.position == choice.position))
            for c in choice.candidates)

    def flush_decisions(self) -> Future | None:
        rows, self.pending_log = self.pending_log, []
        candidates, self.pending_candidates = self.pending_candidates, []
        if rows:
            return self.writer.submit(self._write_decisions, rows, candidates)
        return None

    def _write_decisions(self, rows: list[tuple], candidates: list[tuple]) -> None:
        """Write a batch of the decision log (writer thread); while the store is down the batch
        waits in memory for the next flush, up to RECENT_DECISIONS decisions."""
        try:
            self.behaviour.log_decisions(rows, candidates)
        except EnvironmentFailure as exc:
            self.store_health.failed(exc)
            if len(self.pending_log) + len(rows) <= RECENT_DECISIONS:
                self.pending_log[:0], self.pending_candidates[:0] = rows, candidates

    # -- rendering on demand -----------------------------------------------------------------------
    def _render_later(self, banner: tuple[int, int, int], size: str, variant_id: str) -> None:
        """Queue (item, template, antecedent) at ``size`` for the render pool, once per variant."""
        if variant_id not in self.render_pool.pending:
            item, template, antecedent = banner
            self.render_pool.submit(variant_id, self.state.spec(item, template, size, antecedent))

    def _rendered(self, variant_id: str) -> None:
        self.assets.note(variant_id)

    # -- events ------------------------------------------------------------------------------------
    async def accept_events(self, batch: EventBatch) -> dict:
        """The answer to POST /v1/events: check the batch (Problem 413 or 422 naming the field),
        commit it on the writer thread and count what happened."""
        limit = self.settings.max_events
        if len(batch.events) > limit:
            raise Problem(413, f"{len(batch.events)} events in one request; the limit is {limit}",
                          [{"field": "body.events", "message": f"at most {limit} events"}])
        behaviour, feedback = self.check_events(batch.events)
        return await asyncio.wrap_future(self.writer.submit(self.take_events, behaviour, feedback))

    def check_events(self, events: list[Event]) -> tuple[list[BehaviourEvent], list[tuple[int, Event, int]]]:
        """Split and check a batch; Problem 422 naming the first bad field. Nothing is stored."""
        behaviour: list[BehaviourEvent] = []
        feedback: list[tuple[int, Event, int]] = []
        known_items = self.state.model.features.item_ids
        for n, e in enumerate(events):
            where = f"body.events.{n}"
            ts = parse_ts(e.ts, f"{where}.ts")
            if e.type in BEHAVIOUR:
                user = self.privacy.pseudonym(e.user_id)
                if user in self.privacy.opted_out:  # opted out: their behaviour is not stored
                    continue
                if e.type == "search":
                    if not (e.query or "").strip():
                        raise Problem(422, f"{where}.query: a search needs its query text",
                                      [{"field": f"{where}.query", "message": "required for a search"}])
                    item = ""
                else:
                    item = e.item_id or ""
                    if not item or known_items.get_indexer([item])[0] < 0:
                        raise Problem(422, f"{where}.item_id: not in the catalog; got {item[:40]!r}",
                                      [{"field": f"{where}.item_id", "message": "not in the catalog"}])
                event_id = e.event_id or "h:" + hashlib.sha256(
                    "\x1f".join((user, e.type, item, e.query or "", str(ts))).encode()).hexdigest()[:32]
                query = (e.query or "").strip() if e.type == "search" else ""
                behaviour.append(BehaviourEvent(event_id, ts, user, e.type, item, query))
            else:
                if not e.variant_id and not e.decision_id:
                    raise Problem(422, f"{where}.variant_id: a {e.type} needs variant_id or decision_id",
                                  [{"field": f"{where}.variant_id", "message": "variant_id or decision_id required"}])
                feedback.append((n, e, ts))
        return behaviour, feedback

    def _apply_behaviour(self, events: list[BehaviourEvent]) -> set[str]:
        """Rescore the users of committed behaviour events (this process's or another's)."""
        touched = self.rescorer.add_live(events)
        if touched:
            self.state.update_users(self.rescorer.rescore(touched))
            self._credit_variants()
        return touched

    def take_events(self, behaviour: list[BehaviourEvent], feedback: list[tuple[int, Event, int]]) -> dict:
        """Commit a checked batch (writer thread); Problem 503 with Retry-After when the store cannot
        be written (nothing is acknowledged: the client sends the batch again, event ids dedupe it)."""
        try:
            return self._take_events(behaviour, feedback)
        except EnvironmentFailure as exc:
            self.store_health.failed(exc)
            raise Problem(503, f"events not stored, send them again: {exc.message}",
                          headers={"Retry-After": str(RETRY_AFTER_S)}) from exc

    def _take_events(self, behaviour: list[BehaviourEvent], feedback: list[tuple[int, Event, int]]) -> dict:
        """Behaviour durably then rescoring, feedback through the Engine (its view updates in
        process). Returns the counts for the 202 answer."""
        import pandas as pd

        from bannergen.feedback.schema import COLUMNS

        new = self.behaviour.add(behaviour) if behaviour else []
        touched = self._apply_behaviour(new)
        accepted, duplicate, rejected, rejects = len(new), len(behaviour) - len(new), 0, []
        if feedback:
            rows = []
            for n, e, ts in feedback:
                logged = self.recent.get(e.decision_id or "") if e.decision_id else None
                if e.decision_id and logged is None:
                    stored = self.behaviour.decision(e.decision_id)
                    logged = stored and (stored[0], stored[1], stored[2], stored[3], stored[4])
                if logged is None and not e.variant_id:
                    raise Problem(422, f"body.events.{n}.decision_id: unknown decision; send variant_id",
                                  [{"field": f"body.events.{n}.decision_id", "message": "unknown decision"}])
                user, placement, variant, policy, propensity = logged or (e.user_id, "", e.variant_id, "", math.nan)
                rows.append({
                    "event_id": e.event_id or "", "ts": datetime.fromtimestamp(ts / 1e6, UTC).isoformat(),
                    "user_id": e.user_id, "variant_id": e.variant_id or variant,
                    "event": e.type, "value": e.value or 0.0, "cost": 0.0,
                    "placement": e.placement if e.placement is not None else placement,
                    "propensity": e.propensity if e.propensity is not None else propensity,
                    "policy": e.policy if e.policy is not None else policy,
                    "decision_id": e.decision_id or "",
                })
            frame = pd.DataFrame(rows, columns=list(COLUMNS))
            counts, bad = self.engine.record_feedback(frame, source="<POST /v1/events>")
            accepted += counts.accepted
            duplicate += counts.duplicate
            rejected += len(bad)
            rejects = [str(r) for r in bad]
        for kind, n in (("behaviour", len(new)), ("feedback", accepted - len(new))):
            self.metrics.events[(kind, "accepted")] += n
        self.metrics.events[("all", "duplicate")] += duplicate
        self.metrics.events[("all", "rejected")] += rejected
        return {"accepted": accepted, "duplicate": duplicate, "rejected": rejected, "users_updated": len(touched),
                "rejects": rejects}

    # -- health ------------------------------------------------------------------------------------
    def health(self) -> dict:
        checks = {}
        manifests = list(self.project.out.glob("*/manifest.json")) if self.project.out.is_dir() else []
        checks["manifests"] = (f"ok ({len(manifests)})" if manifests
                               else "degraded: no manifest under the out folder; run bannergen render")
        known = len(self.assets.known)
        checks["assets"] = f"ok ({known} variants)" if known else "degraded: no rendered variant"
        queue = len(self.render_pool)
        checks["render_queue"] = "ok" if queue < 50 else f"degraded: {queue} variants waiting to render"
        fault = self.last_fault
        recent = fault is not None and time.time() - fault[0] < 60
        checks["faults"] = f"degraded: {fault[1]} in the last minute" if fault is not None and recent else "ok"
        checks["writer"] = "ok" if self.writer._work_queue.qsize() < 100 else "degraded: event backlog"
        problem = self.store_health.problem
        checks["store"] = "ok" if problem is None else f"degraded: {problem}; deciding from memory, events get 503"
        status = "ok" if all(v.startswith("ok") for v in checks.values()) else "degraded"
        return {"status": status, "checks": checks, "users": len(self.state.users),
                "variants_rendered": len(self.assets.known), "render_queue": queue, "worker": os.getpid()}

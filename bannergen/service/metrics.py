"""Service metrics in the Prometheus text format (no client library: a few counters and one
latency histogram per route)."""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)  # (method, route, status)
        self.latency: dict[str, list[int]] = {}  # route -> bucket counts (+Inf last)
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.decisions: dict[str, int] = defaultdict(int)  # policy
        self.fallbacks: dict[str, int] = defaultdict(int)  # reason
        self.events: dict[tuple[str, str], int] = defaultdict(int)  # (kind, outcome)
        self.gauges: dict[str, float] = {}
        self._lock = threading.Lock()

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests[(method, route, status)] += 1
        counts = self.latency.get(route)
        if counts is None:
            counts = self.latency[route] = [0] * (len(BUCKETS) + 1)
        counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.latency_sum[route] += seconds

    def render(self) -> str:
        out = [
            "# HELP bannergen_http_requests_total HTTP requests by method, route and status.",
            "# TYPE bannergen_http_requests_total counter",
        ]
        for (m, r, s), n in sorted(self.requests.items()):
            out.append(f'bannergen_http_requests_total{{method="{m}",route="{r}",status="{s}"}} {n}')
        out += ["# HELP bannergen_http_request_seconds Request latency by route.",
                "# TYPE bannergen_http_request_seconds histogram"]
        for route, counts in sorted(self.latency.items()):
            total = 0
            for bound, n in zip((*BUCKETS, "+Inf"), counts):
                total += n
                out.append(f'bannergen_http_request_seconds_bucket{{route="{route}",le="{bound}"}} {total}')
            out.append(f'bannergen_http_request_seconds_sum{{route="{route}"}} {self.latency_sum[route]:.6f}')
            out.append(f'bannergen_http_request_seconds_count{{route="{route}"}} {total}')
        out += ["# HELP bannergen_decisions_total Decisions by policy.", "# TYPE bannergen_decisions_total counter"]
        out += [f'bannergen_decisions_total{{policy="{p}"}} {n}' for p, n in sorted(self.decisions.items())]
        out += ["# HELP bannergen_fallbacks_total Decisions that fell back, by reason.",
                "# TYPE bannergen_fallbacks_total counter"]
        out += [f'bannergen_fallbacks_total{{reason="{r}"}} {n}' for r, n in sorted(self.fallbacks.items())]
        out += ["# HELP bannergen_events_total Events received by kind and outcome.",
                "# TYPE bannergen_events_total counter"]
        out += [f'bannergen_events_total{{kind="{k}",outcome="{o}"}} {n}' for (k, o), n in sorted(self.events.items())]
        for name, value in sorted(self.gauges.items()):
            out += [f"# TYPE bannergen_{name} gauge", f"bannergen_{name} {value:g}"]
        return "\n".join(out) + "\n"

"""`bannergen serve` under a constant arrival rate, beside a floor doing the same per-request work.

The floor is a minimal Starlette app written here: per request a dict lookup of the user, a
Thompson draw over 5 Beta posteriors and a ~12-field JSON answer, served by the same uvicorn
(httptools, uvloop). Whatever `bannergen serve` costs beyond it is framework, logging and
bookkeeping; the targets are ratios to the floor measured in the same run, so the machine's speed
and load cancel out as far as they can.

Each server runs in its own process, the load in another (a client process per step, uvloop, raw
keep-alive connections): the client must not be what limits the rate. Request i is due at
t0 + i / rate and its latency counts from then, not from when it was sent, so a server stall shows
in the tail instead of slowing the client (coordinated omission). Every step is bounded in
requests (rate x seconds) and time, on loopback only. Server CPU per decision is the CPU time of
the server's process tree (the render pool included) over the step, divided by its requests.

Steps, for bannergen serve and then for the floor:
1. the first minute after start: a fresh server at --first-rate from the moment it listens;
2. --rate for --seconds (the target: p99 <= 5 ms, p99.9 <= 10 ms, 0 errors at 2,000/s for 60 s);
3. a sweep of --sweep rates, --sweep-seconds each, up to the first that misses p99 <= 10 ms: the
   highest rate within it (target: >= 0.8x the floor's).

    python benchmarks/serve_bench.py                                   # the full run, ~10 min
    python benchmarks/serve_bench.py --first-seconds 10 --seconds 10 --sweep 1000 2000 --sweep-seconds 5
    python benchmarks/serve_bench.py --workers 2                       # bannergen serve --workers 2

The example shop's segment "all" is rendered first into .bannergen/serve-bench/out (kept between
runs: an unchanged render is instant), so decisions find their banners on disk as in production;
stores and logs go to a temporary folder, and the project is left as it was.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY = "bench-key"
CACHE = ROOT / ".bannergen" / "serve-bench"
TARGET_P99_MS = 10.0
CLI = textwrap.dedent("""
    import sys
    from bannergen.cli.main import main
    sys.argv[0] = "bannergen"
    main()
""")


# -- the floor -------------------------------------------------------------------------------------
def floor_app(n_users: int):
    """The minimal app: what any decision service must do per request, and nothing else."""
    import numpy as np
    import orjson
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    rng = np.random.default_rng(7)
    users = {f"u{i:06d}": (rng.integers(1, 50, 5).astype(float), rng.integers(50, 500, 5).astype(float),
                           [f"{rng.integers(0, 320):06d}" for _ in range(5)]) for i in range(1, n_users + 1)}
    cold = (np.ones(5), np.full(5, 20.0), ["000001"] * 5)

    async def decide(request: Request) -> Response:
        body = orjson.loads(await request.body())
        clicks, misses, items = users.get(body["user_id"], cold)
        draws = rng.beta(clicks, misses)
        best = int(draws.argmax())
        return Response(orjson.dumps({
            "decision_id": "d" + os.urandom(10).hex(), "variant_id": "0" * 24, "item_id": items[best],
            "template": "price-drop", "size": body.get("size", "1200x400"), "placement": body.get("placement", ""),
            "assets": {"webp": "/assets/x.webp"}, "policy": "thompson", "propensity": float(draws[best]),
            "score": float(clicks[best] / (clicks[best] + misses[best])), "explanation": "因为你浏览了 相机",
            "rendered": True, "fallback": None}), media_type="application/json")

    return Starlette(routes=[Route("/v1/decisions", decide, methods=["POST"])])


def run_floor(port: int) -> None:
    import uvicorn

    print("floor ready", flush=True)
    uvicorn.run(floor_app(3001), host="127.0.0.1", port=port, loop="uvloop", http="httptools", log_level="warning",
                access_log=False, lifespan="off")


# -- the client (its own process) --------------------------------------------------------------------
def post(body: dict) -> bytes:
    data = json.dumps(body).encode()
    return (f"POST /v1/decisions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            f"authorization: Bearer {KEY}\r\ncontent-length: {len(data)}\r\n\r\n").encode() + data


class Conn:
    """One keep-alive HTTP/1.1 connection on raw asyncio streams."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await self.reader.readexactly(length)
        return int(head[9:12])


async def constant_rate(port: int, rate: float, seconds: float, conns: int, timeout_s: float) -> dict:
    """Request i due at t0 + i / rate; latency from then. Bounded: rate x seconds requests, and
    every request gives up after ``timeout_s`` (an error)."""
    import numpy as np

    users = [f"u{i:06d}" for i in range(1, 3001)] + ["zhangsan"]
    requests = [post({"user_id": u, "placement": "home_top", "size": "1200x400"}) for u in users]
    order = np.random.default_rng(11).permutation(len(requests))
    total = int(rate * seconds)
    pool: asyncio.Queue[Conn] = asyncio.Queue()
    for _ in range(conns):
        pool.put_nowait(Conn(port))
    latencies = np.full(total, np.nan)
    errors = 0
    clock = time.perf_counter  # uvloop's loop.time() has millisecond resolution
    t0 = clock() + 0.05

    async def one(i: int) -> None:
        nonlocal errors
        due = t0 + i / rate
        conn = await pool.get()
        try:
            status = await asyncio.wait_for(conn.request(requests[order[i % len(order)]]), timeout_s)
            errors += status >= 400
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            errors += 1
            if conn.writer is not None:
                conn.writer.close()
            conn.writer = None
        finally:
            latencies[i] = clock() - due
            pool.put_nowait(conn)

    # Only the requests in flight are held (a list of every task made the cyclic collector's full
    # passes, which walk them all, stall the client for up to half a second late in a 60 s step:
    # a stall every server was then charged with). The collector stays off while requests run.
    in_flight: set[asyncio.Task] = set()
    gc.collect()
    gc.disable()
    try:
        for i in range(total):
            delay = t0 + i / rate - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(i))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        while in_flight:
            await asyncio.wait(list(in_flight))
    finally:
        gc.enable()
    ms = latencies * 1000
    late = clock() - (t0 + total / rate)
    return {"rate": rate, "seconds": seconds, "n": total, "errors": int(errors),
            "p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)),
            "p999": float(np.percentile(ms, 99.9)), "max": float(ms.max()), "client_late_s": round(late, 3)}


def run_client(port: int, rate: float, seconds: float, conns: int) -> None:
    import uvloop

    result = uvloop.run(constant_rate(port, rate, seconds, conns, timeout_s=5.0))
    print(json.dumps(result), flush=True)


# -- the orchestrator ----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, proc: subprocess.Popen, health: str | None, timeout_s: float = 300) -> None:
    """Until the port accepts and, with ``health``, that path answers 200: with --workers N the
    supervisor listens before its workers have built their state."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode}): {proc.stderr.read() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                if health is None:
                    return
                sock.sendall(f"GET {health} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n".encode())
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit("the server did not become ready")


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its children (the render pool, uvicorn's workers)."""
    import psutil

    proc = psutil.Process(pid)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def step(port: int, server_pid: int, rate: float, seconds: float, conns: int) -> dict:
    cpu = tree_cpu_s(server_pid)
    client = subprocess.run([sys.executable, __file__, "--client", str(port), str(rate), str(seconds), str(conns)],
                            capture_output=True, text=True, timeout=seconds + 120)
    if client.returncode != 0:
        raise SystemExit(f"client failed: {client.stderr}")
    result = json.loads(client.stdout.strip().splitlines()[-1])
    result["cpu_ms"] = (tree_cpu_s(server_pid) - cpu) * 1000 / result["n"]
    return result


def project_folder(tmp: Path) -> Path:
    """The repository's project with out in the benchmark cache and every store in ``tmp``; the
    decisions ask for 1200x400, so that size and its 2x are what the render draws."""
    out = CACHE / "out"
    out.mkdir(parents=True, exist_ok=True)
    toml = (ROOT / "bannergen.toml").read_text(encoding="utf-8")
    for key, value in (("out", str(out)), ("rejects", str(tmp / "rejects.txt")),
                       ("sizes", ["1200x400", "2400x800"])):
        toml = re.sub(rf"(?m)^{key} = .*$", f"{key} = {json.dumps(value)}", toml)
    (tmp / "bannergen.toml").write_text(toml, encoding="utf-8")
    for name in ("examples", "templates", "assets", "scoring"):
        (tmp / name).symlink_to(ROOT / name)
    return tmp


class Server:
    """`bannergen serve` or the floor in a subprocess, on a free loopback port."""

    def __init__(self, kind: str, project: Path, workers: int) -> None:
        self.port = free_port()
        env = {**os.environ, "BANNERGEN_API_KEY": KEY}
        if kind == "bannergen":
            args = [sys.executable, "-c", CLI, "--project", str(project), "serve", "--port", str(self.port)]
            args += ["--workers", str(workers)] if workers > 1 else []
        else:
            args = [sys.executable, __file__, "--floor", str(self.port)]
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_ready(self.port, self.proc, "/healthz" if kind == "bannergen" else None)
        self.ready_s = time.perf_counter() - self.started

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()


def row(name: str, what: str, r: dict, floor: dict | None = None) -> str:
    ratio = f"{r['cpu_ms'] / floor['cpu_ms']:.2f}x" if floor else ""
    return (f"| {name} | {what} | {r['rate']:,.0f}/s x {r['seconds']:g} s | {r['p50']:.2f} | {r['p99']:.2f} | "
            f"{r['p999']:.2f} | {r['max']:.1f} | {r['errors']} | {r['cpu_ms']:.3f} | {ratio} |")


def median_run(runs: list[dict]) -> dict:
    """The median of each figure over repeated runs of one step (errors: the largest)."""
    out = dict(runs[0])
    for key in ("p50", "p99", "p999", "max", "cpu_ms"):
        out[key] = statistics.median(r[key] for r in runs)
    out["errors"] = max(r["errors"] for r in runs)
    return out


def measure(kind: str, project: Path, args) -> dict:
    """Every step against one kind of server: {"first": ..., "main": ..., "sweep": [...], "best": rate}."""
    server = Server(kind, project, args.workers)
    try:
        first = step(server.port, server.proc.pid, args.first_rate, args.first_seconds, args.conns)
        first["ready_s"] = server.ready_s
        main = median_run([step(server.port, server.proc.pid, args.rate, args.seconds, args.conns)
                           for _ in range(args.repeat)])
        sweep, best = [], 0.0
        for rate in args.sweep:
            r = median_run([step(server.port, server.proc.pid, rate, args.sweep_seconds, args.conns)
                            for _ in range(args.repeat)])
            sweep.append(r)
            if r["p99"] > TARGET_P99_MS or r["errors"]:
                break
            best = rate
        return {"first": first, "main": main, "sweep": sweep, "best": best}
    finally:
        server.stop()


def render_all(project: Path) -> None:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CLI, "--project", str(project), "render", "--segment", "all",
                           "--out", str(CACHE / "out" / "all")], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"render failed: {done.stderr}")
    print(f"render --segment all: {done.stdout.splitlines()[0]} ({time.perf_counter() - started:.0f} s)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=2000.0, help="decisions per second of the main step")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the main step")
    parser.add_argument("--first-rate", type=float, default=1000.0, help="rate of the first-minute step")
    parser.add_argument("--first-seconds", type=float, default=60.0, help="length of the first-minute step")
    parser.add_argument("--sweep", type=float, nargs="*",
                        default=[1000, 1500, 2000, 2500, 3000, 3500, 4000, 5000, 6000, 7000, 8000, 10000, 12000],
                        help="rates of the sweep, rising; it stops at the first that misses p99 <= 10 ms")
    parser.add_argument("--sweep-seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=1, help="runs of the main and sweep steps; medians are shown")
    parser.add_argument("--conns", type=int, default=64, help="keep-alive connections of the client")
    parser.add_argument("--workers", type=int, default=1, help="bannergen serve --workers N")
    parser.add_argument("--only", choices=["bannergen", "floor"], help="measure one server only")
    parser.add_argument("--floor", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--client", nargs=4, metavar=("PORT", "RATE", "SECONDS", "CONNS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        run_floor(args.floor)
        return
    if args.client:
        port, rate, seconds, conns = args.client
        run_client(int(port), float(rate), float(seconds), int(conns))
        return
    print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"at start; python {sys.version.split()[0]}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        project = project_folder(Path(tmp))
        render_all(project)
        results = {kind: measure(kind, project, args) for kind in ("bannergen", "floor") if args.only in (None, kind)}
    floor = results.get("floor")
    print("\n| server | step | load | p50 ms | p99 ms | p99.9 ms | max ms | errors | CPU ms/decision | "
          "CPU vs floor |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for kind, r in results.items():
        name = f"bannergen serve --workers {args.workers}" if kind == "bannergen" else "floor (Starlette)"
        ref = floor if kind == "bannergen" and floor else None
        print(row(name, f"first minute (ready in {r['first']['ready_s']:.1f} s)", r["first"],
                  ref["first"] if ref else None))
        print(row(name, "main", r["main"], ref["main"] if ref else None))
        for s in r["sweep"]:
            print(row(name, "sweep", s))
    print()
    for kind, r in results.items():
        print(f"{kind}: highest swept rate within p99 {TARGET_P99_MS:g} ms and 0 errors: {r['best']:,.0f}/s")
    if floor and "bannergen" in results:
        b = results["bannergen"]
        ratio = b["best"] / floor["best"] if floor["best"] else float("nan")
        print(f"ratio to the floor: highest rate {ratio:.2f}x (target >= 0.8x), "
              f"CPU per decision at {args.rate:,.0f}/s {b['main']['cpu_ms'] / floor['main']['cpu_ms']:.2f}x "
              "(target <= 1.5x)")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

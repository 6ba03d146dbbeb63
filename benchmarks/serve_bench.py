"""Load test of `bannergen serve` with a constant-arrival-rate asyncio client (loopback only).

Sends are scheduled at fixed times (rate r: request i at t0 + i / r) and latency is measured from
the scheduled time, not from when the client got round to sending, so a server stall shows up
in the tail instead of slowing the client down (coordinated omission). The server runs in a
subprocess with one uvicorn worker; the client uses uvloop when installed.

    python benchmarks/serve_bench.py                       # 1,000 decisions/s for 60 s, then the sweeps
    python benchmarks/serve_bench.py --seconds 10          # a quicker look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
KEY = "bench-key"
SERVER = textwrap.dedent("""
    import sys
    from bannergen.cli.main import app
    app(sys.argv[1:])
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Conn:
    """One keep-alive HTTP/1.1 connection (raw asyncio streams: the client must not be the bottleneck)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader = self.writer = None

    async def request(self, raw: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await self.reader.readexactly(length)
        return status


def post(path: str, body: dict) -> bytes:
    data = json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            f"authorization: Bearer {KEY}\r\ncontent-length: {len(data)}\r\n\r\n").encode() + data


def get(path: str, etag: str | None = None) -> bytes:
    extra = f"if-none-match: {etag}\r\n" if etag else ""
    return f"GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n{extra}\r\n".encode()


async def run_load(port: int, requests: list[bytes], rate: float, seconds: float, conns: int = 64) -> dict:
    """Constant arrival rate: request i is due at t0 + i / rate; latency counts from then."""
    total = int(rate * seconds)
    pool: asyncio.Queue[Conn] = asyncio.Queue()
    for _ in range(conns):
        pool.put_nowait(Conn(port))
    latencies = np.zeros(total)
    errors = 0
    clock = time.perf_counter  # uvloop's loop.time() has millisecond resolution
    t0 = clock() + 0.2

    async def one(i: int) -> None:
        nonlocal errors
        due = t0 + i / rate
        conn = await pool.get()
        try:
            status = await conn.request(requests[i % len(requests)])
            if status >= 400:
                errors += 1
        except (OSError, asyncio.IncompleteReadError):
            errors += 1
            conn.writer = None
        finally:
            latencies[i] = clock() - due
            pool.put_nowait(conn)

    tasks = []
    for i in range(total):  # bounded: exactly rate x seconds requests
        delay = t0 + i / rate - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    ms = latencies * 1000
    return {"rate": rate, "n": total, "errors": errors, "p50": np.percentile(ms, 50), "p90": np.percentile(ms, 90),
            "p99": np.percentile(ms, 99), "max": ms.max()}


def row(name: str, r: dict) -> str:
    return (f"| {name} | {r['rate']:,.0f}/s | {r['n']:,} | {r['p50']:.2f} | {r['p90']:.2f} | {r['p99']:.2f} | "
            f"{r['max']:.1f} | {r['errors']} |")


async def main_async(args, port: int) -> None:
    users = [f"u{i:06d}" for i in range(1, 3001)] + ["zhangsan"]
    decisions = [post("/v1/decisions", {"user_id": u, "placement": "home_top", "size": "1200x400"}) for u in users]
    # Warm-up: every user once, so every chosen variant is rendered (in the server's background thread).
    warm = Conn(port)
    asset_paths = set()
    for raw in decisions:
        await warm.request(raw)
    for _ in range(600):
        health = json.loads(await _get_json(port, "/healthz"))
        if health["render_queue"] == 0:
            break
        await asyncio.sleep(0.5)
    for u in users[:200]:
        body = await _post_json(port, "/v1/decisions", {"user_id": u, "size": "1200x400"})
        asset_paths.add(body["assets"]["webp"])
    print("| load | rate | requests | p50 ms | p90 ms | p99 ms | max ms | errors |")
    print("|---|---|---|---|---|---|---|---|")
    main = await run_load(port, decisions, args.rate, args.seconds)
    print(row("decisions", main), flush=True)
    best = None
    for rate in args.sweep:
        r = await run_load(port, decisions, rate, args.sweep_seconds)
        print(row("decisions (sweep)", r), flush=True)
        if r["p99"] <= 10 and r["errors"] == 0:
            best = rate
    assets = [get(p) for p in sorted(asset_paths)]
    r = await run_load(port, assets, args.asset_rate, args.sweep_seconds)
    print(row("cached assets 200", r), flush=True)
    etags = []
    for p in sorted(asset_paths):
        etags.append(get(p, etag=f'"{p.rsplit("/", 1)[1].replace(".", "-")}"'))
    r = await run_load(port, etags, args.asset_rate, args.sweep_seconds)
    print(row("cached assets 304", r), flush=True)
    print(f"\nhighest swept decision rate with p99 <= 10 ms and 0 errors: {best or 'none'}/s")


async def _get_json(port: int, path: str) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(get(path))
    head = await reader.readuntil(b"\r\n\r\n")
    length = int([ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")][0].split(b":")[1])
    data = await reader.readexactly(length)
    writer.close()
    return data.decode()


async def _post_json(port: int, path: str, body: dict) -> dict:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(post(path, body))
    head = await reader.readuntil(b"\r\n\r\n")
    length = int([ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")][0].split(b":")[1])
    data = await reader.readexactly(length)
    writer.close()
    return json.loads(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=1000.0, help="decisions per second of the main run")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the main run")
    parser.add_argument("--sweep", type=float, nargs="*", default=[1500.0, 2000.0, 2500.0], help="rates of the sweep")
    parser.add_argument("--sweep-seconds", type=float, default=10.0)
    parser.add_argument("--asset-rate", type=float, default=2000.0)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "BANNERGEN_API_KEY": KEY}
        # Renders and stores go to a temporary out folder: the benchmark leaves the project as it was.
        toml = (ROOT / "bannergen.toml").read_text(encoding="utf-8")
        project = Path(tmp)
        (project / "bannergen.toml").write_text(toml.replace('out = "out"', f'out = "{project / "out"}"').replace(
            'rejects = "out/rejects.txt"', f'rejects = "{project / "rejects.txt"}"'), encoding="utf-8")
        for name in ("examples", "templates", "assets", "scoring"):
            (project / name).symlink_to(ROOT / name)
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, "--project", str(project), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            print(server.stdout.readline().strip(), flush=True)
            deadline = time.time() + 120
            while time.time() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.2)
            asyncio.run(main_async(args, port))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()

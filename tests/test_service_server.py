"""The real server: `bannergen serve` in a subprocess on a free loopback port, over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from conftest_service import CLI, start_serve, stop_serve  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def project_copy(tmp: Path) -> Path:
    """A project folder that reuses the repository's data and templates but writes into tmp."""
    (tmp / "bannergen.toml").write_text(textwrap.dedent(f"""
        [data]
        catalog = "{ROOT / 'examples/shop/catalog.csv'}"
        events = "{ROOT / 'examples/shop/events.parquet'}"
        [paths]
        templates = "{ROOT / 'templates'}"
        assets = "{ROOT / 'assets'}"
        scoring = "{ROOT / 'scoring'}"
        out = "out"
        rejects = "out/rejects.txt"
    """), encoding="utf-8")
    return tmp


@pytest.mark.slow
def test_serve_refuses_to_start_without_a_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "BANNERGEN_API_KEY"}
    proc = subprocess.run([sys.executable, "-c", CLI, "--project", str(project_copy(tmp_path)), "serve", "--port", "0"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: no API key") and "--open" in proc.stderr
    proc = subprocess.run([sys.executable, "-c", CLI, "--project", str(tmp_path), "serve", "--open", "--host", "0.0.0.0"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "loopback" in proc.stderr


@pytest.mark.slow
def test_real_server_on_loopback(tmp_path):
    project = project_copy(tmp_path)
    proc, base = start_serve(project, env={**os.environ, "BANNERGEN_API_KEY": "k1,k2"}, timeout_s=60)
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            r = client.post("/v1/decisions", json={"user_id": "zhangsan", "placement": "home_top", "size": "1200x400"},
                            headers={"authorization": "Bearer k2"})
            assert r.status_code == 200 and r.json()["item_id"] == "000103"
            assert r.headers["cache-control"] == "private, no-store" and "server" not in r.headers
            assert client.post("/v1/decisions", json={"user_id": "x"}).status_code == 401
            asset = r.json()["assets"]["webp"]
            deadline = time.time() + 20
            while (got := client.get(asset)).status_code == 404 and time.time() < deadline:
                time.sleep(0.2)  # rendered in the background when it missed the budget
            assert got.status_code == 200 and got.headers["content-type"] == "image/webp"
            assert client.get(asset, headers={"if-none-match": got.headers["etag"]}).status_code == 304
            head = client.head(asset)  # through uvicorn: the headers of the GET, no body
            assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == got.headers["etag"]
            assert int(head.headers["content-length"]) == len(got.content)
            raw = client.get("/assets/..%2F..%2Fbannergen.toml")
            assert raw.status_code == 404 and raw.headers["content-type"] == "application/problem+json"
            assert "paths" in client.get("/openapi.json").json()
            assert "bannergen_http_requests_total" in client.get("/metrics").text
    finally:
        out, err = stop_serve(proc)
    assert "bannergen serve: 3,001 users" in out, (out, err)
    assert (project / ".bannergen" / "behaviour.sqlite").is_file()


async def slow_clients(port: int, silent: int, trickle: int, short_body: int, give_up_s: float) -> list[tuple]:
    """Open connections that send nothing, headers a byte at a time, or half a body; return for
    each (kind, seconds until the server closed it or None, the status line it got)."""
    import asyncio

    async def one(kind: str):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.perf_counter()
        if kind == "short_body":
            writer.write(b"POST /v1/decisions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer k1\r\n"
                         b"content-type: application/json\r\ncontent-length: 100\r\n\r\n{\"user_id\":")

        async def trickle_bytes():
            for byte in b"POST /v1/decisions HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: " + b"a" * 200:
                writer.write(bytes([byte]))
                await asyncio.sleep(0.25)

        sender = asyncio.create_task(trickle_bytes()) if kind == "trickle" else None
        try:
            got = await asyncio.wait_for(reader.read(), give_up_s)  # until the server closes
            closed = time.perf_counter() - started
        except (TimeoutError, ConnectionError):
            got, closed = b"", None
        if sender is not None:
            sender.cancel()
        writer.close()
        return kind, closed, got.split(b"\r\n", 1)[0].decode()

    kinds = ["silent"] * silent + ["trickle"] * trickle + ["short_body"] * short_body
    return await asyncio.gather(*(one(k) for k in kinds))


@pytest.mark.slow
def test_slow_clients_are_cut_off(tmp_path):
    """200 connections that send too slowly (nothing, a header byte every 0.25 s, or half a body)
    are all closed by the real server within its deadlines (1 s here), with 408, while it keeps
    answering everyone else."""
    import asyncio

    project = project_copy(tmp_path)
    with (project / "bannergen.toml").open("a", encoding="utf-8") as toml:
        toml.write("[serve]\nheader_timeout_s = 1.0\nbody_timeout_s = 1.0\n")
    proc, base = start_serve(project, env={**os.environ, "BANNERGEN_API_KEY": "k1"})
    port = int(base.rsplit(":", 1)[1])
    try:
        async def scenario():
            slow = asyncio.ensure_future(slow_clients(port, silent=70, trickle=70, short_body=60, give_up_s=15))
            await asyncio.sleep(0.5)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
                r = await client.post("/v1/decisions", json={"user_id": "zhangsan"}, headers={"authorization": "Bearer k1"})
            return r, await slow

        answer, results = asyncio.run(scenario())
        assert answer.status_code == 200 and answer.json()["item_id"] == "000103"
        assert len(results) == 200
        for kind, closed, status in results:
            assert closed is not None, f"a {kind} connection was still open after 15 s"
            assert closed < 5, (kind, closed)
            assert status == "HTTP/1.1 408 Request Timeout", (kind, status)
    finally:
        stop_serve(proc)

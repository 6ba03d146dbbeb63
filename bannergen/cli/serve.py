"""`bannergen serve` (the HTTP API for the CMS) and `bannergen publish` (copy to a CDN origin).

``register(app)`` adds both commands to a typer app. Heavy imports (the service, uvicorn, fsspec)
happen inside the commands, so they stay out of ``bannergen --help``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from bannergen.cli.common import engine, shown, working


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("publish")(publish)


def serve(
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="port to listen on")] = 8000,
    open_: Annotated[bool, typer.Option("--open", help="run without an API key (loopback hosts only)")] = False,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level")] = "warning",
    access_log: Annotated[bool, typer.Option("--access-log/--no-access-log", help="log every request")] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="server processes sharing the port and "
                                         "the store (about one per core)")] = 1,
) -> None:
    """Serve decisions, events and assets to the CMS (OpenAPI at /openapi.json).

    Example: BANNERGEN_API_KEY=secret bannergen serve --port 8000 --workers 2
    """
    import gc
    import time

    import uvicorn

    from bannergen.service import Service, create_app
    from bannergen.service.keys import api_keys, check_exposure
    from bannergen.service.slow_clients import configure

    eng = engine()
    check_exposure(host, api_keys(eng.project.serve.api_key), open_)
    if open_ and not eng.project.privacy.secret:  # a developer's loopback server: a known secret, said aloud
        import dataclasses
        import os

        from bannergen.config import SECRET_ENV
        from bannergen.pipeline import Engine
        from bannergen.privacy.pseudonyms import LOOPBACK_SECRET

        os.environ[SECRET_ENV] = LOOPBACK_SECRET  # --workers processes read the project again
        eng = Engine(dataclasses.replace(eng.project, privacy=dataclasses.replace(eng.project.privacy,
                                                                                  secret=LOOPBACK_SECRET)))
        typer.echo(f"no project secret: user ids are hashed with a development secret (--open on loopback only); "
                   f"set {SECRET_ENV} before serving real users", err=True)
    settings = eng.project.serve
    options: dict[str, Any] = dict(host=host, port=port, log_level=log_level, access_log=access_log, loop="uvloop",
                   http=configure(settings.header_timeout_s, settings.body_timeout_s),
                   timeout_keep_alive=settings.keep_alive_s, lifespan="on", server_header=False,
                   # nothing reads the client's address, so no X-Forwarded-For rewriting per request
                   proxy_headers=False)
    if workers > 1:
        _serve_workers(eng.project, workers, options)
        return
    started = time.perf_counter()
    service = Service(eng.project, engine=eng)
    service.warm()
    keyed = "key required for POST /v1/*" if service.keys else "OPEN: no key (loopback only)"
    typer.echo(f"bannergen serve: {len(service.state.users):,} users, {len(service.assets.known):,} variants on disk, "
               f"ready in {time.perf_counter() - started:.1f}s; {keyed}")
    typer.echo(f"listening on http://{host}:{port}  (OpenAPI: /openapi.json, health: /healthz, metrics: /metrics)")
    # Everything built so far (profiles, candidates, the model) lives as long as the server: move it
    # out of the cyclic collector's sight, so a full collection never walks it in a request's path.
    gc.collect()
    gc.freeze()
    uvicorn.run(create_app(service), **options)


def _serve_workers(project, workers: int, options: dict[str, Any]) -> None:
    """Run ``workers`` processes under uvicorn's supervisor; each builds its own state (bannergen.service.workers)."""
    import os

    import uvicorn

    from bannergen.cli.common import state
    from bannergen.service.workers import worker_env

    overrides = {"data.catalog": str(project.catalog), "data.events": str(project.events)} if (
        state.catalog or state.events) else {}
    os.environ.update(worker_env(project.root, overrides))
    store = "PostgreSQL" if project.store_url else "SQLite"
    typer.echo(f"bannergen serve: {workers} workers sharing the {store} store, each ready once it has built its "
               f"state; listening on http://{options['host']}:{options['port']}  (health: /healthz)")
    uvicorn.run("bannergen.service.workers:worker_app", factory=True, workers=workers, **options)


def publish(
    to: Annotated[str, typer.Option("--to", help="a folder, or an fsspec URL such as s3://bucket/prefix")],
    segment: Annotated[list[str] | None, typer.Option("--segment", "-s", help="only this segment (repeatable)")] = None,
    with_assignments: Annotated[
        bool, typer.Option("--with-assignments", help="also copy the assignment tables (they hold user ids)")
    ] = False,
) -> None:
    """Copy rendered assets to a CDN origin, then the manifests last (atomically where possible).

    Example: bannergen publish --to /var/www/banners
    """
    from bannergen.publish import publish as run

    with working(f"publishing to {to}"):
        summary = run(engine().project.out, to, segment or None, with_assignments)
    typer.echo(summary.line().replace(to, shown(Path(to)) if "://" not in to else to))

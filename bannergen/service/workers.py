"""``bannergen serve --workers N``: N server processes on one listening socket, one shared store.

uvicorn's supervisor starts the workers (spawned, so each builds its own state) and restarts one
that dies; each worker calls :func:`worker_app` to build its Service from the project the parent
named in the environment. A worker ends when the supervisor does, kill -9 included
(bannergen.parent_death). What one worker commits reaches the others through the store
(bannergen.service.follow); pointing [store] url at PostgreSQL lets workers on other machines
share it too.
"""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path
from typing import Any

ENV = "BANNERGEN_SERVE_WORKER"  # JSON: {"parent": pid, "project": folder, "overrides": {...}}


def worker_env(project_root: Path, overrides: dict[str, Any]) -> dict[str, str]:
    """The environment entry that tells a worker which project to serve (set in the parent)."""
    return {ENV: json.dumps({"parent": os.getpid(), "project": str(project_root), "overrides": overrides})}


def worker_app():
    """uvicorn's app factory in each worker: the project's Service behind the HTTP app."""
    from bannergen.config import load_project
    from bannergen.parent_death import die_with_parent
    from bannergen.pipeline import Engine
    from bannergen.service.app import create_app
    from bannergen.service.core import Service
    from bannergen.service.slow_clients import configure

    spec = json.loads(os.environ[ENV])
    die_with_parent(int(spec["parent"]))
    project = load_project(Path(spec["project"]), spec["overrides"])
    configure(project.serve.header_timeout_s, project.serve.body_timeout_s)  # this process's deadlines
    service = Service(project, engine=Engine(project))
    service.warm()
    gc.collect()
    gc.freeze()  # the state lives as long as the worker: keep it out of the cyclic collector's walks
    return create_app(service)

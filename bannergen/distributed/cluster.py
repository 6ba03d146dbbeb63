"""Connecting to Dask: a running scheduler at an address, or a LocalCluster sized to the machine."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bannergen.errors import ConfigError, EnvironmentFailure

CONNECT_TIMEOUT_S = 5


def dask_client_class() -> Any:
    """distributed.Client, or a ConfigError saying how to install it."""
    try:
        from distributed import Client
    except ImportError as exc:
        raise ConfigError("--executor dask needs Dask's distributed scheduler, which is not installed",
                          hint="pip install 'bannergen[dask]'") from exc
    return Client


@contextmanager
def dask_client(scheduler: str = "", workers: int = 0) -> Iterator[Any]:
    """A Client of the scheduler at ``scheduler`` (tcp://HOST:PORT), or of a LocalCluster of
    ``workers`` single-threaded worker processes (0: one per core) started here and stopped on exit.

    An unreachable scheduler is an EnvironmentFailure naming the address (exit code 3)."""
    client_class = dask_client_class()
    if scheduler:
        try:
            client = client_class(scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise EnvironmentFailure(f"cannot reach the Dask scheduler at {scheduler}: {_first_line(exc)}",
                                     hint="start it with `dask scheduler`, or leave --scheduler out to use "
                                          "a local cluster") from exc
        with client:
            yield client
        return
    from distributed import LocalCluster

    # One thread per worker process: the numpy and Pillow work of a partition already uses its core,
    # and renderers are not shared between threads.
    n = workers or os.cpu_count() or 1
    # ":0": its HTTP routes on a free port (a second cluster on the machine must not collide on 8787)
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=40) as cluster, client_class(cluster, set_as_default=False) as client:
        client.wait_for_workers(n)  # data shared with every worker must reach all of them
        yield client


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]

"""A throwaway PostgreSQL cluster for the tests (a pytest plugin, loaded by conftest.py).

``postgres_cluster`` (session scope) runs Debian's initdb and pg_ctl in a temporary folder: a free
loopback port, the unix socket in that folder, trust authentication for one role. PostgreSQL
refuses to run as root, so as root (CI) the folder is given to the ``postgres`` user and every
command runs through ``runuser -u postgres``. Tests that need it skip, saying why, where the
binaries are missing. ``postgres_url`` gives each test a database of its own.

    def test_x(postgres_url):  # postgresql://bannergen@127.0.0.1:PORT/t_1a2b3c
        ...
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROLE = "bannergen"


def _bindir() -> Path | None:
    """Where initdb and pg_ctl are: pg_config --bindir, else the newest /usr/lib/postgresql/*/bin."""
    pg_config = shutil.which("pg_config")
    candidates = []
    if pg_config:
        done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(Path(done.stdout.strip()))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    """A running cluster: ``url`` reaches its ``postgres`` database; stop() and start() for the fault tests."""

    bindir: Path
    data: Path
    port: int
    as_user: list[str]  # the command prefix that runs a binary as the cluster's owner

    @property
    def url(self) -> str:
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{name}"

    def pg_ctl(self, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data / "db"), "-w", "-s", *args],
                       check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self.pg_ctl("-l", str(self.data / "log.txt"), "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("-m", mode, "stop")

    def create_database(self) -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url, autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        return self.database_url(name)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    pytest.importorskip("psycopg", reason="psycopg is not installed")
    bindir = _bindir()
    if bindir is None:
        pytest.skip("PostgreSQL binaries not found (pg_config --bindir, /usr/lib/postgresql/*/bin): "
                    "apt-get install postgresql")
    data = Path(tempfile.mkdtemp(prefix="bannergen-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as an unprivileged user")
        shutil.chown(data, "postgres", "postgres")
        as_user = [runuser, "-u", "postgres", "--"]
    cluster = Cluster(bindir, data, _free_port(), as_user)
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data / "db"), "-U", ROLE, "-A", "trust",
                    "-E", "UTF8", "--locale", "C"], check=True, capture_output=True, timeout=120)
    cluster.start()
    # A run ended by SIGTERM (a CI timeout) stops its cluster too: as Ctrl-C, pytest then tears down.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield cluster
    finally:
        signal.signal(signal.SIGTERM, previous)
        with contextlib.suppress(subprocess.CalledProcessError):  # stopped already by a fault test
            cluster.stop("immediate")
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_cluster: Cluster) -> str:
    """A fresh, empty database of the session's cluster."""
    return postgres_cluster.create_database()

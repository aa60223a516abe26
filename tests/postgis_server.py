"""A throwaway PostgreSQL 15 + PostGIS 3 cluster (Debian packages) for the PostGIS tests.

PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` account
(runuser). It listens on a free loopback port and a unix socket in its own /tmp folder.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

PG_BIN = Path("/usr/lib/postgresql/15/bin")
POSTGIS_CONTROL = Path("/usr/share/postgresql/15/extension/postgis.control")


def available() -> bool:
    """PostgreSQL 15 server binaries and the PostGIS extension are installed."""
    return (PG_BIN / "initdb").exists() and POSTGIS_CONTROL.exists()


def _as_postgres(args: list[str]) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(prefix + args, check=True, capture_output=True, text=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """A running private cluster; `database(name)` makes a database with PostGIS, `url(name)`."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port

    def url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def database(self, name: str) -> str:
        """Create database `name` with the postgis extension; its URL."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        with psycopg.connect(self.url(name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
        return self.url(name)


@contextmanager
def cluster() -> Iterator[Cluster]:
    """initdb + pg_ctl start in a temporary folder; stopped and removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="gongfu-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    data, port = folder / "data", _free_port()
    try:
        _as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                      "-E", "UTF8", "--no-sync"])
        # fsync off: a test cluster needs no crash safety, and it speeds up every put()
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w",
                      "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 "
                      "-c fsync=off -c synchronous_commit=off -c max_connections=100",
                      "start"])
        yield Cluster(folder, port)
    finally:
        if (data / "postmaster.pid").exists():
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                          "stop"])
        shutil.rmtree(folder, ignore_errors=True)

"""A real PostgreSQL server from Debian's package, in a temporary folder, for one test
session: ``initdb`` a new cluster (no system service), start it on 127.0.0.1 and a free
port, stop it by ``pg_ctl`` at the end. As root, the server runs as the package's
``postgres`` user (PostgreSQL refuses to run as root)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from helpers.network import free_port


def postgres_bin() -> Path | None:
    """The folder of Debian's PostgreSQL programs (the newest version), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def postgres_server(databases: list[str], log_dir: Path) -> Iterator[str]:
    """Yield ``postgresql://postgres@127.0.0.1:<port>`` with ``databases`` created; the
    server's log is ``log_dir/postgresql.log``."""
    programs = postgres_bin()
    assert programs is not None, "Debian's postgresql is missing: `make test` installs it"
    # Not under pytest's 0700 tmp folders: the postgres user must reach it.
    folder = Path(tempfile.mkdtemp(prefix="airflow-ml-pg-"))
    data = folder / "data"
    log = folder / "postgresql.log"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    run = {"check": True, "capture_output": True, "text": True}
    subprocess.run(
        _as_owner([str(programs / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]),
        **run,
    )
    port = free_port()
    options = f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=off -c max_connections=200"
    subprocess.run(
        _as_owner([str(programs / "pg_ctl"), "-D", str(data), "-l", str(log), "-w"])
        + ["-o", options, "start"],
        **run,
    )
    url = f"postgresql://postgres@127.0.0.1:{port}"
    try:
        for name in databases:
            subprocess.run(
                [str(programs / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
                + ["-c", f"CREATE DATABASE {name}"],
                **run,
            )
        yield url
    finally:
        subprocess.run(
            _as_owner([str(programs / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            capture_output=True,
        )
        log_dir.mkdir(parents=True, exist_ok=True)
        if log.exists():
            shutil.copy(log, log_dir / "postgresql.log")
        shutil.rmtree(folder, ignore_errors=True)

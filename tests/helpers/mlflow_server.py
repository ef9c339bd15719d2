"""A real `mlflow server` (SQLite backend store, --serve-artifacts) on a free 127.0.0.1 port,
stopped by its process group at the end."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from helpers.network import answers, free_port
from helpers.processes import start_server, stop_group


@contextmanager
def mlflow_server(
    folder: Path, env: dict[str, str] | None = None, backend: str | None = None
) -> Iterator[str]:
    """Yield the server's URL; its backend store is ``backend`` (a SQLite file in ``folder``
    by default); its log is ``folder/mlflow-server.log``."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    mlflow = Path(sys.executable).with_name("mlflow")
    command = [str(mlflow), "server", "--host", "127.0.0.1", "--port", str(port)]
    command += [
        "--workers",
        "1",
        "--backend-store-uri",
        backend or f"sqlite:///{folder / 'mlflow.db'}",
    ]
    command += ["--serve-artifacts", "--artifacts-destination", str(folder / "artifacts")]
    url = f"http://127.0.0.1:{port}"
    env = env if env is not None else os.environ.copy()
    process = start_server(
        command, env, folder / "mlflow-server.log", lambda: answers(f"{url}/health")
    )
    try:
        yield url
    finally:
        stop_group(process, grace=20)

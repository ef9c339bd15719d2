"""A real MLServer (the server KServe runs for MLflow models: ``mlserver_mlflow.MLflowRuntime``)
serving one local MLflow model directory on 127.0.0.1, from the virtual environment
`make test` builds in .tools/mlserver.

``parallel_workers: 0`` runs inference in the server process: MLServer 1.7.1's worker pool
does not start with the uvloop release it resolves to here ("There is no current event loop").
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from helpers.network import free_port
from helpers.paths import REPO

MLSERVER = REPO / ".tools" / "mlserver" / "bin" / "mlserver"


def start(model_dir: Path, name: str, folder: Path) -> tuple[subprocess.Popen, int, Path]:
    """Start MLServer serving ``model_dir`` as model ``name`` (settings and log in
    ``folder``); (process, HTTP port, log file). Stop it with ``stop``."""
    assert MLSERVER.exists(), "MLServer is missing: `make test` installs it into .tools/mlserver"
    port = free_port()
    (folder / name).mkdir(parents=True)
    (folder / "settings.json").write_text(
        json.dumps(
            {
                "host": "127.0.0.1",
                "http_port": port,
                "grpc_port": free_port(),
                "metrics_port": free_port(),
                "parallel_workers": 0,
            }
        )
    )
    (folder / name / "model-settings.json").write_text(
        json.dumps(
            {
                "name": name,
                "implementation": "mlserver_mlflow.MLflowRuntime",
                "parameters": {"uri": str(model_dir)},
            }
        )
    )
    log = folder / "mlserver.log"
    server = subprocess.Popen(
        [str(MLSERVER), "start", str(folder)],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "PATH": f"{MLSERVER.parent}{os.pathsep}{os.environ['PATH']}"},
        start_new_session=True,
    )
    return server, port, log


def is_ready(port: int, name: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/models/{name}/ready", timeout=2):
            return True
    except OSError:
        return False


def post_v2(port: int, model: str, body: dict) -> tuple[int, dict]:
    """A V2 inference request to MLServer on ``port``: (HTTP status, answer or error)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v2/models/{model}/infer",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        text = error.read().decode()
        return error.code, {"error": text[-1000:]}


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)


@contextmanager
def mlserver(model_dir: Path, name: str, folder: Path, timeout: float = 120) -> Iterator[int]:
    """MLServer serving ``model_dir`` as model ``name``; yields its HTTP port once the model
    is ready (fails with the server's log when it is not)."""
    server, port, log = start(model_dir, name, folder)
    try:
        deadline = time.monotonic() + timeout
        while not is_ready(port, name):
            assert server.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        yield port
    finally:
        stop(server)

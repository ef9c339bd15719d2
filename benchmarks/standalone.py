"""A real Airflow for a benchmark: ``airflow standalone`` (scheduler, dag-processor, triggerer,
api-server; LocalExecutor on SQLite) in a scratch AIRFLOW_HOME, driven through its REST API.

Used by benchmarks that need what ``dag.test()`` does not do — mapped tasks running at the same
time under an executor. Everything it starts is stopped by its process group at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from airflow_ml_provider.core.env import MLFLOW_TELEMETRY_OFF  # noqa: E402
from helpers.network import free_port  # noqa: E402  (the tests' helpers, shared)
from helpers.processes import stop_group  # noqa: E402

LOADER = "from pathlib import Path\nfrom airflow_ml_provider.factory import load_dags\n" \
    "load_dags(Path(__file__).parent / 'pipelines', globals())\n"  # fmt: skip


class Airflow:
    """The REST API of a running standalone Airflow."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token

    def call(self, method: str, path: str, body: dict | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.base}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def run_to_end(self, dag_id: str, timeout: float = 1800) -> tuple[dict, list[dict]]:
        """Unpause, trigger and wait for one run of ``dag_id``: (the run, its task instances)."""
        self._wait(lambda: self._exists(f"/api/v2/dags/{dag_id}"), 300, f"DAG {dag_id} parsed")
        self.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        run = self.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None})
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}"
        self._wait(
            lambda: self.call("GET", path)["state"] in ("success", "failed"), timeout, "run end"
        )
        tis = self.call("GET", f"{path}/taskInstances?limit=1000")["task_instances"]
        return self.call("GET", path), tis

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> Any:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries"
        return self.call("GET", f"{path}/return_value?deserialize=true")["value"]

    def _exists(self, path: str) -> bool:
        try:
            self.call("GET", path)
        except urllib.error.HTTPError:
            return False
        return True

    @staticmethod
    def _wait(ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout:.0f} s for {what}")
            time.sleep(2)


@contextmanager
def standalone(home: Path, pipelines: dict[str, str], parallelism: int = 4) -> Iterator[Airflow]:
    """Airflow standalone on a free port with ``pipelines`` ({file name: YAML}) in its DAGs
    folder; yields its REST API, stops every process at the end (logs in home/standalone.log)."""
    dags = home / "dags"
    (dags / "pipelines").mkdir(parents=True, exist_ok=True)
    (dags / "ml_pipelines.py").write_text(LOADER)
    for name, text in pipelines.items():
        (dags / "pipelines" / name).write_text(text)
    port = free_port()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(parallelism),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        **MLFLOW_TELEMETRY_OFF,
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    airflow = str(Path(sys.executable).with_name("airflow"))
    env["PATH"] = f"{Path(airflow).parent}{os.pathsep}{env.get('PATH', '')}"  # its children
    log = open(home / "standalone.log", "w")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(
        [airflow, "standalone"], env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        passwords = home / "simple_auth_manager_passwords.json.generated"
        Airflow._wait(lambda: passwords.exists() and _answers(base), 300, "api-server")
        password = json.loads(passwords.read_text())["admin"]
        request = urllib.request.Request(
            f"{base}/auth/token",
            data=json.dumps({"username": "admin", "password": password}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            token = json.loads(response.read())["access_token"]
        yield Airflow(base, token)
    finally:
        stop_group(process)  # standalone stops its children on SIGINT
        log.close()


def _answers(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/api/v2/monitor/health", timeout=5):
            return True
    except OSError:
        return False

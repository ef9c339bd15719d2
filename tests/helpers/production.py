"""A production-shaped Airflow for tests/production (one for the whole session).

On 127.0.0.1 and free ports: PostgreSQL from Debian's package (a temporary cluster), a real
`mlflow server` with a PostgreSQL backend store and --serve-artifacts, and Airflow's
scheduler, dag-processor, triggerer and api-server as separate processes (LocalExecutor,
parallelism 4) on a PostgreSQL metadata DB; the DAGs folder holds the repository's
``dags/ml_pipelines.py`` loader. The tests drive it only through the public REST API (token
from /auth/token). Every process is stopped by its process group at the end; every log is
kept under ``test-artifacts/production/``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from airflow_ml_provider.core.env import MLFLOW_TELEMETRY_OFF
from helpers.airflow_rest import Airflow, get_token, wait_until
from helpers.mlflow_server import mlflow_server
from helpers.network import answers, free_port
from helpers.paths import REPO
from helpers.postgres import postgres_server
from helpers.processes import start_server, stop_group

ARTIFACTS = REPO / "test-artifacts" / "production"
PROCESSES = ("scheduler", "dag-processor", "triggerer")
USER, PASSWORD = "admin", "production-admin"


@dataclass
class Production:
    """The running deployment: its REST API, DAGs folder, home (task logs) and log folder."""

    api: Airflow
    dags: Path
    home: Path
    logs: Path
    mlflow: str


def _airflow_env(root: Path, database: str, mlflow: str, port: int) -> dict[str, str]:
    passwords = root / "passwords.json"
    passwords.write_text(json.dumps({USER: PASSWORD}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(MLFLOW_TELEMETRY_OFF)
    bin_dir = str(Path(sys.executable).parent)
    return {
        **env,
        "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        "AIRFLOW_HOME": str(root / "home"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database.replace(
            "postgresql://", "postgresql+psycopg2://"
        ),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API__PORT": str(port),
        # The execution API URL task processes call derives from it.
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API_AUTH__JWT_SECRET": "production-test-secret-" + "x" * 32,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "300",
        "AIRFLOW__ML_PROVIDER__ARTIFACT_STORE": str(root / "artifacts"),
        "AIRFLOW_CONN_MLFLOW_DEFAULT": json.dumps({"conn_type": "mlflow", "host": mlflow}),
    }


@contextmanager
def production_airflow(root: Path) -> Iterator[Production]:
    """Start everything under ``root``; yield the deployment; stop everything, keep logs."""
    logs = root / "logs"
    logs.mkdir()
    (root / "dags" / "pipelines").mkdir(parents=True)
    shutil.copy(REPO / "dags" / "ml_pipelines.py", root / "dags" / "ml_pipelines.py")
    started: list[subprocess.Popen] = []
    try:
        with postgres_server(["airflow", "mlflow"], logs) as postgres:
            server_env = {**os.environ, **MLFLOW_TELEMETRY_OFF}
            backend = f"{postgres}/mlflow".replace("postgresql://", "postgresql+psycopg2://")
            with mlflow_server(root / "mlflow", server_env, backend) as mlflow:
                port = free_port()
                env = _airflow_env(root, f"{postgres}/airflow", mlflow, port)
                airflow = [sys.executable, "-m", "airflow"]
                migrated = subprocess.run(
                    [*airflow, "db", "migrate"], env=env, capture_output=True, text=True
                )
                assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr
                base = f"http://127.0.0.1:{port}"
                for name in PROCESSES:
                    started.append(
                        start_server([*airflow, name], env, logs / f"{name}.log", lambda: True)
                    )
                started.append(
                    start_server(
                        [*airflow, "api-server", "--port", str(port)],
                        env,
                        logs / "api-server.log",
                        lambda: answers(f"{base}/api/v2/monitor/health"),
                    )
                )
                api = Airflow(base, get_token(base, USER, PASSWORD))
                yield Production(api, root / "dags", root / "home", logs, mlflow)
    finally:
        for process in reversed(started):
            if process.poll() is None:
                stop_group(process, grace=30)
        _keep_logs(root)


def _keep_logs(root: Path) -> None:
    """Process logs and task logs under test-artifacts/production/ (replaced each session)."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    shutil.copytree(root / "logs", ARTIFACTS / "processes", dirs_exist_ok=True)
    if (root / "home" / "logs").exists():
        shutil.copytree(root / "home" / "logs", ARTIFACTS / "tasks", dirs_exist_ok=True)
    server_log = root / "mlflow" / "mlflow-server.log"
    if server_log.exists():
        shutil.copy(server_log, ARTIFACTS / "processes" / "mlflow-server.log")


def wait_for_dag(api: Airflow, dag_id: str, timeout: float = 180) -> None:
    wait_until(lambda: api.exists(f"/api/v2/dags/{dag_id}"), timeout, f"DAG {dag_id} parsed")

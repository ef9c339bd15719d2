"""A production-shaped Airflow for tests/production (one for the whole session).

On 127.0.0.1 and free ports: PostgreSQL from Debian's package (a temporary cluster), a real
`mlflow server` with a PostgreSQL backend store and --serve-artifacts, and Airflow's
scheduler, dag-processor, triggerer and api-server as separate processes (LocalExecutor,
parallelism 4) on a PostgreSQL metadata DB; the DAGs folder holds the repository's
``dags/ml_pipelines.py`` loader. With ``executor="CeleryExecutor"`` tasks go through Debian's
``redis-server`` (a server of its own on a free port) to an ``airflow celery worker`` process
instead, the Celery results in the PostgreSQL metadata DB. The tests drive it only through the
public REST API (token from /auth/token). Every process is stopped by its process group at
the end; every log is kept under ``test-artifacts/production/<executor>/``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from airflow_ml_provider.core.env import MLFLOW_TELEMETRY_OFF
from helpers.airflow_rest import Airflow, get_token, wait_until
from helpers.mlflow_server import mlflow_server
from helpers.network import answers, free_port
from helpers.paths import EXAMPLE_CSV, EXAMPLE_YAML, REPO
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


def _airflow_env(
    root: Path, database: str, mlflow: str, port: int, executor: str
) -> dict[str, str]:
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
        "AIRFLOW__CORE__EXECUTOR": executor,
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
def production_airflow(root: Path, executor: str = "LocalExecutor") -> Iterator[Production]:
    """Start everything under ``root``; yield the deployment; stop everything, keep logs
    (under ``test-artifacts/production/<executor>/``)."""
    logs = root / "logs"
    logs.mkdir()
    (root / "dags" / "pipelines").mkdir(parents=True)
    shutil.copy(REPO / "dags" / "ml_pipelines.py", root / "dags" / "ml_pipelines.py")
    started: list[subprocess.Popen] = []
    try:
        with ExitStack() as stack:
            postgres = stack.enter_context(postgres_server(["airflow", "mlflow"], logs))
            server_env = {**os.environ, **MLFLOW_TELEMETRY_OFF}
            backend = f"{postgres}/mlflow".replace("postgresql://", "postgresql+psycopg2://")
            mlflow = stack.enter_context(mlflow_server(root / "mlflow", server_env, backend))
            port = free_port()
            env = _airflow_env(root, f"{postgres}/airflow", mlflow, port, executor)
            processes = list(PROCESSES)
            if executor == "CeleryExecutor":
                redis_port = free_port()
                started.append(_redis(redis_port, logs))
                env["AIRFLOW__CELERY__BROKER_URL"] = f"redis://127.0.0.1:{redis_port}/0"
                env["AIRFLOW__CELERY__RESULT_BACKEND"] = (
                    "db+" + env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
                )
                env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] = "4"
                processes.append("celery worker")
            airflow = [sys.executable, "-m", "airflow"]
            migrated = subprocess.run(
                [*airflow, "db", "migrate"], env=env, capture_output=True, text=True
            )
            assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr
            base = f"http://127.0.0.1:{port}"
            for name in processes:
                log = logs / f"{name.replace(' ', '-')}.log"
                started.append(
                    start_server([*airflow, *name.split()], env, log, _started(name, log))
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
            # Airflow's processes go before the servers they use (the stack's exit).
            for process in reversed(started):
                if process.poll() is None:
                    stop_group(process, grace=30)
    finally:
        for process in reversed(started):
            if process.poll() is None:
                stop_group(process, grace=30)
        _keep_logs(root, ARTIFACTS / executor)


def _started(name: str, log: Path):
    """When a process counts as started: a Celery worker once it says it is ready (a worker
    that cannot reach its broker or result backend exits, failing the start at once)."""
    if name != "celery worker":
        return lambda: True
    return lambda: " ready." in log.read_text(errors="replace")


def _redis(port: int, logs: Path) -> subprocess.Popen:
    """Debian's redis-server on 127.0.0.1:``port``, nothing persisted."""
    command = ["redis-server", "--bind", "127.0.0.1", "--port", str(port)]
    command += ["--save", "", "--appendonly", "no", "--dir", str(logs)]

    def listening() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    return start_server(command, dict(os.environ), logs / "redis.log", listening)


def _keep_logs(root: Path, artifacts: Path) -> None:
    """Process logs and task logs under ``artifacts`` (replaced each session)."""
    shutil.rmtree(artifacts, ignore_errors=True)
    artifacts.mkdir(parents=True)
    shutil.copytree(root / "logs", artifacts / "processes", dirs_exist_ok=True)
    if (root / "home" / "logs").exists():
        shutil.copytree(root / "home" / "logs", artifacts / "tasks", dirs_exist_ok=True)
    server_log = root / "mlflow" / "mlflow-server.log"
    if server_log.exists():
        shutil.copy(server_log, artifacts / "processes" / "mlflow-server.log")


def wait_for_dag(api: Airflow, dag_id: str, timeout: float = 180) -> None:
    wait_until(lambda: api.exists(f"/api/v2/dags/{dag_id}"), timeout, f"DAG {dag_id} parsed")


def example_pipeline(dags: Path, name: str, edits: dict[str, str] | None = None) -> str:
    """The example pipeline under ``name`` in the DAGs folder, manual runs only."""
    data = dags / "pipelines" / "data"
    data.mkdir(exist_ok=True)
    shutil.copy(EXAMPLE_CSV, data / EXAMPLE_CSV.name)
    text = (
        EXAMPLE_YAML.read_text()
        .replace("pipeline: breast_cancer_ct", f"pipeline: {name}")
        .replace("model_name: breast_cancer", f"model_name: {name}_model")
        .replace('schedule: "@daily"', "schedule: null")
        .replace("n_estimators: 200", "n_estimators: 30")
    )
    for old, new in (edits or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    (dags / "pipelines" / f"{name}.yaml").write_text(text)
    return name

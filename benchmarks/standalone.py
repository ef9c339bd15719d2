"""A real Airflow for a benchmark: ``airflow standalone`` (scheduler, dag-processor, triggerer,
api-server; LocalExecutor on SQLite) in a scratch AIRFLOW_HOME, driven through its REST API.

Used by benchmarks that need what ``dag.test()`` does not do — mapped tasks running at the same
time under an executor. Everything it starts is stopped by its process group at the end.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from airflow_ml_provider.core.env import MLFLOW_TELEMETRY_OFF  # noqa: E402
from helpers.airflow_rest import Airflow, get_token, wait_until  # noqa: E402
from helpers.network import answers, free_port  # noqa: E402  (the tests' helpers)
from helpers.processes import stop_group  # noqa: E402

LOADER = "from pathlib import Path\nfrom airflow_ml_provider.factory import load_dags\n" \
    "load_dags(Path(__file__).parent / 'pipelines', globals())\n"  # fmt: skip


PRELOAD_SETTINGS = """from airflow_ml_provider.preload import preload_task_modules

preload_task_modules()
"""
"""What docs/training.md tells a deployment to put in airflow_local_settings.py."""


@contextmanager
def standalone(
    home: Path, pipelines: dict[str, str], parallelism: int = 4, preload: bool = False
) -> Iterator[Airflow]:
    """Airflow standalone on a free port with ``pipelines`` ({file name: YAML}) in its DAGs
    folder; yields its REST API, stops every process at the end (logs in home/standalone.log).
    With ``preload``, the home's airflow_local_settings.py calls preload_task_modules()."""
    if preload:
        (home / "config").mkdir(parents=True, exist_ok=True)
        (home / "config" / "airflow_local_settings.py").write_text(PRELOAD_SETTINGS)
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
        wait_until(
            lambda: passwords.exists() and answers(f"{base}/api/v2/monitor/health"),
            300,
            "api-server",
        )
        password = json.loads(passwords.read_text())["admin"]
        token = get_token(base, "admin", password)
        yield Airflow(base, token)
    finally:
        stop_group(process)  # standalone stops its children on SIGINT
        log.close()


def task_rows(tis: list[dict]) -> list[tuple]:
    """The REST API's task instances that ran, as (task_id, map label, start, end)."""
    return [
        (t["task_id"], t["rendered_map_index"], dt.datetime.fromisoformat(t["start_date"]),
         dt.datetime.fromisoformat(t["end_date"]))
        for t in tis
        if t["start_date"] and t["end_date"]
    ]  # fmt: skip


def idle_seconds(rows: list[tuple]) -> float:
    """Seconds between the first task's start and the last task's end when no task ran: the
    scheduler's hand-over from one task to the next (``rows`` as ``task_rows`` gives them)."""
    idle, reached = 0.0, None
    for _, _, start, end in sorted(rows, key=lambda row: row[2]):
        if reached is not None and start > reached:
            idle += (start - reached).total_seconds()
        reached = end if reached is None else max(reached, end)
    return idle


def stop_warm_processes(tmp: Path) -> None:
    """Stop the warm training processes a run started under its own TMPDIR ``tmp``."""
    for pid_file in tmp.glob("airflow-ml-*/warm-*.sock.pid"):
        os.kill(int(pid_file.read_text()), signal.SIGTERM)

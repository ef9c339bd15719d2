"""airflow_ml_provider.preload: the ML stack imported in the processes that fork Airflow's
task processes (opt-in from airflow_local_settings.py), and nowhere else."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from airflow_ml_provider.preload import forks_task_processes


@pytest.mark.parametrize(
    ("argv", "forks"),
    [
        (["airflow", "scheduler"], True),
        (["/venv/bin/airflow", "scheduler", "--skip-serve-logs"], True),
        (["airflow", "celery", "worker", "--queues", "ml"], True),
        (["airflow", "api-server", "--port", "8080"], False),
        (["airflow", "dag-processor"], False),
        (["airflow", "triggerer"], False),
        (["airflow", "celery", "flower"], False),
        (["airflow", "standalone"], False),  # it starts `airflow scheduler`, which preloads
        (["airflow"], False),
    ],
)
def test_only_processes_that_fork_tasks_preload(argv, forks):
    assert forks_task_processes(argv) is forks


PROBE = """
import json, os, sys
from airflow_ml_provider.preload import preload_task_modules
loaded = preload_task_modules(sys.argv[1:])
read, write = os.pipe()
if os.fork() == 0:  # what a task process forked afterwards starts with
    tracking = sys.modules.get("airflow_ml_provider.ml.training.tracking")
    os.write(write, json.dumps({
        "modules": sorted(m for m in ("pandas", "mlflow", "sklearn", "great_expectations",
                                      "skops") if m in sys.modules),
        "distributions_read": bool(tracking and tracking.installed_distributions.cache_info()
                                   .currsize),
    }).encode())
    os._exit(0)
os.close(write)
print(json.dumps({"loaded": loaded, **json.loads(os.read(read, 4096))}))
"""


def probe(*argv: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_scheduler_preloads_and_its_forks_inherit_the_stack():
    scheduler = probe("airflow", "scheduler")
    assert {"pandas", "mlflow", "great_expectations", "skops.io"} <= set(scheduler["loaded"])
    assert scheduler["modules"] == ["great_expectations", "mlflow", "pandas", "sklearn", "skops"]
    assert scheduler["distributions_read"]  # a model's requirements, not read again per task
    api_server = probe("airflow", "api-server")
    assert api_server == {"loaded": [], "modules": [], "distributions_read": False}

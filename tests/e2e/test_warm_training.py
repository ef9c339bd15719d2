"""The example pipeline trains in the worker's warm training process (``[ml_provider]
local_training = warm``): real Airflow (dag.test), real MLflow, real scikit-learn; the
pipeline's first step starts the server, which is stopped at the end."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

from airflow_ml_provider.ml.training import warm_process
from helpers.pipelines import run, write_pipeline


def test_the_example_pipeline_trains_in_the_warm_process(tmp_path, airflow_db, monkeypatch):
    folder = tempfile.mkdtemp(prefix="warm-", dir="/tmp")  # a short socket path
    monkeypatch.setattr(tempfile, "tempdir", folder)
    monkeypatch.setenv("AIRFLOW__ML_PROVIDER__LOCAL_TRAINING", "warm")
    pid_file = Path(warm_process.socket_path() + ".pid")
    try:
        result = run(write_pipeline(tmp_path, "e2e_warm"))
        assert result["state"] == "success", result
        assert pid_file.exists(), "the pipeline did not start the warm training process"
        # snapshot_data started it (its imports ran while the data was read and checked),
        # before train_model began.
        started = process_start(int(pid_file.read_text()))
        tasks = task_starts(result["dag_id"], result["run_id"])
        assert tasks["snapshot_data"] - 0.05 <= started < tasks["train_model"], (started, tasks)
        assert result["model"]["aliases"] == {"challenger": 1, "champion": 1}
        assert result["metrics"]["challenger"]["roc_auc"] > 0.9
    finally:
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
            deadline = time.monotonic() + 10
            while pid_file.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        shutil.rmtree(folder, ignore_errors=True)


def task_starts(dag_id: str, run_id: str) -> dict[str, float]:
    """When each task instance of the DAG run started (epoch seconds)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(TaskInstance.task_id, TaskInstance.start_date).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
            )
        ).all()
    return {task: start.timestamp() for task, start in rows}


def process_start(pid: int) -> float:
    """When process ``pid`` started (epoch seconds, to the kernel's 10 ms clock tick), from
    /proc on the boot-time clock the kernel counts it on (psutil's create_time adds a boot
    time rounded to the second, too coarse here)."""
    ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    since_boot = ticks / os.sysconf("SC_CLK_TCK")
    return time.time() - (time.clock_gettime(time.CLOCK_BOOTTIME) - since_boot)

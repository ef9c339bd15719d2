"""Run a measurement in a fresh Python process and read back the JSON line it prints last."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


def json_from_child(args: list[str], env: dict[str, str], what: str) -> dict[str, Any]:
    """``python *args`` with ``env``; its last stdout line as JSON, or exit naming ``what``."""
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{what} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_and_time(yaml_file, folder) -> tuple[dict[str, Any], float, list[tuple]]:
    """Run one pipeline through the local runner in a scratch home under ``folder``:
    (its result, seconds run_pipeline_file took, its task instances as
    (task_id, map label, start, end))."""
    import time

    from airflow_ml_provider.cli.local_run import prepare_environment, run_pipeline_file

    prepare_environment(folder)
    started = time.monotonic()
    result = run_pipeline_file(yaml_file)
    total = time.monotonic() - started
    assert result["state"] == "success", result["tasks"]

    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        tis = session.scalars(
            select(TaskInstance).where(TaskInstance.run_id == result["run_id"])
        ).all()
        rows = [(ti.task_id, ti.rendered_map_index, ti.start_date, ti.end_date) for ti in tis]
    return result, total, rows

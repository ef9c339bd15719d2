"""Scenario (a) on CeleryExecutor: the same production-shaped Airflow (helpers/production.py)
with Debian's redis-server as the broker and an `airflow celery worker` process running the
tasks (celery pinned below 5.7, whose worker does not start under Airflow 3.3). Its own
deployment, started and stopped in this module, before the LocalExecutor one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers.production import Production, example_pipeline, production_airflow


@pytest.fixture(scope="module")
def celery(tmp_path_factory) -> Iterator[Production]:
    root = tmp_path_factory.mktemp("production-celery")
    with production_airflow(root, executor="CeleryExecutor") as deployment:
        yield deployment


def test_the_example_pipeline_runs_on_celery_workers(celery: Production):
    """(a) on Celery: unpause, trigger, success; the tasks ran on the Celery worker (its log
    names each workload it executed); the champion shows through the plugin's JSON API."""
    dag_id = example_pipeline(celery.dags, "celery_example")
    run, tis = celery.api.run_to_end(dag_id, timeout=600)
    states = {ti["task_id"]: ti["state"] for ti in tis}
    assert run["state"] == "success", states
    assert states["train_model"] == "success" and states["deploy_model"] == "success"
    worker_log = (celery.logs / "celery-worker.log").read_text(errors="replace")
    executed = [line for line in worker_log.splitlines() if "Executing workload in Celery" in line]
    for task in ("snapshot_data", "train_model", "evaluate_model", "deploy_model"):
        assert any(f"'{task}'" in line or f"={task}" in line for line in executed), task
    page = celery.api.call("GET", f"/ml-pipelines/api/pipelines/{dag_id}")
    assert page["champion"] == 1 and page["last_run"]["state"] == "success"

"""MLflow runs a SIGKILLed training process left RUNNING are ended as KILLED by the next try
of the same task or the next run of the pipeline — and never while their DAG run still goes.

Real Airflow DB (dag.test), real MLflow store, the real training entrypoint killed with
SIGKILL while its run is open."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from helpers.pipelines import clear_and_rerun, write_pipeline
from helpers.training_jobs import TASK_CHILD_ENV, job


def killed_training_run(tmp_path, dag_id: str, dag_run_id: str, try_number: int) -> str:
    """Start the training entrypoint on a slow forest for ``dag_id``'s train_model (this DAG
    run and try), SIGKILL it once its MLflow run is open; the id of the run it left."""
    from airflow_ml_provider.hooks.mlflow import MlflowHook

    hook = MlflowHook()
    client = hook.get_conn()
    experiment = f"airflow-ml/{dag_id}"
    tags = {
        "airflow_ml.pipeline": dag_id,
        "airflow_ml.dag_id": dag_id,
        "airflow_ml.dag_run_id": dag_run_id,
        "airflow_ml.task_id": "train_model",
        "airflow_ml.map_index": "-1",
        "airflow_ml.try_number": str(try_number),
    }
    payload = job(
        tmp_path,
        estimator="sklearn.ensemble.RandomForestClassifier",
        params={"n_estimators": 20000, "random_state": 0},
        tracking_uri=hook.tracking_uri,
        experiment_name=experiment,
        artifact_location=hook.experiment_artifact_location(experiment),
        tags=tags,
    )
    path = tmp_path / f"killed-{try_number}.json"
    path.write_text(json.dumps(payload))
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_ml_provider.ml.train", "--job", str(path)],
        env={**os.environ, **hook.subprocess_env(), **TASK_CHILD_ENV},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    query = f"tags.`airflow_ml.dag_run_id` = '{dag_run_id}' and attributes.status = 'RUNNING'"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            found = client.get_experiment_by_name(experiment)
            runs = client.search_runs([found.experiment_id], query) if found else []
            if runs:
                assert process.poll() is None, "the forest finished before it could be killed"
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                return runs[0].info.run_id
            time.sleep(0.2)
    finally:
        if process.poll() is None:
            process.kill()
    raise AssertionError("the training process never opened its MLflow run")


def scheduler_run_still_going(dag_id: str) -> str:
    """A DAG run the scheduler made that is still running (another worker may train in it)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    run_id = "scheduled__still_running"
    now = dt.datetime.now(dt.UTC)
    with create_session() as session:
        session.add(
            DagRun(
                dag_id=dag_id,
                run_id=run_id,
                run_type=DagRunType.SCHEDULED,
                state=DagRunState.RUNNING,
                logical_date=now - dt.timedelta(days=1),
                start_date=now,
                triggered_by=DagRunTriggeredByType.TIMETABLE,
            )
        )
    return run_id


def test_a_killed_try_is_ended_by_the_next_run_and_a_live_dag_runs_run_is_not(tmp_path, airflow_db):
    """Run 1 succeeds; then a train_model process of run 1 is SIGKILLed (its MLflow run stays
    RUNNING, with a nested trial run), and another DAG run the scheduler still runs has an
    open MLflow run. Run 2 ends run 1's leftovers as KILLED, saying why, and leaves the live
    DAG run's run RUNNING."""
    from airflow_ml_provider.cli.local_run import run_pipeline_file
    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.ml.training.abandoned_runs import ENDED_BY_TAG

    client = MlflowHook().get_conn()
    path = write_pipeline(tmp_path, "debris_runs")
    first = run_pipeline_file(path)
    assert first["state"] == "success", first
    dag_id, first_run = first["dag_id"], first["run_id"]

    killed = killed_training_run(tmp_path, dag_id, first_run, try_number=1)
    killed_run = client.get_run(killed)
    trial = client.create_run(
        killed_run.info.experiment_id, tags={"mlflow.parentRunId": killed}, run_name="trial-0"
    ).info.run_id
    live_dag_run = scheduler_run_still_going(dag_id)
    live = client.create_run(
        killed_run.info.experiment_id,
        tags={
            "airflow_ml.dag_id": dag_id,
            "airflow_ml.dag_run_id": live_dag_run,
            "airflow_ml.task_id": "train_model",
            "airflow_ml.map_index": "-1",
            "airflow_ml.try_number": "1",
        },
    ).info.run_id
    assert {client.get_run(r).info.status for r in (killed, trial, live)} == {"RUNNING"}

    second = run_pipeline_file(path, retrain=True)
    assert second["state"] == "success", second
    assert client.get_run(killed).info.status == "KILLED"
    assert client.get_run(trial).info.status == "KILLED"
    assert client.get_run(killed).data.tags[ENDED_BY_TAG] == (
        f"its DAG run {first_run} has ended (success) while the run was still RUNNING"
    )
    assert client.get_run(live).info.status == "RUNNING"
    assert client.get_run(second["mlflow_run_id"]).info.status == "FINISHED"


@pytest.mark.parametrize("training", ["in_process", "subprocess"])
def test_the_next_try_of_the_same_task_ends_the_run_its_killed_try_left(
    tmp_path, airflow_db, monkeypatch, training
):
    """Within one DAG run: try 1 of train_model is SIGKILLed mid-training; the cleared task's
    try 2 ends try 1's run as KILLED (Airflow runs one try of a task at a time). In a
    training subprocess, try 2 does so while its own job starts, and leaves every other run
    of the DAG run (its own included) alone."""
    from airflow_ml_provider.cli.local_run import run_dag
    from airflow_ml_provider.factory.builder import build_dag
    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.ml.training.abandoned_runs import ENDED_BY_TAG
    from airflow_ml_provider.pipeline_spec.loader import load_pipeline

    client = MlflowHook().get_conn()
    dag = build_dag(load_pipeline(write_pipeline(tmp_path, "debris_tries")))
    first = run_dag(dag)
    assert first.state == "success"
    try_number = first.get_task_instance("train_model").try_number
    killed = killed_training_run(tmp_path, dag.dag_id, first.run_id, try_number=try_number)

    monkeypatch.setenv("AIRFLOW__ML_PROVIDER__LOCAL_TRAINING", training)
    again = clear_and_rerun(dag, first.run_id, "train_model")
    run = client.get_run(killed)
    assert run.info.status == "KILLED"
    assert run.data.tags[ENDED_BY_TAG] == (
        f"try {try_number} of train_model was cut off; try {try_number + 1} runs now"
    )
    retried = again.get_task_instance("train_model")
    assert (retried.state, retried.try_number) == ("success", try_number + 1)
    others = client.search_runs(
        [run.info.experiment_id],
        filter_string=f"tags.`airflow_ml.dag_run_id` = '{first.run_id}'",
    )
    assert {r.info.status for r in others if r.info.run_id != killed} == {"FINISHED"}


CANDIDATES = """\
training:
  max_parallel: 2
  cv_folds: 2
  candidates:
    - name: linear
      estimator: sklearn.linear_model.LogisticRegression
      params: {max_iter: 500}
    - name: tree
      estimator: sklearn.tree.DecisionTreeClassifier
      params: {max_depth: 3}
"""


def leftover_candidate_run(client, pipeline: str, first: dict, map_index: int) -> str:
    """A RUNNING MLflow run tagged as candidate ``map_index``'s first try in the finished DAG
    run ``first`` — what a candidate killed mid-fit leaves behind."""
    experiment = client.get_experiment_by_name(f"airflow-ml/{pipeline}")
    return client.create_run(
        experiment.experiment_id,
        tags={
            "airflow_ml.dag_id": first["dag_id"],
            "airflow_ml.dag_run_id": first["run_id"],
            "airflow_ml.task_id": "train_candidates",
            "airflow_ml.map_index": str(map_index),
            "airflow_ml.try_number": "1",
        },
    ).info.run_id


def test_candidates_leave_other_dag_runs_leftovers_to_select_model(tmp_path, airflow_db, capfd):
    """A candidate task's first try does not look for abandoned runs (each would import
    MLflow for it); select_model, which runs whatever the candidates did, ends a killed
    candidate's run of the finished DAG run before it — not a candidate task."""
    from airflow_ml_provider.cli.local_run import run_pipeline_file
    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.ml.training.abandoned_runs import ENDED_BY_TAG

    client = MlflowHook().get_conn()
    path = write_pipeline(tmp_path, "debris_candidates", training=CANDIDATES)
    first = run_pipeline_file(path)
    assert first["state"] == "success", first
    leftover = leftover_candidate_run(client, "debris_candidates", first, map_index=0)

    capfd.readouterr()
    second = run_pipeline_file(path, retrain=True)
    task_log = "".join(capfd.readouterr())
    assert second["state"] == "success", second
    run = client.get_run(leftover)
    assert run.info.status == "KILLED"
    assert run.data.tags[ENDED_BY_TAG].startswith(f"its DAG run {first['run_id']} has ended")
    # The task log line says which operator ended it: [airflow.task.operators.<class>].
    enders = [line for line in task_log.splitlines() if f"ended MLflow run {leftover}" in line]
    assert len(enders) == 1 and ".SelectModelOperator]" in enders[0], enders


FAILING_CANDIDATES = CANDIDATES.replace(
    "params: {max_iter: 500}", "params: {solver: liblinear, penalty: elasticnet}"
).replace(
    "estimator: sklearn.tree.DecisionTreeClassifier\n      params: {max_depth: 3}",
    "estimator: sklearn.linear_model.LogisticRegression\n      params: {penalty: l1}",
)
"""Two candidates whose settings scikit-learn accepts one by one and refuses at fit (only
saga fits an elastic net; lbfgs, the default solver, no L1)."""


def test_select_model_ends_leftovers_when_too_few_candidates_succeed(tmp_path, airflow_db, capfd):
    """When every candidate fails, no refit follows: select_model still ends the earlier DAG
    run's abandoned candidate run before it fails the run for too few candidates."""
    from airflow_ml_provider.cli.local_run import run_pipeline_file
    from airflow_ml_provider.hooks.mlflow import MlflowHook

    client = MlflowHook().get_conn()
    path = write_pipeline(tmp_path, "debris_no_candidates", training=CANDIDATES)
    first = run_pipeline_file(path)
    assert first["state"] == "success", first
    leftover = leftover_candidate_run(client, "debris_no_candidates", first, map_index=1)

    path.write_text(path.read_text().replace(CANDIDATES, FAILING_CANDIDATES))
    capfd.readouterr()
    second = run_pipeline_file(path, retrain=True)
    task_log = "".join(capfd.readouterr())
    assert second["state"] == "failed", second
    assert second["error"]["task"] == "select_model", second["error"]
    assert "0 of 2 candidates succeeded" in second["error"]["message"]
    assert client.get_run(leftover).info.status == "KILLED"
    enders = [line for line in task_log.splitlines() if f"ended MLflow run {leftover}" in line]
    assert len(enders) == 1 and ".SelectModelOperator]" in enders[0], enders

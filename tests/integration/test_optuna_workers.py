"""Workers of one Optuna search sharing a study in a database named by an Airflow connection:
two real training processes (the entrypoint pods and the local runner start) running at the
same time against one SQLite database reached through AIRFLOW_CONN_..., real Optuna, MLflow
and scikit-learn on the example table. SQLite stands in for the cluster's PostgreSQL: the
same Optuna storage class (RDBStorage over SQLAlchemy) is used either way."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers.training_jobs import job as entrypoint_job

N_TRIALS = 6
STUDY = "optuna_workers/manual__1/search"


def worker_job(tmp_path, worker: int) -> dict:
    return entrypoint_job(
        tmp_path,
        output=str(tmp_path / f"result-{worker}.json"),
        candidate={"name": "search", "folds": 3, "worker": worker, "workers": 2},
        search={
            "method": "optuna",
            "n_trials": N_TRIALS,
            "workers": 2,
            "pruner": "none",
            "scoring": "roc_auc",
            "params": {"C": {"distribution": "loguniform", "low": 0.01, "high": 10.0}},
        },
        study={"name": STUDY, "journal": None},
        tags={
            "airflow_ml.pipeline": "optuna_workers",
            "airflow_ml.dag_run_id": "manual__1",
            "airflow_ml.config_hash": "c0ffee",
            "airflow_ml.data_sha256": "abc",
        },
    )


def start(tmp_path, worker: int, env: dict[str, str]) -> subprocess.Popen:
    path = tmp_path / f"job-{worker}.json"
    path.write_text(json.dumps(worker_job(tmp_path, worker)))
    return subprocess.Popen(
        [sys.executable, "-m", "airflow_ml_provider.ml.train", "--job", str(path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture
def study_env(tmp_path, monkeypatch):
    """The study's database as an Airflow connection, resolved the way the operator does."""
    from airflow_ml_provider.hooks.study import storage_url
    from airflow_ml_provider.ml.search.optuna_study import STUDY_STORAGE_ENV

    monkeypatch.setenv("AIRFLOW_CONN_STUDY_DB", f"sqlite:///{tmp_path / 'study.db'}")
    url = storage_url("study_db")
    return {**os.environ, STUDY_STORAGE_ENV: url}, url


def test_two_processes_at_once_run_exactly_n_trials_in_one_study(tmp_path, study_env):
    import mlflow
    import optuna

    env, url = study_env
    # The MLflow store exists before the workers start, as it does in a pipeline run (two
    # processes creating one SQLite store's tables at once race on its migrations).
    mlflow.MlflowClient(worker_job(tmp_path, 0)["tracking_uri"]).search_experiments()
    processes = [start(tmp_path, worker, env) for worker in (0, 1)]
    outputs = [p.communicate(timeout=600)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], "\n=====\n".join(outputs)
    results = [json.loads((tmp_path / f"result-{w}.json").read_text()) for w in (0, 1)]
    assert all(r["status"] == "succeeded" for r in results), [r.get("error") for r in results]
    study = optuna.load_study(study_name=STUDY, storage=url)
    assert len(study.trials) == N_TRIALS
    assert {t.state.name for t in study.trials} == {"COMPLETE"}
    workers = sorted(t.user_attrs["airflow_ml_worker"] for t in study.trials)
    assert workers == [0, 0, 0, 1, 1, 1]
    # Whichever finished last saw every trial: its best is the study's best.
    assert max(r["cv"]["roc_auc"]["mean"] for r in results) == pytest.approx(study.best_value)

    # A retried worker of the same DAG run returns its finished result: no extra trial.
    again = start(tmp_path, 0, env)
    output = again.communicate(timeout=600)[0]
    assert again.returncode == 0, output
    assert "already finished in this DAG run" in output
    assert len(optuna.load_study(study_name=STUDY, storage=url).trials) == N_TRIALS


def test_workers_without_a_shared_storage_fail_with_the_reason(tmp_path):
    """Two workers and no study storage: the candidate reports the missing storage (and the
    spec check refuses the same on the Kubernetes runner before any pod starts)."""
    env = {k: v for k, v in os.environ.items() if k != "AIRFLOW_ML_STUDY_STORAGE"}
    process = start(tmp_path, 0, env)
    process.communicate(timeout=600)
    result = json.loads((tmp_path / "result-0.json").read_text())
    assert result["status"] == "failed"
    assert "needs a shared study storage" in result["error"]

"""airflow-ml reproduce RUN_ID: re-train a run from its job.json and compare the metrics."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest

from airflow_ml_provider import cli
from airflow_ml_provider.ml import train as train_module
from helpers.paths import EXAMPLE_CSV
from helpers.training_jobs import job as entrypoint_job


def train_job(tmp_path, snapshot, **overrides) -> dict:
    """The entrypoint test's job, on a content-addressed copy of the example data, with a search."""
    sha256 = hashlib.sha256(snapshot.read_bytes()).hexdigest()
    job = entrypoint_job(
        tmp_path,
        search={"method": "grid", "params": {"C": [0.1, 1.0]}, "cv": 3, "scoring": None},
        experiment_name="airflow-ml/reproduce",
        run_name="reproduce/manual__1",
        tags={"airflow_ml.pipeline": "reproduce", "airflow_ml.data_sha256": sha256},
    )
    job["data"].update(uri=snapshot.as_uri(), sha256=sha256)
    job.update(overrides)
    return job


def train_once(tmp_path, **overrides) -> dict:
    folder = tmp_path / "snapshots" / "reproduce"
    folder.mkdir(parents=True, exist_ok=True)
    snapshot = folder / "data.csv"
    shutil.copy(EXAMPLE_CSV, snapshot)
    job = train_job(tmp_path, snapshot, **overrides)
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    assert train_module.main(["--job", str(path)]) == 0
    result = json.loads((tmp_path / "result.json").read_text())
    return {"run_id": result["run_id"], "job": job, "snapshot": snapshot}


def reproduce_cli(tmp_path, run_id: str, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("AIRFLOW_HOME", "MLFLOW_TRACKING_URI")}
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return subprocess.run(
        [sys.executable, "-m", "airflow_ml_provider.cli", "reproduce", run_id, *extra],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )


def test_reproduce_matches_then_refuses_changed_data(tmp_path):
    trained = train_once(tmp_path)
    run_id = trained["run_id"]

    done = reproduce_cli(tmp_path, run_id, "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["match"] is True
    assert report["run_id"] == run_id and report["reproduction_run_id"] != run_id
    assert set(report["metrics"]) == {"roc_auc", "log_loss", "search.best_cv_roc_auc"}
    for row in report["metrics"].values():
        assert row["abs_diff"] <= 1e-9 and row["match"]

    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    original, again = client.get_run(run_id), client.get_run(report["reproduction_run_id"])
    assert again.info.experiment_id == original.info.experiment_id
    assert again.data.tags["airflow_ml.reproduces"] == run_id
    assert again.data.tags["airflow_ml.reproduction"] == "match"
    assert again.data.params["best.C"] == original.data.params["best.C"]
    assert not (tmp_path / ".airflow-ml" / "mlflow.db").exists()  # used the given store

    # The snapshot is content-addressed: any change means it is not the run's data any more.
    with trained["snapshot"].open("a") as stream:
        stream.write(trained["snapshot"].read_text().splitlines()[1] + "\n")
    tampered = reproduce_cli(tmp_path, run_id)
    assert tampered.returncode == 2
    last = tampered.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: the data snapshot {trained['snapshot'].as_uri()} changed")
    assert trained["job"]["data"]["sha256"] in last
    runs = client.search_runs([original.info.experiment_id])
    assert len(runs) == 2  # nothing trained on the changed data


def test_reproduce_reports_differences_and_errors(tmp_path, capsys, monkeypatch):
    # A random forest without random_state is not deterministic: the metrics differ.
    trained = train_once(
        tmp_path,
        estimator="sklearn.ensemble.RandomForestClassifier",
        params={"n_estimators": 5, "max_depth": 3},
        search=None,
    )
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    capsys.readouterr()
    code = cli.main(["reproduce", trained["run_id"], "--tracking-uri", uri])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "DIFFERS" in out and "metrics DIFFER (tolerance 1e-09)" in out
    assert out.splitlines()[1].split() == ["metric", "original", "reproduced", "abs", "diff"]

    assert cli.main(["reproduce", "0" * 32, "--tracking-uri", uri, "--json"]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)["error"] == f"run {'0' * 32} not found in {uri}"

    trained["snapshot"].unlink()
    assert cli.main(["reproduce", trained["run_id"], "--tracking-uri", uri]) == 2
    assert f"the data snapshot {trained['snapshot'].as_uri()} is gone" in capsys.readouterr().err

    missing = f"sqlite:///{tmp_path / 'nowhere.db'}"
    assert cli.main(["reproduce", trained["run_id"], "--tracking-uri", missing]) == 2
    assert f"no MLflow tracking store at {missing}" in capsys.readouterr().err


def test_a_run_without_job_json_cannot_be_reproduced(tmp_path, capsys):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.create_experiment("other", (tmp_path / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_metric("accuracy", 0.5)
    assert cli.main(["reproduce", run.info.run_id, "--tracking-uri", uri]) == 2
    assert "has no job.json artifact" in capsys.readouterr().err


@pytest.fixture(autouse=True)
def _keep_airflow_home(monkeypatch):
    """cli.main may set AIRFLOW_HOME; keep the session's value for the other tests."""
    monkeypatch.setenv("AIRFLOW_HOME", os.environ["AIRFLOW_HOME"])


def test_reproduce_rebuilds_the_preprocessing_and_matches(tmp_path):
    """penguins (strings, gaps, string labels) with a search over a preprocessing setting:
    the reproduction re-fits the same pipeline from job.json and gets the same metrics."""
    from palmerpenguins import load_penguins

    folder = tmp_path / "snapshots" / "penguins"
    folder.mkdir(parents=True)
    snapshot = folder / "data.csv"
    load_penguins().to_csv(snapshot, index=False)
    sha256 = hashlib.sha256(snapshot.read_bytes()).hexdigest()
    job = entrypoint_job(
        tmp_path,
        metrics=["accuracy", "roc_auc"],
        params={"max_iter": 2000},
        features={"numeric": {"scale": "standard"}, "columns": {"year": "ignore"}},
        search={
            "method": "grid",
            "params": {"C": [0.1, 1.0], "preprocess__numeric_1__standardscaler__with_mean": [True]},
            "cv": 3,
            "scoring": None,
        },
        experiment_name="airflow-ml/reproduce",
        tags={"airflow_ml.pipeline": "penguins", "airflow_ml.data_sha256": sha256},
    )
    job["data"].update(uri=snapshot.as_uri(), sha256=sha256, target="species", features=None)
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    assert train_module.main(["--job", str(path)]) == 0
    run_id = json.loads((tmp_path / "result.json").read_text())["run_id"]

    done = reproduce_cli(tmp_path, run_id, "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["match"] is True
    assert {"accuracy", "roc_auc"} <= set(report["metrics"])


def test_a_job_of_an_unknown_version_is_refused_before_training(tmp_path, capsys):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.create_experiment("newer", (tmp_path / "artifacts").as_uri())
    newer = {**entrypoint_job(tmp_path), "version": 99}
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_text(json.dumps(newer), "job.json")
    assert cli.main(["reproduce", run.info.run_id, "--tracking-uri", uri]) == 2
    err = capsys.readouterr().err
    assert "job.json cannot be re-run: training job version 99" in err
    assert len(mlflow.search_runs([experiment])) == 1  # nothing was trained


def test_a_candidate_cross_validation_run_is_refused_with_what_to_reproduce(tmp_path, capsys):
    """A candidate's run cross-validates and logs no model: reproducing it used to fail with
    a KeyError on the missing metrics after re-training; it is refused before training."""
    import mlflow

    trained = train_once(tmp_path, candidate={"name": "linear", "folds": 3}, search=None)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    runs_before = len(mlflow.search_runs(search_all_experiments=True))
    assert cli.main(["reproduce", trained["run_id"], "--tracking-uri", uri]) == 2
    err = capsys.readouterr().err
    assert "cross-validated candidate 'linear'; it logged no model" in err
    assert "Reproduce the run of the model select_model trained" in err
    assert len(mlflow.search_runs(search_all_experiments=True)) == runs_before

"""The training entrypoint the local runner and the pod both start (no Airflow involved)."""

from __future__ import annotations

import json

from helpers.training_jobs import job, run_job


def test_trains_logs_and_writes_the_result(tmp_path):
    done = run_job(tmp_path, job(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["rows_train"] + result["rows_test"] == 569
    assert 0.5 < result["metrics"]["roc_auc"] <= 1
    assert result["metrics"]["log_loss"] > 0  # natural sign: lower is better, positive

    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    client = mlflow.MlflowClient()
    run = client.get_run(result["run_id"])
    assert run.data.tags["airflow_ml.pipeline"] == "unit"
    assert run.data.params["max_iter"] == "500"
    assert run.data.metrics["roc_auc"] == result["metrics"]["roc_auc"]
    model = mlflow.models.get_model_info(result["model_uri"])
    assert model.signature is not None
    assert model.saved_input_example_info is not None


def test_bad_inputs_fail_with_one_readable_line(tmp_path):
    bad = job(tmp_path, estimator="sklearn.linear_model.LogisticRegresion")
    done = run_job(tmp_path, bad)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "error: EstimatorError: 'sklearn.linear_model.LogisticRegresion' cannot be imported: "
        "no class 'LogisticRegresion'; did you mean 'sklearn.linear_model.LogisticRegression'?"
    )
    outside = run_job(tmp_path, job(tmp_path, estimator="subprocess.Popen"))
    assert outside.returncode == 2
    assert "is not in an allowed module" in outside.stderr


def test_squashing_scale_trains_logs_skrub_as_a_requirement_and_loads_verified(tmp_path):
    """`numeric: {scale: squashing}` (skrub's SquashingScaler): the training process fits
    and logs the model with skrub pinned in its requirements and SquashingScaler — by exact
    name — in its skops trusted types; the verified loader loads it and its inputs come out
    bounded (a soft clip to ±3) even for an outlier row. A column that is mostly one value
    (its quartiles equal) is scaled by skrub's internal min-max scaler, trusted too."""
    import mlflow
    import numpy as np
    import pandas as pd

    from airflow_ml_provider.ml.evaluation.evaluate import load_model
    from helpers.paths import EXAMPLE_CSV

    frame = pd.read_csv(EXAMPLE_CSV)
    frame["pool area"] = np.where(np.arange(len(frame)) % 10 == 0, frame["mean area"], 0.0)
    data_file = tmp_path / "with_pool.csv"
    frame.to_csv(data_file, index=False)
    payload = job(tmp_path, features={"numeric": {"scale": "squashing"}})
    payload["data"]["uri"] = data_file.as_uri()
    payload["data"]["features"] = [*payload["data"]["features"], "pool area"]
    done = run_job(tmp_path, payload)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "result.json").read_text())
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    local = mlflow.artifacts.download_artifacts(result["model_uri"], dst_path=str(tmp_path / "m"))
    requirements = (tmp_path / "m" / "requirements.txt").read_text()
    assert "skrub==" in requirements, requirements
    model = load_model(result["model_uri"])
    rows = frame[payload["data"]["features"]].head(5)
    rows.iloc[0, 0] = 1e9  # an outlier no standard scaler would bound
    scaled = model.named_steps["preprocess"].transform(rows)
    assert np.abs(scaled).max() <= 3.0 + 1e-9
    squashing = model.named_steps["preprocess"].transformers_[0][1][-1]
    assert type(squashing).__name__ == "SquashingScaler"
    assert type(squashing.minmax_scaler_).__name__ == "_MinMaxScaler"  # the pool area column
    assert local


def test_each_training_run_logs_its_snapshot_as_a_dataset_input(tmp_path):
    """MLflow's dataset input of the run: the snapshot's URI as the source, its sha256 as the
    digest, the input columns and target as the schema, context training."""
    import mlflow

    payload = job(tmp_path)
    payload["data"]["sha256"] = "f" * 64
    done = run_job(tmp_path, payload)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "result.json").read_text())
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    (given,) = mlflow.MlflowClient().get_run(result["run_id"]).inputs.dataset_inputs
    assert json.loads(given.dataset.source)["uri"] == payload["data"]["uri"]
    assert given.dataset.digest == "f" * 36
    assert [tag.value for tag in given.tags] == ["training"]
    columns = [c["name"] for c in json.loads(given.dataset.schema)["mlflow_colspec"]]
    assert columns == [*payload["data"]["features"], "target"]

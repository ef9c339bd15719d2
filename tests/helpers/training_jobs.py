"""A training job (job.json) for the example data, and running the training entrypoint on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers.paths import EXAMPLE_CSV


def job(tmp_path, **overrides) -> dict:
    base = {
        "estimator": "sklearn.linear_model.LogisticRegression",
        "params": {"max_iter": 500},
        "task": "classification",
        "metrics": ["roc_auc", "log_loss"],
        "allowed_estimator_modules": ["sklearn."],
        "data": {
            "uri": EXAMPLE_CSV.as_uri(),
            "format": "csv",
            "sha256": "abc",
            "target": "target",
            "features": ["mean radius", "mean texture", "mean smoothness"],
            "split": {"test_size": 0.25, "seed": 7, "stratify": True},
        },
        "tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "experiment_name": "airflow-ml/unit",
        "artifact_location": (tmp_path / "artifacts").as_uri(),
        "run_name": "unit",
        "tags": {"airflow_ml.pipeline": "unit"},
        "output": str(tmp_path / "result.json"),
    }
    base.update(overrides)
    return base


TASK_CHILD_ENV = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "airflow-db-not-allowed:///"}
"""What Airflow 3's task supervisor sets for a task and so for the training process it
starts: no metadata database (importing ``airflow`` there fails to configure its ORM)."""


def run_job(tmp_path, payload: dict) -> subprocess.CompletedProcess:
    """The training entrypoint in a child process with a task's environment."""
    path = tmp_path / "job.json"
    path.write_text(json.dumps(payload))
    return subprocess.run(
        [sys.executable, "-m", "airflow_ml_provider.ml.train", "--job", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, **TASK_CHILD_ENV},
    )


UNREAD_DATA = {
    "uri": "file:///data-a-unit-test-does-not-read.parquet",
    "target": "label",
    "split": {"test_size": 0.25, "seed": 0, "stratify": True},
}
"""The data section of a job whose test hands the rows over itself."""


def typed_job(partial: dict | None = None, **fields):
    """A TrainingJob (the contract ml/ reads) from a unit test's few fields: what the test
    leaves out of ``data`` (and metrics, task) are placeholders it never reads."""
    from airflow_ml_provider.core.training_job import TrainingJob

    fields = {**(partial or {}), **fields}
    data = {**UNREAD_DATA, **(fields.pop("data", None) or {})}
    data["split"] = {**UNREAD_DATA["split"], **(data.get("split") or {})}
    base = {"task": "classification", "metrics": ["accuracy"]}
    if not ({"estimator", "entrypoint", "image"} & set(fields)):
        base["estimator"] = "sklearn.linear_model.LogisticRegression"
    return TrainingJob.model_validate({**base, **fields, "data": data})

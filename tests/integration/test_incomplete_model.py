"""A model the artifact store could not take whole is removed, never left half-written
(real training entrypoint, real MLflow store, the artifact store on a real 256 KiB tmpfs
that fills up while the model's files are copied into it)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from helpers.training_jobs import job, run_job


@pytest.fixture
def tiny_store(tmp_path):
    """A 256 KiB filesystem: room for a model's small files, not for its weights."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_model_that_does_not_fit_in_the_store_is_removed(tmp_path, tiny_store):
    import mlflow

    payload = job(
        tmp_path,
        estimator="sklearn.ensemble.RandomForestClassifier",
        params={"n_estimators": 300, "random_state": 0},
        artifact_location=(tiny_store / "store").as_uri(),
    )
    done = run_job(tmp_path, payload)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "error: OSError: [Errno 28] No space left on device" in done.stderr
    assert "Traceback" not in done.stderr
    assert "removed the incompletely written model" in done.stdout

    models = tiny_store / "store" / "models"
    assert models.is_dir()  # MLflow did start writing the model there
    left = [Path(root, name) for root, _, names in os.walk(models) for name in names]
    assert left == [] and list(models.iterdir()) == []  # no partial model folder
    mlflow.set_tracking_uri(payload["tracking_uri"])
    experiment = mlflow.get_experiment_by_name(payload["experiment_name"])
    assert mlflow.search_logged_models([experiment.experiment_id], output_format="list") == []
    (run,) = mlflow.search_runs([experiment.experiment_id], output_format="list")
    assert run.info.status == "FAILED"
    assert not (tmp_path / "result.json").exists()

"""A model that runs code while it loads is refused by every load path — the gate, the
deployment smoke test, rollback, batch scoring's verified copy and the serving pod's
entrypoint — before skops sees it (real MLflow store, a real trained model whose skops file
is replaced by one calling builtins.exec, registered by hand as a new version)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.hostile_models import hostile_copy
from helpers.training_jobs import job as entrypoint_job

MODEL = "victim"


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A model trained by the entrypoint (version 1, champion) and a hostile version 2
    registered by hand from a copy of its folder, without a digest."""
    import mlflow

    from airflow_ml_provider.ml import train as train_module
    from airflow_ml_provider.ml.registry.aliases import CHAMPION

    monkeypatch.chdir(tmp_path)
    job = entrypoint_job(tmp_path)
    (tmp_path / "job.json").write_text(json.dumps(job))
    assert train_module.main(["--job", str(tmp_path / "job.json")]) == 0
    result = json.loads((tmp_path / "result.json").read_text())
    uri = job["tracking_uri"]
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = mlflow.MlflowClient(uri, uri)
    client.create_registered_model(MODEL)
    client.create_model_version(MODEL, result["model_uri"], run_id=result["run_id"])
    client.set_registered_model_alias(MODEL, CHAMPION, "1")
    marker = tmp_path / "PWNED"
    real = Path(mlflow.artifacts.download_artifacts(result["model_uri"]))
    hostile = hostile_copy(real, tmp_path / "hostile-model", marker)
    mlflow.set_experiment("by-hand")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(hostile), "model")
    client.create_model_version(MODEL, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    return client, marker, run.info.run_id


def _loads(client):
    from airflow_ml_provider.deployers.alias import AliasDeployer
    from airflow_ml_provider.deployers.rollback import roll_back_serving
    from airflow_ml_provider.ml.evaluation.evaluate import load_model
    from airflow_ml_provider.ml.integrity.model_files import verified_copy
    from airflow_ml_provider.ml.registry.aliases import smoke_test

    def batch_scoring_copy():
        with verified_copy(f"models:/{MODEL}/2"):
            pass

    return {
        "gate": lambda: load_model(f"models:/{MODEL}/2"),
        "deploy smoke test": lambda: smoke_test(f"models:/{MODEL}/2"),
        "batch scoring": batch_scoring_copy,
        "rollback": lambda: roll_back_serving(
            client, AliasDeployer(MODEL), to="2", actor="test", reason="probe"
        ),
    }


def test_a_model_that_runs_code_at_load_is_refused_by_every_load_path(store, monkeypatch):
    from airflow_ml_provider.ml.integrity.model_files import ModelIntegrityError
    from airflow_ml_provider.ml.registry.aliases import CHAMPION, holder

    client, marker, _ = store
    for allow_unverified in ("False", "True"):
        monkeypatch.setenv("AIRFLOW__ML_PROVIDER__ALLOW_UNVERIFIED_MODELS", allow_unverified)
        for path, load in _loads(client).items():
            with pytest.raises(ModelIntegrityError) as caught:
                load()
            reason = "no recorded digest" if allow_unverified == "False" else "builtins.exec"
            assert reason in str(caught.value), (path, str(caught.value))
            assert not marker.exists(), f"{path} ran the model's code"
            assert holder(client, MODEL, CHAMPION) == "1", f"{path} moved champion"


def test_a_digest_does_not_make_a_code_running_type_trusted(store):
    """Someone who can write run tags records a digest for their own hostile files: the
    digest matches, the type list still refuses it."""
    from airflow_ml_provider.ml.evaluation.evaluate import load_model
    from airflow_ml_provider.ml.integrity.model_files import (
        DIGEST_TAG,
        ModelIntegrityError,
        folder_digest,
    )

    client, marker, run_id = store
    import mlflow

    local = Path(mlflow.artifacts.download_artifacts(f"runs:/{run_id}/model"))
    client.set_tag(run_id, DIGEST_TAG, folder_digest(local))
    with pytest.raises(ModelIntegrityError, match="builtins.exec"):
        load_model(f"models:/{MODEL}/2")
    assert not marker.exists()


def test_the_serving_pod_entrypoint_refuses_it(store):
    """python -m airflow_ml_provider.ml.serve_verified, a real process: one line, exit 2,
    no server started, nothing run."""
    import mlflow

    _, marker, _ = store
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": mlflow.get_tracking_uri(),
        "MLFLOW_REGISTRY_URI": mlflow.get_tracking_uri(),
        "AIRFLOW__ML_PROVIDER__ALLOW_UNVERIFIED_MODELS": "True",
    }
    done = subprocess.run(
        [sys.executable, "-m", "airflow_ml_provider.ml.serve_verified", f"models:/{MODEL}/2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "builtins.exec" in done.stderr and "Traceback" not in done.stderr
    assert not marker.exists()

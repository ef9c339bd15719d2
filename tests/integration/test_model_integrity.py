"""Models are verified before they are loaded (real MLflow store, a real model trained by
the training entrypoint): one changed byte in the artifact store, or an MLmodel switched to
pickle, and the gate's loader and the smoke test refuse the model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from helpers.training_jobs import job as entrypoint_job


@pytest.fixture
def trained(tmp_path):
    import mlflow

    from airflow_ml_provider.ml import train as train_module

    job = entrypoint_job(tmp_path)
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    assert train_module.main(["--job", str(path)]) == 0
    result = json.loads((tmp_path / "result.json").read_text())
    mlflow.set_tracking_uri(job["tracking_uri"])
    mlflow.set_registry_uri(job["tracking_uri"])
    client = mlflow.MlflowClient(job["tracking_uri"], job["tracking_uri"])
    client.create_registered_model("integrity")
    client.create_model_version("integrity", result["model_uri"], run_id=result["run_id"])
    local = Path(mlflow.artifacts.download_artifacts(result["model_uri"]))
    stored = next((tmp_path / "artifacts").rglob("model.skops")).parent
    return result["model_uri"], stored, local


def test_a_verified_model_loads_and_a_tampered_one_is_refused(trained):
    from airflow_ml_provider.ml.evaluation.evaluate import load_model
    from airflow_ml_provider.ml.integrity.model_files import ModelIntegrityError
    from airflow_ml_provider.ml.registry.aliases import smoke_test

    model_uri, stored, _ = trained
    assert hasattr(load_model(model_uri), "predict")
    smoke_test("models:/integrity/1")

    weights = stored / "model.skops"
    original = weights.read_bytes()
    weights.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    for load in (lambda: load_model(model_uri), lambda: smoke_test("models:/integrity/1")):
        with pytest.raises(ModelIntegrityError, match="not the ones its training run recorded"):
            load()
    weights.write_bytes(original)

    meta = stored / "MLmodel"
    text = meta.read_text()
    meta.write_text(text.replace("serialization_format: skops", "serialization_format: pickle"))
    with pytest.raises(ModelIntegrityError, match="not the ones its training run recorded"):
        load_model(model_uri)


def test_pickle_and_foreign_skops_types_are_refused_even_unrecorded(trained, tmp_path):
    from airflow_ml_provider.ml.integrity.model_files import ModelIntegrityError, check_loadable

    _, _, local = trained
    meta = local / "MLmodel"
    text = meta.read_text()
    meta.write_text(text.replace("serialization_format: skops", "serialization_format: pickle"))
    with pytest.raises(ModelIntegrityError, match="serialized with pickle"):
        check_loadable(local)
    import yaml

    data = yaml.safe_load(text)
    data["flavors"]["sklearn"]["skops_trusted_types"] = ["os.system"]
    meta.write_text(yaml.safe_dump(data))
    with pytest.raises(ModelIntegrityError, match="outside the allowed modules: os.system"):
        check_loadable(local)


def test_a_pickle_anywhere_in_the_model_is_refused(trained):
    """A torch.save pickle (or any pickle file) beside the declared files, even inside a
    nested model (a team's PyTorch network is one), is refused before anything loads."""
    from airflow_ml_provider.ml.integrity.model_files import ModelIntegrityError, check_loadable

    _, _, local = trained
    check_loadable(local)
    nested = local / "artifacts" / "network" / "data"
    nested.mkdir(parents=True)
    (nested / "model.pth").write_bytes(b"\x80\x04cos\nsystem\n.")
    with pytest.raises(
        ModelIntegrityError, match=r"holds artifacts/network/data/model.pth, a pickle"
    ):
        check_loadable(local)


def test_code_carrying_models_are_refused_unless_verified(tmp_path, monkeypatch):
    """A cloudpickled python_model never loads; a models-from-code model runs its code file
    only when its digest was recorded (real MLflow store, real models) — even where the
    platform allows unverified models."""
    import mlflow
    import mlflow.pyfunc

    from airflow_ml_provider.ml.integrity.model_files import ModelIntegrityError, record_digest
    from airflow_ml_provider.ml.registry.aliases import smoke_test

    class Pickled(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return model_input

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    # This store is new: an experiment another test made active on this worker is not in it.
    mlflow.set_experiment("code-carrying-models")
    code = Path(__file__).parent / "models" / "cannot_serve.py"
    with mlflow.start_run():
        pickled = mlflow.pyfunc.log_model(name="pickled", python_model=Pickled())
        unverified = mlflow.pyfunc.log_model(name="unverified", python_model=str(code))
    with mlflow.start_run():
        verified = mlflow.pyfunc.log_model(name="verified", python_model=str(code))
        record_digest(verified.model_uri)
    with pytest.raises(ModelIntegrityError, match="has no recorded digest"):
        smoke_test(pickled.model_uri)
    monkeypatch.setenv("AIRFLOW__ML_PROVIDER__ALLOW_UNVERIFIED_MODELS", "True")
    with pytest.raises(ModelIntegrityError, match="python_model is cloudpickled"):
        smoke_test(pickled.model_uri)
    with pytest.raises(ModelIntegrityError, match="carries code but has no recorded digest"):
        smoke_test(unverified.model_uri)
    smoke_test(verified.model_uri)  # loads; it has no input example to predict on


def test_the_serving_pods_entrypoint_refuses_a_tampered_model(trained):
    """What a serving pod runs (python -m airflow_ml_provider.ml.serve_verified, real
    process): a model whose weights changed in the store after training exits with one line
    before any server starts, so the pod never becomes ready and the rollout is undone."""
    import os
    import subprocess

    import mlflow

    model_uri, stored, _ = trained
    weights = stored / "model.skops"
    original = weights.read_bytes()
    weights.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": mlflow.get_tracking_uri(),
        "MLFLOW_REGISTRY_URI": mlflow.get_tracking_uri(),
    }
    done = subprocess.run(
        [sys.executable, "-m", "airflow_ml_provider.ml.serve_verified", "models:/integrity/1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "error: models:/integrity/1: the files of models:/integrity/1 are not the ones" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr and "verified" not in done.stdout

"""Models are verified before they are loaded (real MLflow store, a real model trained by
the training entrypoint): one changed byte in the artifact store, or an MLmodel switched to
pickle, and the gate's loader and the smoke test refuse the model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from test_train_entrypoint import job as entrypoint_job  # noqa: E402


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
    from airflow_ml_provider.ml.evaluate import load_model
    from airflow_ml_provider.ml.integrity import ModelIntegrityError
    from airflow_ml_provider.ml.registry import smoke_test

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
    from airflow_ml_provider.ml.integrity import ModelIntegrityError, check_loadable

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

"""A team's own training function (training.entrypoint) through the whole pipeline: real
Airflow (dag.test), real MLflow, native LightGBM and PyTorch (CPU), the gate against a
scikit-learn champion on the same held-out rows, registration, and MLServer answering raw
JSON rows. The team code is tests/acme_models, allowed by
``[ml_provider] allowed_training_modules``."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml

from helpers.pipelines import edit, run, write_pipeline

STUMP = """training:
  estimator: sklearn.tree.DecisionTreeClassifier
  params: {max_depth: 2, random_state: 0}
  runner: local
"""


def entrypoint_training(name: str, params: str) -> str:
    return f"""training:
  entrypoint: acme_models.train:{name}
  task: classification
  params: {params}
  runner: local
"""


@pytest.fixture
def team_code_allowed(monkeypatch):
    monkeypatch.setenv("AIRFLOW__ML_PROVIDER__ALLOWED_TRAINING_MODULES", "acme_models")


def _champion_then(tmp_path, name: str, training: str):
    """The example pipeline: a weak scikit-learn champion first, then the same pipeline
    trained by ``training`` with a validation set (held-out rows unchanged)."""
    path = write_pipeline(tmp_path, name, training=STUMP)
    first = run(path)
    assert first["state"] == "success", first
    assert first["promoted"] is True
    text = path.read_text()
    path.write_text(
        text[: text.index("training:\n")] + training + text[text.index("evaluation:") :]
    )
    edit(
        path,
        "split: {test_size: 0.25, seed: 7, stratify: true}",
        "split: {test_size: 0.25, seed: 7, stratify: true, validation_size: 0.15}",
    )
    return path, first


def _heldout_metric(client, run_id: str, metric: str) -> float:
    return client.get_run(run_id).data.metrics[metric]


def test_native_lightgbm_entrypoint_stops_early_and_beats_the_champion(
    tmp_path, airflow_db, team_code_allowed
):
    from airflow_ml_provider.hooks.mlflow import MlflowHook

    path, first = _champion_then(
        tmp_path, "team_lgb", entrypoint_training("boosted_trees", "{num_boost_round: 400}")
    )
    second = run(path)
    assert second["state"] == "success", second
    assert second["promoted"] is True, second
    assert str(second["model"]["version"]) == "2"

    client = MlflowHook().get_conn()
    run_data = client.get_run(second["mlflow_run_id"]).data
    assert run_data.params["entrypoint"] == "acme_models.train:boosted_trees"
    best = int(run_data.params["entrypoint.best_iteration"])
    history = client.get_metric_history(second["mlflow_run_id"], "validation_logloss")
    assert 1 <= best < 400 and len(history) == best + 20  # stopped 20 rounds after the best
    rows = 569
    assert int(run_data.params["data.rows_test"]) == 143  # the champion's held-out rows
    # scikit-learn's train_test_split rounds a test share up: 426 training rows x 0.2
    assert int(run_data.params["data.rows_validation"]) == math.ceil((rows - 143) * 0.15 / 0.75)
    assert int(run_data.params["data.rows_train"]) == rows - 143 - int(
        run_data.params["data.rows_validation"]
    )
    # The gate scored the LightGBM model through pyfunc on the same rows as the champion.
    metrics = second["metrics"]
    assert second["decision"]["promote"] is True
    assert metrics["challenger"]["roc_auc"] == pytest.approx(
        _heldout_metric(client, second["mlflow_run_id"], "roc_auc")
    )
    assert metrics["champion"]["roc_auc"] == pytest.approx(
        _heldout_metric(client, first["mlflow_run_id"], "roc_auc")
    )
    assert metrics["challenger"]["roc_auc"] > metrics["champion"]["roc_auc"]


def test_a_function_that_returns_no_model_fails_naming_it(tmp_path, airflow_db, team_code_allowed):
    path = write_pipeline(tmp_path, "team_bad", training=entrypoint_training("not_a_model", "{}"))
    result = run(path)
    assert result["state"] == "failed"
    failure = json.dumps(result)
    assert "acme_models.train:not_a_model returned dict" in failure


def test_pytorch_entrypoint_is_gated_registered_and_served_by_mlserver(
    tmp_path, airflow_db, team_code_allowed
):
    pytest.importorskip("torch")
    import mlflow
    import pandas as pd

    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.serving.open_inference import (
        column_types,
        v2_predictions,
        v2_request,
    )
    from helpers.mlserver import mlserver, post_v2
    from helpers.paths import EXAMPLE_CSV

    path, _first = _champion_then(
        tmp_path, "team_torch", entrypoint_training("mlp", "{epochs: 300, width: 16}")
    )
    second = run(path)
    assert second["state"] == "success", second
    assert second["promoted"] is True, second
    client = MlflowHook().get_conn()
    epochs = int(client.get_run(second["mlflow_run_id"]).data.params["entrypoint.epochs_run"])
    assert len(client.get_metric_history(second["mlflow_run_id"], "validation_loss")) == epochs

    version = client.get_model_version("team_torch_model", "2")
    model_dir = tmp_path / "served"
    mlflow.artifacts.download_artifacts(
        f"models:/team_torch_model/{version.version}", dst_path=str(model_dir)
    )
    nested = [yaml.safe_load(p.read_text()) for p in model_dir.glob("*/**/MLmodel")]
    assert [sorted(m["flavors"]) for m in nested] == [["python_function", "pytorch"]]
    assert [p.name for p in model_dir.rglob("model.*")] == ["model.pt2"]  # torch.export
    rows = pd.read_csv(EXAMPLE_CSV).drop(columns=["target"]).head(3)
    records = json.loads(rows.to_json(orient="records"))
    types = column_types(
        mlflow.pyfunc.load_model(str(model_dir)).metadata.get_input_schema().to_json()
    )
    with mlserver(model_dir, "team-torch", tmp_path / "mlserver") as port:
        status, body = post_v2(
            port, "team-torch", v2_request({"dataframe_records": records}, types)
        )
    assert status == 200, body
    probabilities = np.asarray(v2_predictions(body), dtype=float).reshape(3, 2)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)

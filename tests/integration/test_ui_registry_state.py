"""What the pages read from MLflow, against a real MLflow store (SQLite): aliases, history and
the champions' metrics, for models found by the registry tag and for older untagged ones."""

from __future__ import annotations

from mlflow import MlflowClient

from airflow_ml_provider.ml.registry.aliases import PIPELINE_MODEL_TAG, promote
from airflow_ml_provider.ui.registry_state import model_states


def _seed(client: MlflowClient, name: str, experiment: str, aucs: list[float], tagged: bool):
    experiment_id = client.create_experiment(experiment)
    client.create_registered_model(name, tags={PIPELINE_MODEL_TAG: name} if tagged else None)
    for version, auc in enumerate(aucs, start=1):
        run = client.create_run(experiment_id)
        client.log_metric(run.info.run_id, "roc_auc", auc)
        client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id)
        if auc == max(aucs[:version]):
            promote(client, name, version, actor="test", reason=f"auc {auc}")


def test_model_states_for_tagged_and_untagged_models(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri, uri)
    models = {}
    for i in range(6):  # more than FEW_MODELS: the tag search path is used
        name = f"model_{i}"
        models[name] = f"exp_{i}"
        _seed(client, name, f"exp_{i}", [0.8, 0.9 + i / 100, 0.85], tagged=i % 2 == 0)
    models["never_registered"] = "exp_none"

    states = model_states(client, models)

    for i in range(6):
        state = states[f"model_{i}"]
        assert [v.version for v in state.versions] == [1, 2, 3]
        assert state.champion.version == 2
        assert state.champion.metrics == {"roc_auc": 0.9 + i / 100}
        assert [v.aliases for v in state.versions] == [["previous"], ["champion"], []]
        moves = [(h["alias"], h["from"], h["to"]) for h in state.history]
        assert moves == [("champion", None, "1"), ("previous", None, "1"), ("champion", "1", "2")]
        assert state.last_promoted is not None
    assert states["never_registered"].versions == []
    assert states["never_registered"].champion is None

    every = model_states(client, {"model_3": "exp_3"}, all_metrics=True)["model_3"]
    assert [v.metrics["roc_auc"] for v in every.versions] == [0.8, 0.93, 0.85]

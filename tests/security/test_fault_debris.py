"""A registration cut off between writing the version and moving champion leaves no version
tagged ``airflow_ml.gate=promote`` without the promotion (real Airflow DB and MLflow store; the
fault is injected into the alias move, as a killed worker would leave it)."""

from __future__ import annotations

import datetime as dt

import mlflow
import pytest
from sklearn.dummy import DummyClassifier


def test_a_registration_cut_off_before_the_alias_move_is_not_tagged_promote(
    airflow_db, monkeypatch
):
    from airflow.sdk import DAG

    from airflow_ml_provider.cli.airflow_compat import serialize_dag
    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.ml.registry.aliases import CHAMPION, holder
    from airflow_ml_provider.operators import registry as registry_operators

    def killed(*args, **kwargs):
        raise RuntimeError("worker killed before champion moved")

    monkeypatch.setattr(registry_operators, "promote", killed)
    client = MlflowHook().get_conn()
    mlflow.set_experiment("fault-debris")
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(DummyClassifier().fit([[0], [1]], [0, 1]), name="model")
    name = "debris_model"
    with DAG("debris_ct", schedule=None, start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)) as dag:
        registry_operators.RegisterModelOperator(
            task_id="register_model",
            training={"run_id": run.info.run_id, "model_uri": info.model_uri},
            decision={"promote": True, "reason": "better", "champion_version": None},
            model_name=name,
            retries=0,
        )
    serialize_dag(dag)
    assert dag.test().state == "failed"
    (version,) = client.search_model_versions(f"name='{name}'")
    assert version.tags["airflow_ml.gate"] == "pending"
    assert holder(client, name, CHAMPION) is None


@pytest.mark.parametrize("training", ["in_process", "subprocess"])
def test_a_read_only_store_is_reported_by_its_cause_in_one_line(
    tmp_path, airflow_db, monkeypatch, training
):
    """The MLflow store turns read-only after a first run (SQLite opened read-only: running as
    root, file modes would not stop a write). The next run fails in train_model saying the
    database's own cause in one line, not SQLAlchemy's autoflush hint around it."""
    import json

    from airflow_ml_provider import settings
    from airflow_ml_provider.cli.local_run import run_pipeline_file
    from helpers.pipelines import write_pipeline

    monkeypatch.setenv("AIRFLOW__ML_PROVIDER__LOCAL_TRAINING", training)
    path = write_pipeline(tmp_path, f"read_only_{training}")
    assert run_pipeline_file(path)["state"] == "success"

    read_only = f"sqlite:///file:{settings.embedded_store_path()}?mode=ro&uri=true"
    connection = {"conn_type": "mlflow", "extra": {"tracking_uri": read_only}}
    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", json.dumps(connection))
    result = run_pipeline_file(path, retrain=True)
    assert result["state"] == "failed"
    assert result["error"]["task"] == "train_model"
    assert result["error"]["message"] == (
        "training failed: MlflowException: sqlite3.OperationalError: attempt to write a "
        "readonly database"
    )

"""A registration cut off between writing the version and moving champion leaves no version
tagged ``airflow_ml.gate=promote`` without the promotion (real Airflow DB and MLflow store; the
fault is injected into the alias move, as a killed worker would leave it)."""

from __future__ import annotations

import datetime as dt

import mlflow
from sklearn.dummy import DummyClassifier


def test_a_registration_cut_off_before_the_alias_move_is_not_tagged_promote(
    airflow_db, monkeypatch
):
    from airflow.sdk import DAG

    from airflow_ml_provider.airflow_compat import serialize_dag
    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.ml.registry import CHAMPION, holder
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

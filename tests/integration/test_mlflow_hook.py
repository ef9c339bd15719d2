"""The MLflow hook resolves the `mlflow` connection, or falls back to the embedded default."""

from __future__ import annotations

import json

from airflow_ml_provider.hooks.mlflow import MlflowHook


def test_absent_connection_means_the_embedded_default(airflow_home, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_MLFLOW_DEFAULT", raising=False)
    hook = MlflowHook()
    assert hook.is_embedded
    assert hook.tracking_uri == f"sqlite:///{airflow_home / 'mlflow.db'}"
    assert hook.experiment_artifact_location("airflow-ml/x") == (
        f"{(airflow_home / 'mlartifacts').as_uri()}/airflow-ml_x"
    )
    assert hook.subprocess_env() == {
        "MLFLOW_TRACKING_URI": hook.tracking_uri,
        "MLFLOW_DISABLE_TELEMETRY": "true",  # MLflow's telemetry off in what we start
        "DO_NOT_TRACK": "true",
        "MLFLOW_CONFIGURE_LOGGING": "true",  # a process's own output, relayed at info
    }
    # Nobody serves the embedded store: no link (a link to an idle :5000 helps nobody)...
    monkeypatch.delenv("AIRFLOW__ML_PROVIDER__MLFLOW_UI_URL", raising=False)
    assert hook.ui_url is hook.run_url("1", "abc") is hook.model_url("m") is None
    # ...until the platform says where its UI is.
    monkeypatch.setenv("AIRFLOW__ML_PROVIDER__MLFLOW_UI_URL", "https://mlflow.example.com/")
    assert hook.run_url("1", "abc") == "https://mlflow.example.com/#/experiments/1/runs/abc"


def test_http_connection_with_credentials(monkeypatch):
    connection = {
        "conn_type": "mlflow",
        "host": "https://mlflow.example.com",
        "login": "trainer",
        "password": "s3cret",
    }
    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_PROD", json.dumps(connection))
    hook = MlflowHook("mlflow_prod")
    assert not hook.is_embedded
    assert hook.tracking_uri == "https://mlflow.example.com"
    assert hook.artifact_location_root is None  # the server decides
    assert hook.subprocess_env() == {
        "MLFLOW_TRACKING_URI": "https://mlflow.example.com",
        "MLFLOW_TRACKING_USERNAME": "trainer",
        "MLFLOW_TRACKING_PASSWORD": "s3cret",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "MLFLOW_CONFIGURE_LOGGING": "true",
    }
    assert hook.model_version_url("churn model", 3) == (
        "https://mlflow.example.com/#/models/churn%20model/versions/3"
    )


def test_tracking_uri_and_token_from_extra(monkeypatch):
    connection = {"conn_type": "mlflow", "extra": {"tracking_uri": "databricks", "token": "t0k"}}
    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_DBX", json.dumps(connection))
    hook = MlflowHook("mlflow_dbx")
    assert hook.tracking_uri == "databricks"
    assert hook.subprocess_env()["MLFLOW_TRACKING_TOKEN"] == "t0k"

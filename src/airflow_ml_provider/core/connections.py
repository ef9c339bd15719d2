"""Default Airflow connection ids, each in one place (the spec's defaults and the hooks' share
them)."""

MLFLOW_CONN_ID = "mlflow_default"
"""The MLflow connection; when it does not exist, the embedded store is used."""

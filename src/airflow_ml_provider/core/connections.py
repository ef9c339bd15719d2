"""Default Airflow connection ids, each in one place (the spec's defaults and the hooks' share
them)."""

MLFLOW_CONN_ID = "mlflow_default"
"""The MLflow connection; when it does not exist, the embedded store is used."""
KUBERNETES_CONN_ID = "kubernetes_default"
"""The cluster connection (cncf.kubernetes provider's default) of training and serving pods."""

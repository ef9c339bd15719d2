"""Default Airflow connection ids, each in one place (the spec's defaults and the hooks' share
them)."""

MLFLOW_CONN_ID = "mlflow_default"
"""The MLflow connection; when it does not exist, the embedded store is used."""
KUBERNETES_CONN_ID = "kubernetes_default"
"""The cluster connection (cncf.kubernetes provider's default) of training and serving pods."""
SMTP_CONN_ID = "smtp_default"
"""The SMTP connection alert and summary mails are sent through."""
GCP_CONN_ID = "google_cloud_default"
"""The Google Cloud connection of BigQuery sources and outputs."""
"""The cluster connection (cncf.kubernetes provider's default) of training and serving pods."""

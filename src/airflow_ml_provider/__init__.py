"""airflow-ml-provider: YAML-defined continuous-training pipelines for Apache Airflow 3.

Nothing heavy is imported here: Airflow calls :func:`get_provider_info` while it
discovers providers, and the DAG processor imports this package at parse time.
"""

from __future__ import annotations

__version__ = "0.1.0"

PACKAGE_NAME = "airflow-ml-provider"


def get_provider_info() -> dict:
    """Return the provider metadata Airflow's ProvidersManager reads."""
    return {
        "package-name": PACKAGE_NAME,
        "name": "ML pipelines",
        "description": "Continuous-training ML pipelines from YAML: validate, train, "
        "evaluate against the champion, register in MLflow, deploy.",
        "versions": [__version__],
        "connection-types": [
            {
                "connection-type": "mlflow",
                "hook-class-name": "airflow_ml_provider.hooks.mlflow.MlflowHook",
                "hook-name": "MLflow",
            }
        ],
        "extra-links": [
            "airflow_ml_provider.operators.links.MlflowRunLink",
            "airflow_ml_provider.operators.links.ModelVersionLink",
            "airflow_ml_provider.operators.links.DataDocsLink",
            "airflow_ml_provider.operators.links.PredictionsLink",
        ],
        "config": {
            "ml_provider": {
                "description": "Settings of airflow-ml-provider.",
                "options": {
                    "allowed_estimator_modules": {
                        "description": "Comma-separated module prefixes a pipeline's "
                        "training.estimator may be imported from.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "sklearn.,lightgbm.,xgboost.,mycompany.models.",
                        "default": "sklearn.,lightgbm.,xgboost.",
                    },
                    "allowed_notifier_modules": {
                        "description": "Comma-separated module prefixes a pipeline's "
                        "alerts.notifiers classes may be imported from.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "airflow.providers.,mycompany.alerts.",
                        "default": "airflow.providers.",
                    },
                    "mlflow_ui_url": {
                        "description": "Base URL of the MLflow UI used in extra links when "
                        "the tracking store is not an HTTP server (the embedded default).",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "https://mlflow.example.com",
                        "default": "http://127.0.0.1:5000",
                    },
                    "artifact_store_url": {
                        "description": "Base URL under which people can open files of the "
                        "artifact store (Data Docs). Empty: gs:// links open in the Cloud "
                        "console, s3:// in the S3 console, local files as file:// URIs.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "https://artifacts.example.com/ml-artifacts",
                        "default": "",
                    },
                    "artifact_store": {
                        "description": "Where dataset snapshots and validation results are "
                        "stored (local folder, file://, gs:// or s3://). Empty means "
                        "$AIRFLOW_HOME/ml-artifacts.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "gs://my-bucket/ml-artifacts",
                        "default": "",
                    },
                },
            }
        },
    }

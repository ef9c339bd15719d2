"""Where things live on the embedded default, and the provider's own Airflow config."""

from __future__ import annotations

import os
from pathlib import Path

from airflow_ml_provider.spec.models import DEFAULT_ESTIMATOR_PREFIXES

SECTION = "ml_provider"


def airflow_home() -> Path:
    """$AIRFLOW_HOME, or ./.airflow-ml when unset (never the user's real ~/airflow)."""
    return Path(os.environ.get("AIRFLOW_HOME") or Path.cwd() / ".airflow-ml").resolve()


def _conf_get(key: str, fallback: str) -> str:
    try:
        from airflow.sdk.configuration import conf
    except ImportError:  # inside the training pod Airflow is not installed
        return os.environ.get(f"AIRFLOW__{SECTION.upper()}__{key.upper()}", fallback)
    return conf.get(SECTION, key, fallback=fallback) or fallback


def allowed_estimator_modules() -> tuple[str, ...]:
    """Module prefixes a training.estimator may come from ([ml_provider] config)."""
    raw = _conf_get("allowed_estimator_modules", ",".join(DEFAULT_ESTIMATOR_PREFIXES))
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def artifact_store() -> str:
    """Root URI for dataset snapshots and validation results."""
    configured = _conf_get("artifact_store", "")
    if configured:
        return configured if "://" in configured else Path(configured).resolve().as_uri()
    return (airflow_home() / "ml-artifacts").as_uri()


def embedded_tracking_uri() -> str:
    """MLflow tracking store used when no mlflow connection exists."""
    return f"sqlite:///{airflow_home() / 'mlflow.db'}"


def embedded_artifact_root() -> str:
    """Where the embedded MLflow store keeps model artifacts."""
    return (airflow_home() / "mlartifacts").as_uri()


def mlflow_ui_url() -> str:
    """Where people open the MLflow UI for a non-HTTP store (``mlflow ui`` listens here)."""
    return _conf_get("mlflow_ui_url", "http://127.0.0.1:5000").rstrip("/")

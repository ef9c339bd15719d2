"""What new data is compared with for drift: the data that trained the current champion.

Shared by validate_data (each training run), the monitor DAG's check_drift and the drift
watcher's trigger (``check_drift``, here so triggers need no operator module).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from airflow.sdk import ObjectStoragePath

from airflow_ml_provider.core.formats import format_of
from airflow_ml_provider.ml.registry.aliases import CHAMPION

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


def profile_path(data_uri: str) -> ObjectStoragePath:
    """A baseline given as a profile JSON is that file; data has its profile beside it."""
    from airflow_ml_provider.ml.drift.profile import profile_uri

    return ObjectStoragePath(profile_uri(data_uri))


def drift_baseline(
    model_name: str | None, mlflow_conn_id: str, baseline_uri: str | None = None
) -> tuple[str | None, Any]:
    """(uri, profile dict or DataFrame) of ``baseline_uri`` or else of the training data of
    ``model_name``'s champion (its MLflow run's ``airflow_ml.data_uri`` tag); (None, None)
    when there is nothing to compare with. The compact profile stored beside a validated
    snapshot is read instead of the data when it exists."""
    return read_baseline(*baseline_source(model_name, mlflow_conn_id, baseline_uri))


def read_baseline(uri: str | None, data_format: str) -> tuple[str | None, Any]:
    """(uri, its profile or else its data) of a drift baseline; (None, None) when there is
    none or its data is gone."""
    from airflow_ml_provider.storage.frames import read_stored_frame

    if uri is None:
        return None, None
    profile = profile_path(uri)
    if profile.exists():
        return uri, json.loads(profile.read_text())
    if not ObjectStoragePath(uri).exists():
        log.warning("champion training data %s no longer exists; drift skipped", uri)
        return None, None
    return uri, read_stored_frame(uri, data_format)


def baseline_source(
    model_name: str | None, mlflow_conn_id: str, baseline_uri: str | None = None
) -> tuple[str | None, str]:
    """(uri, format) of the drift baseline — ``baseline_uri``, else the training data of
    ``model_name``'s champion — without reading it; (None, "parquet") when there is none."""
    uri, data_format = baseline_uri, None
    if uri is None and model_name:
        uri, data_format = champion_data(model_name, mlflow_conn_id)
    return uri, data_format or (format_of(uri) if uri else None) or "parquet"


def champion_data(model_name: str, mlflow_conn_id: str) -> tuple[str | None, str | None]:
    """(data URI, format) that trained the champion of ``model_name``, or (None, None)."""
    from mlflow.exceptions import MlflowException

    from airflow_ml_provider.hooks.mlflow import MlflowHook

    client = MlflowHook(mlflow_conn_id).get_conn()
    try:
        version = client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        log.info("%s has no champion yet: nothing to compare drift with", model_name)
        return None, None
    tags = client.get_run(version.run_id).data.tags
    uri = tags.get("airflow_ml.data_uri")
    if not uri:
        log.warning(
            "champion %s v%s has no airflow_ml.data_uri tag; drift skipped",
            model_name,
            version.version,
        )
    return uri, tags.get("airflow_ml.data_format")


def check_drift(
    frame: pd.DataFrame,
    model_name: str,
    mlflow_conn_id: str,
    drift: dict[str, Any],
    columns: list[str] | None = None,
) -> dict[str, Any]:
    """Compare ``frame`` with the data that trained ``model_name``'s champion (shared by
    DriftMonitorOperator and DriftEventTrigger); the result DriftMonitorOperator returns."""
    from airflow_ml_provider.ml.drift.detection import (
        drift_report,
        drift_summary_line,
        format_drift_table,
    )
    from airflow_ml_provider.ml.drift.options import report_options

    baseline_uri, baseline = drift_baseline(model_name, mlflow_conn_id)
    if baseline is None:
        return skipped(f"{model_name} has no champion training data to compare with yet")
    known = baseline["columns"] if isinstance(baseline, dict) else list(baseline.columns)
    compared = [c for c in (columns or list(frame.columns)) if c in known]
    options = report_options(drift)
    report = drift_report(baseline, frame[compared], columns=compared, **options)
    log.info("drift against %s\n%s", baseline_uri, format_drift_table(report))
    return {
        "retrain": bool(report["drift"]),
        "reason": f"drift: {drift_summary_line(report)}",
        "baseline_uri": baseline_uri,
        "rows": len(frame),
        "report": report,
    }


def skipped(why: str) -> dict[str, Any]:
    """A monitor check's result when it could not compare (no champion, too few rows)."""
    return {"retrain": False, "skipped": why, "reason": why}

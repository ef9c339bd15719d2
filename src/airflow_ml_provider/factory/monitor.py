"""The drift monitor of a pipeline: ``<pipeline>__monitor`` (monitoring.mode: dag) or the
AssetWatcher on the pipeline's retrain Asset (monitoring.mode: watcher)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import DAG, Asset, BaseOperator, chain

from airflow_ml_provider.factory.built import needed
from airflow_ml_provider.factory.dag_args import EPOCH, as_datetime, default_args
from airflow_ml_provider.operators.monitoring import (
    DriftMonitorOperator,
    LiveMetricsOperator,
    RequestRetrainingOperator,
    retrain_asset_uri,
)
from airflow_ml_provider.operators.snapshot import SnapshotDataOperator
from airflow_ml_provider.pipeline_spec.loader import LoadedPipeline
from airflow_ml_provider.ui.card import MONITOR_TAG, PIPELINE_TAG

if TYPE_CHECKING:
    from airflow_ml_provider.pipeline_spec.models import PipelineSpec

MONITOR_SUFFIX = "__monitor"


def retrain_asset(loaded: LoadedPipeline) -> Asset | None:
    """The Asset a monitor updates to retrain this pipeline (None without monitoring); with
    ``monitoring.mode: watcher`` it carries the DriftEventTrigger that watches the data."""
    spec = loaded.spec
    monitoring = spec.monitoring
    if monitoring is None:
        return None
    uri = retrain_asset_uri(spec.pipeline)
    if monitoring.mode != "watcher":
        return Asset(uri)
    from airflow.sdk import AssetWatcher

    from airflow_ml_provider.triggers.drift import DriftEventTrigger

    trigger = DriftEventTrigger(
        source=dict(loaded.monitoring_source or {}),
        poll_interval=monitoring.poll_interval.total_seconds(),
        **_drift_check_arguments(spec),
    )
    return Asset(uri, watchers=[AssetWatcher(name=f"{spec.pipeline}-drift", trigger=trigger)])


def _drift_check_arguments(spec: PipelineSpec) -> dict[str, Any]:
    """What the monitor's drift check needs, as DriftMonitorOperator and DriftEventTrigger
    take it."""
    return {
        "model_name": spec.model_name,
        "drift": needed(spec.monitoring, "monitoring").drift.model_dump(),
        "columns": list(spec.data.features or []) or None,
        "mlflow_conn_id": spec.registry.mlflow_conn_id,
    }


def monitor_dag_id(pipeline: str) -> str:
    return f"{pipeline}{MONITOR_SUFFIX}"


def build_monitor_dag(loaded: LoadedPipeline) -> DAG:
    """``<pipeline>__monitor``: snapshot recent data, compare it with the champion's training
    data, and update the pipeline's retrain Asset (which the training DAG is scheduled on)
    when it drifted."""
    spec = loaded.spec
    monitoring = spec.monitoring
    if monitoring is None or loaded.monitoring_source is None:
        raise ValueError(f"pipeline {spec.pipeline} has no monitoring section")
    with DAG(
        dag_id=monitor_dag_id(spec.pipeline),
        description=f"Drift monitor of {spec.pipeline}: retrains it when recent data drifts.",
        schedule=monitoring.schedule,
        start_date=as_datetime(spec.start_date) or EPOCH,
        catchup=False,
        max_active_runs=1,
        tags=list(dict.fromkeys([*spec.tags, PIPELINE_TAG, MONITOR_TAG])),
        default_args=default_args(spec),
    ) as dag:
        snapshot = SnapshotDataOperator(
            task_id="snapshot_recent_data",
            source=dict(loaded.monitoring_source),
            pipeline=monitor_dag_id(spec.pipeline),
            data_format=monitoring.resolved_format,
        )
        check = DriftMonitorOperator(
            task_id="check_drift", snapshot=snapshot.output, **_drift_check_arguments(spec)
        )
        checks: list[BaseOperator] = [check]
        labels = monitoring.labels
        if labels is not None:
            labelled = SnapshotDataOperator(
                task_id="snapshot_labels",
                source=dict(loaded.labels_source or {}),
                pipeline=monitor_dag_id(spec.pipeline),
                data_format=labels.resolved_format,
            )
            checks.append(
                LiveMetricsOperator(
                    task_id="check_live_metrics",
                    recent=snapshot.output,
                    labels=labelled.output,
                    join_on=list(labels.join_on),
                    target=spec.data.target,
                    model_name=spec.model_name,
                    metrics=spec.evaluation.all_metrics,
                    max_drop=labels.max_drop,
                    min_rows=labels.min_rows,
                    mlflow_conn_id=spec.registry.mlflow_conn_id,
                )
            )
        request = RequestRetrainingOperator(
            task_id="request_retraining",
            checks=[task.output for task in checks],
            outlets=[Asset(retrain_asset_uri(spec.pipeline))],
        )
        chain(snapshot, check, request)
    return dag

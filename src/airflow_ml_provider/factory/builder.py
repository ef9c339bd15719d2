"""spec → DAG. Imports only Airflow's authoring API (parse time is sacred)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from airflow.sdk import DAG, Asset, chain

from airflow_ml_provider import settings
from airflow_ml_provider.factory.docs import error_doc, pipeline_doc
from airflow_ml_provider.factory.schedules import dag_schedule
from airflow_ml_provider.notifications.notifier import ConfiguredNotifier, TaskAlertNotifier
from airflow_ml_provider.operators.batch_scoring import BatchScoringOperator
from airflow_ml_provider.operators.config_error import ConfigErrorOperator
from airflow_ml_provider.operators.deployment import AliasDeploymentOperator
from airflow_ml_provider.operators.evaluation import EvaluateModelOperator
from airflow_ml_provider.operators.monitoring import (
    DriftMonitorOperator,
    LiveMetricsOperator,
    RequestRetrainingOperator,
    retrain_asset_uri,
)
from airflow_ml_provider.operators.notify import RunSummaryOperator
from airflow_ml_provider.operators.partitions import (
    PLAN_XCOM,
    AssemblePartitionedModelOperator,
    PlanPartitionsOperator,
)
from airflow_ml_provider.operators.registry import RegisterModelOperator
from airflow_ml_provider.operators.snapshot import SnapshotDataOperator
from airflow_ml_provider.operators.training import TRAINING_JOB_ARGUMENTS, LocalTrainingOperator
from airflow_ml_provider.operators.validation import ValidateDataOperator
from airflow_ml_provider.sensors.data import NewDataSensor
from airflow_ml_provider.spec.loader import LoadedPipeline
from airflow_ml_provider.spec.models import PartitioningSpec
from airflow_ml_provider.ui.card import CONFIG_ERROR_TAG, MONITOR_TAG, PIPELINE_TAG

MONITOR_SUFFIX = "__monitor"
_EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _as_datetime(value: dt.date | dt.datetime | None) -> dt.datetime:
    if value is None:
        return _EPOCH
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)


def _freshness(data) -> dict | None:
    if data.freshness is None:
        return None
    return {
        "column": data.freshness.column,
        "max_age_seconds": data.freshness.max_age.total_seconds(),
    }


def _training_runner(loaded: LoadedPipeline) -> tuple[type, dict]:
    """The operator class of training.runner and its runner-specific arguments."""
    pod = loaded.spec.training.kubernetes
    if loaded.spec.training.runner != "kubernetes" or pod is None:
        return LocalTrainingOperator, {}
    # Imported only for pipelines that train in pods: the cncf.kubernetes provider and the
    # Kubernetes client cost seconds to import, which every local-runner DAG would pay.
    from airflow_ml_provider.operators.kubernetes_training import (
        KubernetesTrainingOperator,
        pod_arguments,
    )

    return KubernetesTrainingOperator, pod_arguments(loaded)


def _default_args(spec) -> dict:
    """Every task's owner, retry policy and time limit, and the failure/retry mails."""
    args = {"owner": spec.owner, "retries": spec.retries, "retry_delay": spec.retry_delay}
    # Only what differs from Airflow's defaults: every default arg costs time in every task.
    optional = {
        "retry_exponential_backoff": spec.retry_exponential_backoff or None,
        "max_retry_delay": spec.max_retry_delay,
        "execution_timeout": spec.execution_timeout,
    }
    args.update((key, value) for key, value in optional.items() if value is not None)
    alerts = spec.alerts
    others = [ConfiguredNotifier(n.class_, n.kwargs) for n in alerts.notifiers]
    for event, callback in (("failure", "on_failure_callback"), ("retry", "on_retry_callback")):
        if event not in alerts.on:
            continue
        mail = [TaskAlertNotifier(event, alerts.email, alerts.smtp_conn_id)] if alerts.email else []
        if mail or others:
            args[callback] = [*mail, *others]
    return args


def _stalled(spec):
    """The DeadlineAlert of `stalled` (alerts.deadline after the logical date), or None."""
    alerts = spec.alerts
    if "stalled" not in alerts.on or alerts.deadline is None:
        return None
    from airflow_ml_provider.notifications.deadline import stalled_deadline

    return stalled_deadline(spec.pipeline, alerts.deadline, alerts.email, alerts.smtp_conn_id)


def _apply_step_policies(dag: DAG, spec) -> None:
    """steps: {<task id>: {retries, retry_delay, ...}} over the pipeline-wide values."""
    for step, policy in spec.steps.items():
        task = dag.task_dict[step]
        for field, value in policy.model_dump(exclude_none=True).items():
            setattr(task, field, value)


def _deployment(spec) -> tuple[type, dict]:
    """The deploy_model operator class of deployment.strategy and its own arguments."""
    server = spec.deployment.kubernetes
    if spec.deployment.strategy != "kubernetes" or server is None:
        return AliasDeploymentOperator, {}
    # Imported only for pipelines that deploy to Kubernetes (the provider costs seconds).
    from airflow_ml_provider.operators.kubernetes_deployment import KubernetesDeploymentOperator

    canary = server.canary
    arguments = {
        **server.model_dump(exclude={"canary", "rollout_timeout"}),
        "rollout_timeout": server.rollout_timeout.total_seconds(),
    }
    if canary is not None:
        arguments.update(
            canary_percent=canary.percent,
            canary_duration=canary.duration.total_seconds(),
            canary_interval=canary.interval.total_seconds(),
            canary_checks=list(canary.checks),
        )
    return KubernetesDeploymentOperator, arguments


def _search(spec) -> dict | None:
    """training.search as the job takes it, scored by the primary metric unless it says."""
    search = spec.training.search
    if search is None:
        return None
    return {**search.model_dump(), "scoring": search.scoring or spec.evaluation.primary_metric}


def champion_asset(model_name: str) -> Asset:
    """The Asset updated each time a new champion of ``model_name`` is deployed; downstream
    DAGs can use it as their schedule. The ``x-`` scheme is Airflow's convention for URIs no
    provider normalises: other schemes make Airflow load every provider's asset handlers
    (0.5 s and google.cloud.storage) while parsing."""
    return Asset(f"x-mlmodel://{model_name}/champion")


def _partitioned_training(spec, snapshot, validate, runner_class, training_args: dict) -> list:
    """plan_partitions → train_partitions (the runner, mapped over chunks) → assemble_model."""
    data = spec.data
    settings = spec.training.partitioning or PartitioningSpec()
    plan = PlanPartitionsOperator(
        task_id="plan_partitions",
        snapshot=snapshot.output,
        target=data.target,
        partition_by=data.partition_by,
        task=spec.training.task_type,
        features=data.features,
        split=data.split.model_dump(),
        min_partition_rows=settings.min_partition_rows,
        partitions_per_task=settings.partitions_per_task,
    )
    chunks = runner_class.partial(
        task_id="train_partitions",
        snapshot=snapshot.output,
        execution_timeout=spec.training.timeout,
        max_active_tis_per_dagrun=settings.max_parallel,
        **training_args,
    ).expand(partitions=plan.output)
    assemble = AssemblePartitionedModelOperator(
        task_id="assemble_model",
        snapshot=snapshot.output,
        validation=validate.output,
        plan=plan.output[PLAN_XCOM],
        results=chunks.output,
        min_success_ratio=settings.min_success_ratio,
        **{k: v for k, v in training_args.items() if k in TRAINING_JOB_ARGUMENTS},
    )
    return [plan, chunks, assemble]


def build_dag(loaded: LoadedPipeline) -> DAG:
    """Build the continuous-training DAG of one validated pipeline spec."""
    spec = loaded.spec
    conn = spec.registry.mlflow_conn_id
    data = spec.data
    split = data.split.model_dump()
    task = spec.training.task_type
    with DAG(
        dag_id=spec.pipeline,
        description=spec.description or None,
        schedule=dag_schedule(spec.schedule, loaded.source_uri, _retrain_asset(loaded)),
        start_date=_as_datetime(spec.start_date),
        catchup=spec.catchup,
        max_active_runs=spec.max_active_runs,  # 1 by default: runs must not race on aliases
        dagrun_timeout=spec.dagrun_timeout,
        tags=list(dict.fromkeys([*spec.tags, PIPELINE_TAG])),
        default_args=_default_args(spec),
        doc_md=pipeline_doc(
            loaded,
            monitor_dag_id(spec.pipeline)
            if spec.monitoring is not None and spec.monitoring.mode == "dag"
            else None,
        ),
        deadline=_stalled(spec),
    ) as dag:
        snapshot = SnapshotDataOperator(
            task_id="snapshot_data",
            source=dict(loaded.source),
            pipeline=spec.pipeline,
            data_format=data.resolved_format,
        )
        validation = spec.validation
        validate = ValidateDataOperator(
            task_id="validate_data",
            snapshot=snapshot.output,
            expectations=[dict(item) for item in validation.expectations],
            target=data.target,
            columns=[*data.features, data.target] if data.features else None,
            schema=loaded.schema_uri or validation.schema_,
            pipeline=spec.pipeline,
            max_duplicate_share=validation.max_duplicate_share,
            max_null_rate_increase=validation.max_null_rate_increase,
            freshness=_freshness(data),
            drift=validation.drift.model_dump() if validation.drift else None,
            model_name=spec.model_name,
            mlflow_conn_id=conn,
            on_failure=validation.on_failure,
            task=task,
            retries=0,  # bad data does not get better by retrying
        )
        runner_class, runner_args = _training_runner(loaded)
        training_args = {
            "pipeline": spec.pipeline,
            "target": data.target,
            "features": data.features,
            "estimator": spec.training.estimator,
            "estimator_params": dict(spec.training.params),
            "feature_preprocessing": spec.features.model_dump(mode="json", by_alias=True),
            "task": task,
            "metrics": spec.evaluation.all_metrics,
            "split": split,
            "experiment_name": spec.experiment_name,
            "config_hash": loaded.config_hash,
            "mlflow_conn_id": conn,
            "search": _search(spec),
            "pipeline_file": str(loaded.file),
            "partition_by": data.partition_by,
        }
        if data.partition_by is None:
            train = runner_class(
                task_id="train_model",
                snapshot=snapshot.output,
                validation=validate.output,
                execution_timeout=spec.training.timeout,
                **training_args,
                **runner_args,
            )
            training_steps = [train]
        else:
            training_steps = _partitioned_training(
                spec, snapshot, validate, runner_class, {**training_args, **runner_args}
            )
            train = training_steps[-1]
        evaluate = EvaluateModelOperator(
            task_id="evaluate_model",
            training=train.output,
            snapshot=snapshot.output,
            model_name=spec.model_name,
            target=data.target,
            features=data.features,
            split=split,
            task=task,
            primary_metric=spec.evaluation.primary_metric,
            metrics=spec.evaluation.all_metrics,
            thresholds=dict(spec.evaluation.thresholds),
            min_improvement=spec.evaluation.min_improvement,
            mlflow_conn_id=conn,
            partition_by=data.partition_by,
            per_partition=(
                spec.evaluation.per_partition.model_dump()
                if spec.evaluation.per_partition
                else None
            ),
            max_regression=dict(spec.evaluation.max_regression),
            confidence=spec.evaluation.confidence,
            bootstrap_samples=spec.evaluation.bootstrap_samples,
            slices=[item.model_dump() for item in spec.evaluation.slices],
            first_run=spec.evaluation.first_run,
            # Permutation importance of a router means a routed prediction per feature and
            # repeat over every partition: not yet (the per-partition table covers it).
            importance=data.partition_by is None,
            sample_weight=spec.evaluation.sample_weight,
        )
        gate = [evaluate]
        if spec.asks_for_approval:
            # Imported only when asked for, like the Kubernetes runner.
            from airflow_ml_provider.operators.approval import PromotionApprovalOperator

            gate.append(
                PromotionApprovalOperator(
                    task_id="approve_promotion",
                    decision=evaluate.output,
                    model_name=spec.model_name,
                    every_promotion=spec.deployment.approval == "manual",
                    response_timeout=spec.deployment.approval_timeout,
                )
            )
        register = RegisterModelOperator(
            task_id="register_model",
            training=train.output,
            decision=evaluate.output,
            approval=gate[-1].output if len(gate) > 1 else None,
            model_name=spec.model_name,
            pipeline=spec.pipeline,
            mlflow_conn_id=conn,
        )
        deployment_class, deployment_arguments = _deployment(spec)
        deploy = deployment_class(
            task_id="deploy_model",
            registration=register.output,
            model_name=spec.model_name,
            mlflow_conn_id=conn,
            outlets=[champion_asset(spec.model_name)],
            **deployment_arguments,
        )
        notify = RunSummaryOperator(
            task_id="notify",
            pipeline=spec.pipeline,
            task_ids={
                "snapshot": snapshot.task_id,
                "validation": validate.task_id,
                "training": train.task_id,
                "decision": evaluate.task_id,
                "registration": register.task_id,
                "deployment": deploy.task_id,
            },
            email=list(spec.alerts.email),
            smtp_conn_id=spec.alerts.smtp_conn_id,
            alerts_on=list(spec.alerts.on),
            trigger_rule="none_failed",  # a skipped deploy (gate said no) still gets a summary
        )
        delivery = [deploy]
        batch = spec.deployment.batch
        if batch is not None:
            delivery.append(
                BatchScoringOperator(
                    task_id="score_batch",
                    model_name=spec.model_name,
                    source=dict(loaded.scoring_source),
                    destination=loaded.scoring_output,
                    id_columns=list(batch.id_columns),
                    gcp_conn_id=batch.output_conn_id,
                    mlflow_conn_id=conn,
                    # The current champion scores this run's data even when the gate kept it.
                    trigger_rule="none_failed",
                )
            )
            notify.task_ids["scoring"] = "score_batch"
        chain(snapshot, validate, *training_steps, *gate, register, *delivery, notify)
        if data.wait is not None:
            wait = data.wait
            (
                NewDataSensor(
                    task_id="wait_for_data",
                    source=dict(loaded.source),
                    pipeline=spec.pipeline,
                    deferrable=wait.mode == "deferrable",
                    mode="poke" if wait.mode == "deferrable" else wait.mode,
                    poke_interval=wait.poke_interval,
                    timeout=wait.timeout,
                    soft_fail=wait.soft_fail,
                    retries=0,  # the timeout is the retry policy of a wait
                )
                >> snapshot
            )
    _apply_step_policies(dag, spec)
    return dag


def _retrain_asset(loaded: LoadedPipeline) -> Asset | None:
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
        source=dict(loaded.monitoring_source),
        poll_interval=monitoring.poll_interval.total_seconds(),
        **_drift_check_arguments(spec),
    )
    return Asset(uri, watchers=[AssetWatcher(name=f"{spec.pipeline}-drift", trigger=trigger)])


def _drift_check_arguments(spec) -> dict:
    """What the monitor's drift check needs, as DriftMonitorOperator and DriftEventTrigger
    take it."""
    return {
        "model_name": spec.model_name,
        "drift": spec.monitoring.drift.model_dump(),
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
    with DAG(
        dag_id=monitor_dag_id(spec.pipeline),
        description=f"Drift monitor of {spec.pipeline}: retrains it when recent data drifts.",
        schedule=monitoring.schedule,
        start_date=_as_datetime(spec.start_date) or _EPOCH,
        catchup=False,
        max_active_runs=1,
        tags=list(dict.fromkeys([*spec.tags, PIPELINE_TAG, MONITOR_TAG])),
        default_args=_default_args(spec),
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
        checks = [check]
        labels = monitoring.labels
        if labels is not None:
            labelled = SnapshotDataOperator(
                task_id="snapshot_labels",
                source=dict(loaded.labels_source),
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


def config_error_dag_id(file: Path) -> str:
    """The id of the DAG that stands for a broken YAML file."""
    return "config_error__" + re.sub(r"[^A-Za-z0-9_.-]", "_", file.stem)


def build_config_error_dag(file: Path, message: str) -> DAG:
    """A paused DAG whose description, docs and only task carry the file's errors."""
    first_line = message.splitlines()[0] if message else "invalid pipeline file"
    with DAG(
        dag_id=config_error_dag_id(file),
        description=f"INVALID PIPELINE FILE: {first_line}"[:1000],
        schedule=None,
        start_date=_EPOCH,
        catchup=False,
        is_paused_upon_creation=True,
        tags=[PIPELINE_TAG, CONFIG_ERROR_TAG],
        doc_md=error_doc(str(file), message),
    ) as dag:
        ConfigErrorOperator(task_id="config_error", message=message)
    return dag


__all__ = [
    "build_dag",
    "build_monitor_dag",
    "build_config_error_dag",
    "config_error_dag_id",
    "settings",
]

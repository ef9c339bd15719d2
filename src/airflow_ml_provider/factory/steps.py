"""How each step of the plan (core/steps.py) becomes tasks: one builder per step.

A builder takes the pipeline and the tasks built before it (by task id) and returns its
operator (factory/built.py; the training steps' builders are in factory/training_steps.py).
Imports only Airflow's authoring API and our operators (parse time is sacred); the
Kubernetes and approval operators are imported only by pipelines that use them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, BaseOperator

from airflow_ml_provider.core.steps import plan, summary_roles
from airflow_ml_provider.factory.built import Built, needed
from airflow_ml_provider.factory.training_steps import (
    assemble_model,
    plan_partitions,
    select_model,
    step_pod,
    train_candidates,
    train_model,
    train_partitions,
)
from airflow_ml_provider.ml.drift.options import report_options
from airflow_ml_provider.operators.batch_scoring import BatchScoringOperator
from airflow_ml_provider.operators.changes import CheckChangesOperator
from airflow_ml_provider.operators.deployment import CHAMPION_SCHEME, AliasDeploymentOperator
from airflow_ml_provider.operators.evaluation import EvaluateModelOperator
from airflow_ml_provider.operators.notify import RunSummaryOperator
from airflow_ml_provider.operators.registry import RegisterModelOperator
from airflow_ml_provider.operators.snapshot import SnapshotDataOperator
from airflow_ml_provider.operators.training_process import warm_up_training
from airflow_ml_provider.operators.validation import ValidateDataOperator
from airflow_ml_provider.sensors.data import NewDataSensor

if TYPE_CHECKING:
    from airflow_ml_provider.pipeline_spec.data_section import DriftSpec
    from airflow_ml_provider.pipeline_spec.delivery_section import KServeSpec, ServingSpec
    from airflow_ml_provider.pipeline_spec.models import PipelineSpec

__all__ = ["BUILDERS", "Built", "champion_asset", "deployment_operator"]


def champion_asset(model_name: str) -> Asset:
    """The Asset updated each time a new champion of ``model_name`` is deployed; downstream
    DAGs can use it as their schedule. The ``x-`` scheme is Airflow's convention for URIs no
    provider normalises: other schemes make Airflow load every provider's asset handlers
    (0.5 s and google.cloud.storage) while parsing."""
    return Asset(f"{CHAMPION_SCHEME}{model_name}/champion")


def wait_for_data(built: Built) -> BaseOperator:
    wait = needed(built.spec.data.wait, "data.wait")
    return NewDataSensor(
        task_id="wait_for_data",
        source=dict(built.loaded.source),
        pipeline=built.spec.pipeline,
        deferrable=wait.mode == "deferrable",
        mode="poke" if wait.mode == "deferrable" else wait.mode,
        poke_interval=wait.poke_interval,
        timeout=wait.timeout,
        soft_fail=wait.soft_fail,
        retries=0,  # the timeout is the retry policy of a wait
    )


def snapshot_data(built: Built) -> BaseOperator:
    local = built.spec.training.runner != "kubernetes"
    return SnapshotDataOperator(
        task_id="snapshot_data",
        source=dict(built.loaded.source),
        pipeline=built.spec.pipeline,
        data_format=built.spec.data.resolved_format,
        on_execute_callback=warm_up_training if local else None,
    )


def validate_data(built: Built) -> BaseOperator:
    spec, loaded = built.spec, built.loaded
    data, validation = spec.data, spec.validation
    freshness = data.freshness
    pod = step_pod(built, validation)
    operator: type[ValidateDataOperator] = ValidateDataOperator
    if pod is not None:
        # Imported only for pipelines that ask for it (the Kubernetes client costs seconds).
        from airflow_ml_provider.operators.kubernetes_steps import KubernetesValidateDataOperator

        operator = KubernetesValidateDataOperator
    return operator(
        task_id="validate_data",
        snapshot=built.output("snapshot_data"),
        expectations=[dict(item) for item in validation.expectations],
        target=data.target,
        columns=[*data.features, data.target] if data.features else None,
        schema=loaded.schema_uri or validation.schema_,
        pipeline=spec.pipeline,
        max_duplicate_share=validation.max_duplicate_share,
        max_null_rate_increase=validation.max_null_rate_increase,
        data_docs=validation.data_docs,
        freshness={
            "column": freshness.column,
            "max_age_seconds": freshness.max_age.total_seconds(),
        }
        if freshness
        else None,
        drift=_drift_checks(validation.drift),
        model_name=spec.model_name,
        mlflow_conn_id=spec.registry.mlflow_conn_id,
        on_failure=validation.on_failure,
        task=spec.training.task_type,
        # Bad data does not get better by retrying (a failed check never retries); a pod that
        # was evicted or lost its node may: the pipeline's retries then.
        **(pod if pod is not None else {"retries": 0}),
    )


def _drift_checks(drift: DriftSpec | None) -> dict[str, Any] | None:
    """validation.drift as ValidateDataOperator takes it: drift_report's keywords plus
    ``action``."""
    if drift is None:
        return None
    return {**report_options(drift.model_dump()), "action": drift.action}


def check_changes(built: Built) -> BaseOperator:
    spec = built.spec
    return CheckChangesOperator(
        task_id="check_changes",
        snapshot=built.output("snapshot_data"),
        config_hash=built.loaded.config_hash,
        model_name=spec.model_name,
        skip=[step.task_id for step in plan(spec) if step.needs_change],
        on_unchanged=spec.training.on_unchanged,
        mlflow_conn_id=spec.registry.mlflow_conn_id,
    )


def evaluate_model(built: Built) -> BaseOperator:
    spec = built.spec
    data, evaluation = spec.data, spec.evaluation
    pod = step_pod(built, evaluation)
    operator: type[EvaluateModelOperator] = EvaluateModelOperator
    if pod is not None:
        # Imported only for pipelines that ask for it (the Kubernetes client costs seconds).
        from airflow_ml_provider.operators.kubernetes_steps import (
            KubernetesEvaluateModelOperator,
        )

        operator = KubernetesEvaluateModelOperator
        pod["pipeline"] = spec.pipeline
    return operator(
        task_id="evaluate_model",
        training=built.training_output(),
        snapshot=built.output("snapshot_data"),
        model_name=spec.model_name,
        target=data.target,
        features=data.features,
        split=data.split.model_dump(),
        task=needed(spec.training.task_type, "training.task"),
        primary_metric=evaluation.primary_metric,
        metrics=evaluation.all_metrics,
        thresholds=dict(evaluation.thresholds),
        min_improvement=evaluation.min_improvement,
        baseline_min_improvement=(
            evaluation.baseline.min_improvement if evaluation.baseline.enabled else None
        ),
        mlflow_conn_id=spec.registry.mlflow_conn_id,
        partition_by=data.partition_by,
        per_partition=evaluation.per_partition.model_dump() if evaluation.per_partition else None,
        max_regression=dict(evaluation.max_regression),
        confidence=evaluation.confidence,
        bootstrap_samples=evaluation.bootstrap_samples,
        slices=[item.model_dump() for item in evaluation.slices],
        first_run=evaluation.first_run,
        positive_class=evaluation.positive_class,
        # Permutation importance of a router means a routed prediction per feature and
        # repeat over every partition: not yet (the per-partition table covers it).
        importance=data.partition_by is None,
        sample_weight=evaluation.sample_weight,
        **(pod or {}),
    )


def approve_promotion(built: Built) -> BaseOperator:
    # Imported only when asked for, like the Kubernetes runner.
    from airflow_ml_provider.operators.approval import PromotionApprovalOperator

    spec = built.spec
    return PromotionApprovalOperator(
        task_id="approve_promotion",
        decision=built.output("evaluate_model"),
        model_name=spec.model_name,
        every_promotion=spec.deployment.approval == "manual",
        response_timeout=spec.deployment.approval_timeout,
    )


def register_model(built: Built) -> BaseOperator:
    spec = built.spec
    approval = built.tasks.get("approve_promotion")
    return RegisterModelOperator(
        task_id="register_model",
        training=built.training_output(),
        decision=built.output("evaluate_model"),
        approval=approval.output if approval is not None else None,
        model_name=spec.model_name,
        pipeline=spec.pipeline,
        mlflow_conn_id=spec.registry.mlflow_conn_id,
    )


def deployment_operator(spec: PipelineSpec, **task_arguments: Any) -> AliasDeploymentOperator:
    """The deploy_model operator of deployment.strategy, with its settings from the spec."""
    deployment = spec.deployment
    task_arguments.update(model_name=spec.model_name, mlflow_conn_id=spec.registry.mlflow_conn_id)
    # The cluster strategies' modules are imported only for pipelines that use them (the
    # cncf.kubernetes provider costs seconds).
    if deployment.strategy == "kubernetes" and deployment.kubernetes is not None:
        from airflow_ml_provider.operators.kubernetes_deployment import (
            KubernetesDeploymentOperator,
        )

        server = deployment.kubernetes
        arguments = _cluster_arguments(server)
        if server.canary is not None:
            arguments["canary_checks"] = list(server.canary.checks)
        return KubernetesDeploymentOperator(**arguments, **task_arguments)
    if deployment.strategy == "kserve" and deployment.kserve is not None:
        from airflow_ml_provider.operators.kserve_deployment import KServeDeploymentOperator

        arguments = _cluster_arguments(deployment.kserve)
        return KServeDeploymentOperator(**arguments, **task_arguments)
    return AliasDeploymentOperator(strategy=deployment.strategy, **task_arguments)


def _cluster_arguments(section: ServingSpec | KServeSpec) -> dict[str, Any]:
    """deployment.kubernetes / deployment.kserve as operator arguments: durations in
    seconds, the canary flattened to canary_percent, canary_duration, canary_interval."""
    arguments: dict[str, Any] = {
        **section.model_dump(exclude={"canary", "rollout_timeout"}),
        "rollout_timeout": section.rollout_timeout.total_seconds(),
    }
    canary = section.canary
    if canary is not None:
        arguments.update(
            canary_percent=canary.percent,
            canary_duration=canary.duration.total_seconds(),
            canary_interval=canary.interval.total_seconds(),
        )
    return arguments


def deploy_model(built: Built) -> BaseOperator:
    return deployment_operator(
        built.spec,
        task_id="deploy_model",
        registration=built.output("register_model"),
        outlets=[champion_asset(built.spec.model_name)],
    )


def score_batch(built: Built) -> BaseOperator:
    spec, loaded = built.spec, built.loaded
    batch = needed(spec.deployment.batch, "deployment.batch")
    return BatchScoringOperator(
        task_id="score_batch",
        model_name=spec.model_name,
        source=dict(needed(loaded.scoring_source, "deployment.batch.source")),
        destination=needed(loaded.scoring_output, "deployment.batch.output"),
        id_columns=list(batch.id_columns),
        gcp_conn_id=batch.output_conn_id,
        mlflow_conn_id=spec.registry.mlflow_conn_id,
        # The current champion scores this run's data even when the gate kept it or
        # check_changes found nothing new to train on.
        trigger_rule="none_failed",
    )


def notify(built: Built) -> BaseOperator:
    spec = built.spec
    return RunSummaryOperator(
        task_id="notify",
        pipeline=spec.pipeline,
        task_ids=summary_roles(spec),
        email=list(spec.alerts.email),
        smtp_conn_id=spec.alerts.smtp_conn_id,
        alerts_on=list(spec.alerts.on),
        trigger_rule="none_failed",  # a skipped deploy (gate said no) still gets a summary
    )


BUILDERS: dict[str, Callable[[Built], BaseOperator]] = {
    "wait_for_data": wait_for_data,
    "snapshot_data": snapshot_data,
    "validate_data": validate_data,
    "check_changes": check_changes,
    "train_model": train_model,
    "train_candidates": train_candidates,
    "select_model": select_model,
    "plan_partitions": plan_partitions,
    "train_partitions": train_partitions,
    "assemble_model": assemble_model,
    "evaluate_model": evaluate_model,
    "approve_promotion": approve_promotion,
    "register_model": register_model,
    "deploy_model": deploy_model,
    "score_batch": score_batch,
    "notify": notify,
}
"""The builder of each step of core.steps.STEPS, by task id."""

"""How each step of the plan (core/steps.py) becomes tasks: one builder per step.

A builder takes the pipeline and the tasks built before it (by task id) and returns its
operator. Imports only Airflow's authoring API and our operators (parse time is sacred);
the Kubernetes and approval operators are imported only by pipelines that use them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow.sdk import Asset, BaseOperator

from airflow_ml_provider.core.steps import summary_roles
from airflow_ml_provider.operators.batch_scoring import BatchScoringOperator
from airflow_ml_provider.operators.candidates import SelectModelOperator
from airflow_ml_provider.operators.deployment import AliasDeploymentOperator
from airflow_ml_provider.operators.evaluation import EvaluateModelOperator
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


@dataclass
class Built:
    """The pipeline being built and its tasks so far, by task id."""

    loaded: LoadedPipeline
    tasks: dict[str, BaseOperator] = field(default_factory=dict)

    @property
    def spec(self):
        return self.loaded.spec

    def output(self, task_id: str) -> Any:
        """The XComArg of an earlier step's result."""
        return self.tasks[task_id].output

    def training_output(self) -> Any:
        """The training result: train_model's, or assemble_model's when partitioned."""
        return self.output(summary_roles(self.spec)["training"])


def champion_asset(model_name: str) -> Asset:
    """The Asset updated each time a new champion of ``model_name`` is deployed; downstream
    DAGs can use it as their schedule. The ``x-`` scheme is Airflow's convention for URIs no
    provider normalises: other schemes make Airflow load every provider's asset handlers
    (0.5 s and google.cloud.storage) while parsing."""
    return Asset(f"x-mlmodel://{model_name}/champion")


def wait_for_data(built: Built) -> BaseOperator:
    wait = built.spec.data.wait
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
    return SnapshotDataOperator(
        task_id="snapshot_data",
        source=dict(built.loaded.source),
        pipeline=built.spec.pipeline,
        data_format=built.spec.data.resolved_format,
    )


def validate_data(built: Built) -> BaseOperator:
    spec, loaded = built.spec, built.loaded
    data, validation = spec.data, spec.validation
    freshness = data.freshness
    return ValidateDataOperator(
        task_id="validate_data",
        snapshot=built.output("snapshot_data"),
        expectations=[dict(item) for item in validation.expectations],
        target=data.target,
        columns=[*data.features, data.target] if data.features else None,
        schema=loaded.schema_uri or validation.schema_,
        pipeline=spec.pipeline,
        max_duplicate_share=validation.max_duplicate_share,
        max_null_rate_increase=validation.max_null_rate_increase,
        freshness={
            "column": freshness.column,
            "max_age_seconds": freshness.max_age.total_seconds(),
        }
        if freshness
        else None,
        drift=validation.drift.model_dump() if validation.drift else None,
        model_name=spec.model_name,
        mlflow_conn_id=spec.registry.mlflow_conn_id,
        on_failure=validation.on_failure,
        task=spec.training.task_type,
        retries=0,  # bad data does not get better by retrying
    )


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


def _search(spec, search) -> dict | None:
    """A search section (training.search or a candidate's) as the job takes it, scored by
    the primary metric unless it says."""
    if search is None:
        return None
    return {**search.model_dump(), "scoring": search.scoring or spec.evaluation.primary_metric}


def _training_arguments(loaded: LoadedPipeline) -> dict[str, Any]:
    """What every training operator takes from the spec (the job's contents)."""
    spec = loaded.spec
    data = spec.data
    return {
        "pipeline": spec.pipeline,
        "target": data.target,
        "features": data.features,
        "estimator": spec.training.estimator,
        "estimator_params": dict(spec.training.params),
        "feature_preprocessing": spec.features.model_dump(mode="json", by_alias=True),
        "task": spec.training.task_type,
        "metrics": spec.evaluation.all_metrics,
        "split": data.split.model_dump(),
        "experiment_name": spec.experiment_name,
        "config_hash": loaded.config_hash,
        "mlflow_conn_id": spec.registry.mlflow_conn_id,
        "search": _search(spec, spec.training.search),
        "pipeline_file": str(loaded.file),
        "partition_by": data.partition_by,
    }


def train_model(built: Built) -> BaseOperator:
    runner_class, runner_args = _training_runner(built.loaded)
    return runner_class(
        task_id="train_model",
        snapshot=built.output("snapshot_data"),
        validation=built.output("validate_data"),
        execution_timeout=built.spec.training.timeout,
        **_training_arguments(built.loaded),
        **runner_args,
    )


def train_candidates(built: Built) -> BaseOperator:
    """The training runner mapped over training.candidates: one cross-validation task (or
    pod, with the candidate's own resources) each, training.max_parallel at a time."""
    training = built.spec.training
    runner_class, runner_args = _training_runner(built.loaded)
    pods = training.runner == "kubernetes" and training.kubernetes is not None
    mapped = []
    for candidate in training.candidate_list:
        workers = candidate.search.workers if candidate.search else 1
        for worker in range(workers):  # an Optuna search's workers share one study
            arguments: dict[str, Any] = {
                "estimator": candidate.estimator,
                "estimator_params": dict(candidate.params),
                "search": _search(built.spec, candidate.search),
                "candidate": {
                    "name": candidate.name,
                    "folds": training.cv_folds,
                    "worker": worker,
                    "workers": workers,
                },
            }
            if pods:
                own = candidate.kubernetes.resources if candidate.kubernetes else None
                arguments["resources"] = own or runner_args.get("resources") or {}
            mapped.append(arguments)
    if pods:  # each candidate's pod brings its resources
        runner_args = {k: v for k, v in runner_args.items() if k != "resources"}
    return runner_class.partial(
        task_id="train_candidates",
        snapshot=built.output("snapshot_data"),
        validation=built.output("validate_data"),
        execution_timeout=training.timeout,
        max_active_tis_per_dagrun=training.max_parallel,
        map_index_template="{{ task.candidate_label }}",
        **_shared_training_arguments(built),
        **runner_args,
    ).expand_kwargs(mapped)


def select_model(built: Built) -> BaseOperator:
    """The best candidate refitted on the train split (the challenger), with the leaderboard."""
    spec = built.spec
    training = spec.training
    runner_class, runner_args = _training_runner(built.loaded)
    if runner_class is LocalTrainingOperator:
        select_class: type = SelectModelOperator
    else:
        from airflow_ml_provider.operators.kubernetes_training import (
            KubernetesSelectModelOperator,
        )

        select_class = KubernetesSelectModelOperator
    return select_class(
        task_id="select_model",
        snapshot=built.output("snapshot_data"),
        validation=built.output("validate_data"),
        results=built.output("train_candidates"),
        candidate_names=[c.name for c in training.candidate_list],
        primary_metric=spec.evaluation.primary_metric,
        min_candidates=training.min_candidates,
        trigger_rule="all_done",  # a failed candidate does not stop the others' winner
        execution_timeout=training.timeout,
        **_shared_training_arguments(built),
        **runner_args,
    )


def _shared_training_arguments(built: Built) -> dict[str, Any]:
    """The training arguments every candidate shares (each brings its estimator, params and
    search)."""
    own = ("estimator", "estimator_params", "search")
    return {k: v for k, v in _training_arguments(built.loaded).items() if k not in own}


def _partitioning(built: Built) -> PartitioningSpec:
    return built.spec.training.partitioning or PartitioningSpec()


def plan_partitions(built: Built) -> BaseOperator:
    data = built.spec.data
    settings = _partitioning(built)
    return PlanPartitionsOperator(
        task_id="plan_partitions",
        snapshot=built.output("snapshot_data"),
        target=data.target,
        partition_by=data.partition_by,
        task=built.spec.training.task_type,
        features=data.features,
        split=data.split.model_dump(),
        min_partition_rows=settings.min_partition_rows,
        partitions_per_task=settings.partitions_per_task,
    )


def train_partitions(built: Built) -> BaseOperator:
    """The training runner, mapped over plan_partitions' chunks."""
    runner_class, runner_args = _training_runner(built.loaded)
    return runner_class.partial(
        task_id="train_partitions",
        snapshot=built.output("snapshot_data"),
        execution_timeout=built.spec.training.timeout,
        max_active_tis_per_dagrun=_partitioning(built).max_parallel,
        **_training_arguments(built.loaded),
        **runner_args,
    ).expand(partitions=built.output("plan_partitions"))


def assemble_model(built: Built) -> BaseOperator:
    arguments = _training_arguments(built.loaded)
    return AssemblePartitionedModelOperator(
        task_id="assemble_model",
        snapshot=built.output("snapshot_data"),
        validation=built.output("validate_data"),
        plan=built.tasks["plan_partitions"].output[PLAN_XCOM],
        results=built.output("train_partitions"),
        min_success_ratio=_partitioning(built).min_success_ratio,
        **{k: v for k, v in arguments.items() if k in TRAINING_JOB_ARGUMENTS},
    )


def evaluate_model(built: Built) -> BaseOperator:
    spec = built.spec
    data, evaluation = spec.data, spec.evaluation
    return EvaluateModelOperator(
        task_id="evaluate_model",
        training=built.training_output(),
        snapshot=built.output("snapshot_data"),
        model_name=spec.model_name,
        target=data.target,
        features=data.features,
        split=data.split.model_dump(),
        task=spec.training.task_type,
        primary_metric=evaluation.primary_metric,
        metrics=evaluation.all_metrics,
        thresholds=dict(evaluation.thresholds),
        min_improvement=evaluation.min_improvement,
        mlflow_conn_id=spec.registry.mlflow_conn_id,
        partition_by=data.partition_by,
        per_partition=evaluation.per_partition.model_dump() if evaluation.per_partition else None,
        max_regression=dict(evaluation.max_regression),
        confidence=evaluation.confidence,
        bootstrap_samples=evaluation.bootstrap_samples,
        slices=[item.model_dump() for item in evaluation.slices],
        first_run=evaluation.first_run,
        # Permutation importance of a router means a routed prediction per feature and
        # repeat over every partition: not yet (the per-partition table covers it).
        importance=data.partition_by is None,
        sample_weight=evaluation.sample_weight,
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


def deployment_operator(spec, **task_arguments: Any) -> AliasDeploymentOperator:
    """The deploy_model operator of deployment.strategy, with its settings from the spec."""
    deployment = spec.deployment
    common = {"model_name": spec.model_name, "mlflow_conn_id": spec.registry.mlflow_conn_id}
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
        return KubernetesDeploymentOperator(**arguments, **common, **task_arguments)
    if deployment.strategy == "kserve" and deployment.kserve is not None:
        from airflow_ml_provider.operators.kserve_deployment import KServeDeploymentOperator

        arguments = _cluster_arguments(deployment.kserve)
        return KServeDeploymentOperator(**arguments, **common, **task_arguments)
    return AliasDeploymentOperator(strategy=deployment.strategy, **common, **task_arguments)


def _cluster_arguments(section) -> dict[str, Any]:
    """deployment.kubernetes / deployment.kserve as operator arguments: durations in
    seconds, the canary flattened to canary_percent, canary_duration, canary_interval."""
    arguments = {
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
    batch = spec.deployment.batch
    return BatchScoringOperator(
        task_id="score_batch",
        model_name=spec.model_name,
        source=dict(loaded.scoring_source),
        destination=loaded.scoring_output,
        id_columns=list(batch.id_columns),
        gcp_conn_id=batch.output_conn_id,
        mlflow_conn_id=spec.registry.mlflow_conn_id,
        # The current champion scores this run's data even when the gate kept it.
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

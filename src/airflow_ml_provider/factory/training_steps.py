"""The builders of the training steps: one model, candidates, or partitions (factory/steps.py
has the others). Imports only Airflow's authoring API and our operators; the Kubernetes
operators are imported only by pipelines that train in pods."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_ml_provider.factory.built import Built, needed
from airflow_ml_provider.operators.candidates import SelectModelOperator
from airflow_ml_provider.operators.partitions import (
    PLAN_XCOM,
    AssemblePartitionedModelOperator,
    PlanPartitionsOperator,
)
from airflow_ml_provider.operators.training import TRAINING_JOB_ARGUMENTS, LocalTrainingOperator
from airflow_ml_provider.pipeline_spec.loader import LoadedPipeline
from airflow_ml_provider.pipeline_spec.models import (
    EvaluationSpec,
    PartitioningSpec,
    ValidationSpec,
)

if TYPE_CHECKING:
    from airflow_ml_provider.pipeline_spec.models import PipelineSpec
    from airflow_ml_provider.pipeline_spec.training_section import SearchSpec


def _training_runner(loaded: LoadedPipeline) -> tuple[Any, dict]:
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


def _search(spec: PipelineSpec, search: SearchSpec | None) -> dict[str, Any] | None:
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
        "entrypoint": spec.training.entrypoint,
        "estimator_params": dict(spec.training.params),
        "feature_preprocessing": spec.features.model_dump(mode="json", by_alias=True),
        "task": spec.training.task_type,
        "metrics": spec.evaluation.all_metrics,
        "positive_class": spec.evaluation.positive_class,
        "class_weight": spec.training.class_weight,
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
        abandoned_runs="retries",  # select_model ends other DAG runs' (its trigger: all_done)
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
    arguments: dict[str, Any] = {
        "task_id": "plan_partitions",
        "snapshot": built.output("snapshot_data"),
        "target": data.target,
        "partition_by": needed(data.partition_by, "data.partition_by"),
        "task": needed(built.spec.training.task_type, "training.task"),
        "features": data.features,
        "split": data.split.model_dump(),
        "min_partition_rows": settings.min_partition_rows,
        "partitions_per_task": settings.partitions_per_task,
        "processes_per_task": settings.processes_per_task,
        "fallback_rows": settings.fallback_rows,
    }
    pod = step_pod(built, _partitioning(built))
    if pod is None:
        return PlanPartitionsOperator(**arguments)
    # Imported only for pipelines that ask for it (the Kubernetes client costs seconds).
    from airflow_ml_provider.operators.kubernetes_steps import KubernetesPlanPartitionsOperator

    return KubernetesPlanPartitionsOperator(pipeline=built.spec.pipeline, **arguments, **pod)


def step_pod(
    built: Built, section: ValidationSpec | PartitioningSpec | EvaluationSpec
) -> dict[str, Any] | None:
    """The pod arguments of a heavy step (validate_data, plan_partitions, assemble_model,
    evaluate_model) its section runs in a pod: training's pod with the section's own
    resources; None: locally."""
    if section.runner != "kubernetes":
        return None
    _, pod = _training_runner(built.loaded)
    pod.pop("command", None)  # the package's own step entrypoint, never a team's command
    if section.kubernetes is not None:
        pod["resources"] = section.kubernetes.resources
    return pod


def train_partitions(built: Built) -> BaseOperator:
    """The training runner, mapped over plan_partitions' chunks."""
    runner_class, runner_args = _training_runner(built.loaded)
    return runner_class.partial(
        task_id="train_partitions",
        snapshot=built.output("snapshot_data"),
        execution_timeout=built.spec.training.timeout,
        max_active_tis_per_dagrun=_partitioning(built).max_parallel,
        abandoned_runs="retries",  # assemble_model ends other DAG runs' (its trigger: all_done)
        **_training_arguments(built.loaded),
        **runner_args,
    ).expand(partitions=built.output("plan_partitions"))


def assemble_model(built: Built) -> BaseOperator:
    training = _training_arguments(built.loaded)
    arguments: dict[str, Any] = {
        "task_id": "assemble_model",
        "snapshot": built.output("snapshot_data"),
        "validation": built.output("validate_data"),
        "plan": built.tasks["plan_partitions"].output[PLAN_XCOM],
        "results": built.output("train_partitions"),
        "min_success_ratio": _partitioning(built).min_success_ratio,
        **{k: v for k, v in training.items() if k in TRAINING_JOB_ARGUMENTS},
    }
    pod = step_pod(built, _partitioning(built))
    if pod is None:
        return AssemblePartitionedModelOperator(**arguments)
    from airflow_ml_provider.operators.kubernetes_steps import KubernetesAssembleModelOperator

    return KubernetesAssembleModelOperator(**arguments, **pod)

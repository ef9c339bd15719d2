"""Cross-field rules of ``training:``: the runner and its pod settings (and the heavy steps'
pods that use them), searches (grid, random, Optuna and its workers) and candidates — each
reported at the field it concerns."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_ml_provider.core.metrics import METRICS, guess_task_type
from airflow_ml_provider.core.resources import gpus_asked
from airflow_ml_provider.pipeline_spec.models import PipelineSpec

if TYPE_CHECKING:
    from airflow_ml_provider.pipeline_spec.data_section import ValidationSpec
    from airflow_ml_provider.pipeline_spec.evaluation_section import EvaluationSpec
    from airflow_ml_provider.pipeline_spec.training_section import (
        PartitioningSpec,
        SearchSpec,
        TrainingSpec,
    )

FieldPath = tuple[str | int, ...]
GPU_NEEDS_PODS = (
    "a GPU needs runner kubernetes: the local runner trains in a process on the Airflow "
    "worker, which cannot be given a GPU per job (set runner: kubernetes, or remove gpu)"
)


def training_problems(spec: PipelineSpec) -> list[tuple[FieldPath, str]]:
    """The kubernetes runner needs its pod settings; search grids must fit the estimator."""
    training = spec.training
    problems: list[tuple[FieldPath, str]] = []
    if training.runner == "kubernetes" and training.kubernetes is None:
        problems.append(
            (("training", "runner"), "runner kubernetes needs training.kubernetes with an image")
        )
    if training.runner == "local" and training.kubernetes is not None:
        if gpus_asked(training.kubernetes.resources):
            problems.append((("training", "runner"), GPU_NEEDS_PODS))
        else:
            problems.append(
                (
                    ("training", "kubernetes"),
                    "training.kubernetes applies only to runner kubernetes",
                )
            )
    problems += search_problems(training.search, ("training", "search"), spec)
    problems += _step_pod_problems(
        training, ("validation",), spec.validation, "validate_data in a pod"
    )
    problems += _step_pod_problems(
        training,
        ("training", "partitioning"),
        training.partitioning,
        "plan_partitions and assemble_model in pods",
    )
    problems += _step_pod_problems(
        training, ("evaluation",), spec.evaluation, "evaluate_model in a pod"
    )
    return problems


def _step_pod_problems(
    training: TrainingSpec,
    where: FieldPath,
    section: ValidationSpec | PartitioningSpec | EvaluationSpec | None,
    steps: str,
) -> list[tuple[FieldPath, str]]:
    """A heavy step (validate_data, plan_partitions, assemble_model, evaluate_model) runs in a
    pod only with the pod settings of the Kubernetes runner; its ``kubernetes`` only with
    runner kubernetes."""
    if section is None:
        return []
    if section.runner == "kubernetes" and training.runner != "kubernetes":
        message = (
            f"runner kubernetes runs {steps} of training.kubernetes' image and settings: it "
            "needs training.runner kubernetes"
        )
        return [((*where, "runner"), message)]
    if section.runner == "local" and section.kubernetes is not None:
        message = f"{where[-1]}.kubernetes applies only to {where[-1]}.runner kubernetes"
        return [((*where, "kubernetes"), message)]
    return []


_OPTUNA_ONLY = ("n_trials", "workers", "pruner", "storage_conn_id")


def search_problems(
    search: SearchSpec | None, where: FieldPath, spec: PipelineSpec
) -> list[tuple[FieldPath, str]]:
    """A grid takes lists of values; the search's scoring metric fits the task; Optuna's
    settings need method optuna, and its workers a study storage they all reach."""
    problems: list[tuple[FieldPath, str]] = []
    if search is None:
        return problems
    task = spec.training.task_type
    if search.method != "optuna":
        problems += [
            ((*where, field), f"{field} applies to method: optuna only")
            for field in _OPTUNA_ONLY
            if field in search.model_fields_set
        ]
    elif search.workers > search.n_trials:
        problems.append(
            ((*where, "workers"), f"{search.workers} workers for {search.n_trials} n_trials")
        )
    elif search.workers > 1 and spec.training.runner == "kubernetes" and not search.storage_conn_id:
        problems.append(
            (
                (*where, "workers"),
                "workers in pods need a study storage every pod reaches: set storage_conn_id "
                "to an Airflow connection to a database",
            )
        )
    if search.method == "grid":
        for name, options in search.params.items():
            if not isinstance(options, list):
                problems.append(
                    (
                        (*where, "params", name),
                        "grid search takes a list of values; distributions need method "
                        "random or optuna",
                    )
                )
    if search.scoring and task and METRICS[search.scoring].task != task:
        problems.append(
            (
                (*where, "scoring"),
                f"{search.scoring!r} is a {METRICS[search.scoring].task} metric but the "
                f"pipeline is {task}",
            )
        )
    return problems


def candidate_problems(spec: PipelineSpec) -> list[tuple[FieldPath, str]]:
    """One estimator or candidates; unique names; each candidate of the pipeline's task."""
    training = spec.training
    candidates = training.candidates
    if training.team_trainer is not None:
        return team_trainer_problems(spec)
    if not candidates:
        if training.estimator is None:
            return [
                (
                    ("training",),
                    "give training.estimator (one model), training.candidates or "
                    "training.entrypoint (a team's training function)",
                )
            ]
        return []
    problems: list[tuple[FieldPath, str]] = []
    for field in ("estimator", "params", "search"):
        if field in training.model_fields_set:
            problems.append(
                (
                    ("training", field),
                    f"training.{field} and training.candidates exclude each other; give each "
                    "candidate its own estimator, params and search",
                )
            )
    if spec.data.partition_by is not None:
        problems.append(
            (
                ("training", "candidates"),
                "candidates are not available with data.partition_by yet; remove one of them",
            )
        )
    seen: dict[str, int] = {}
    task = training.task_type
    kinds = {guess_task_type(c.estimator) for c in candidates} - {None}
    if task is None and len(kinds) > 1:
        problems.append(
            (
                ("training", "candidates"),
                "the candidates mix classification and regression estimators; give them one "
                "task (or set training.task)",
            )
        )
    for index, candidate in enumerate(candidates):
        where: FieldPath = ("training", "candidates", index)
        if candidate.name in seen:
            problems.append(
                (
                    (*where, "name"),
                    f"candidate name {candidate.name!r} is already used by "
                    f"training.candidates[{seen[candidate.name]}]",
                )
            )
        seen.setdefault(candidate.name, index)
        kind = guess_task_type(candidate.estimator)
        if task and kind and kind != task:
            problems.append(
                (
                    (*where, "estimator"),
                    f"{candidate.estimator} is a {kind} estimator but the pipeline is {task}",
                )
            )
        if candidate.kubernetes is not None and training.runner != "kubernetes":
            gpu = gpus_asked(candidate.kubernetes.resources)
            why = GPU_NEEDS_PODS if gpu else "a candidate's pod settings need runner kubernetes"
            problems.append(((*where, "kubernetes"), why))
        problems += search_problems(candidate.search, (*where, "search"), spec)
    if training.min_candidates > len(candidates):
        problems.append(
            (
                ("training", "min_candidates"),
                f"min_candidates {training.min_candidates} is more than the "
                f"{len(candidates)} candidates",
            )
        )
    return problems


_NOT_WITH_TEAM_TRAINER = ("estimator", "candidates", "search", "partitioning")


def team_trainer_problems(spec: PipelineSpec) -> list[tuple[FieldPath, str]]:
    """A team's own trainer — a training function or a trainer image's command — replaces
    the estimator (and what fits one: candidates, searches, partitions); the two exclude each
    other; its task must be stated — no class name to infer it from."""
    training = spec.training
    assert training.team_trainer is not None
    where, what = training.team_trainer
    name = ".".join(where)
    problems: list[tuple[FieldPath, str]] = [
        (
            ("training", field),
            f"training.{field} and {name} exclude each other: the team's trainer trains the "
            "model itself",
        )
        for field in _NOT_WITH_TEAM_TRAINER
        if field in training.model_fields_set
    ]
    if training.entrypoint and training.trainer_image:
        problems.append(
            (
                ("training", "kubernetes", "command"),
                "training.entrypoint and training.kubernetes.command exclude each other: the "
                "entrypoint runs in this package's trainer, the command replaces it",
            )
        )
    if training.task is None:
        problems.append((where, f"{what} needs training.task ('classification' or 'regression')"))
    if spec.data.partition_by is not None:
        problems.append(
            (("data", "partition_by"), f"per-partition models are not trained by {what}")
        )
    return problems


def validation_split_problems(spec: PipelineSpec) -> list[tuple[FieldPath, str]]:
    """A validation set only serves an entrypoint (its early stopping), and the three parts
    must leave training rows."""
    split = spec.data.split
    if not split.validation_size:
        return []
    where: FieldPath = ("data", "split", "validation_size")
    if spec.training.team_trainer is None:
        return [
            (
                where,
                "a validation set is used only by a team's own trainer (training.entrypoint "
                "or a trainer image's command; early stopping); the built-in estimators would "
                "never see these rows — remove it or train with your own code",
            )
        ]
    if split.test_size + split.validation_size >= 0.9:
        return [
            (
                where,
                f"test_size {split.test_size} + validation_size {split.validation_size} leave "
                "under 10 % of the rows to train on",
            )
        ]
    return []

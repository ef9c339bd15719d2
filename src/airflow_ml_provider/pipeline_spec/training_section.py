"""The YAML contract of ``training:`` (estimator, search, partitions, pods) and
``registry:``; ``evaluation:`` (the gate) is in spec.evaluation_section."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
)

from airflow_ml_provider.core.allow_lists import (
    ParamName,
    Params,
    PlainValue,
    allowed_entrypoint,
)
from airflow_ml_provider.core.connections import MLFLOW_CONN_ID
from airflow_ml_provider.core.metrics import TaskType, guess_task_type
from airflow_ml_provider.pipeline_spec.pod_section import (
    KubernetesSpec,
    PodResourcesSpec,
)
from airflow_ml_provider.pipeline_spec.section_base import (
    Duration,
    MetricName,
    _in_allowed_module,
    _Strict,
)

SEARCH_DISTRIBUTIONS = ("uniform", "loguniform", "randint")


class SearchSpec(_Strict):
    """Hyper-parameter search: scikit-learn's GridSearchCV / RandomizedSearchCV in the
    training process, or an Optuna study shared by ``workers`` tasks (or pods)."""

    method: Literal["grid", "random", "optuna"] = Field(
        description="grid | random (scikit-learn, one process) | optuna (TPE sampler, "
        "pruning, trials spread over workers)."
    )
    params: dict[ParamName, list[PlainValue] | dict[str, PlainValue]] = Field(
        description="Per parameter a list of values, or for random and optuna a distribution "
        "{distribution: uniform | loguniform | randint, low: ..., high: ...} "
        "(randint includes high; loguniform needs low > 0)."
    )
    cv: int = Field(5, ge=2, le=100, description="grid, random: cross-validation folds.")
    n_iter: int = Field(20, ge=1, le=10_000, description="random: parameter settings tried.")
    scoring: MetricName | None = Field(
        None, description="Metric the search optimises; default: evaluation.primary_metric."
    )
    n_trials: int = Field(
        20, ge=1, le=10_000, description="optuna: trials in total, over all workers."
    )
    workers: int = Field(
        1,
        ge=1,
        le=100,
        description="optuna: mapped tasks (pods on the Kubernetes runner) sharing one study, "
        "each running its share of n_trials; at most training.max_parallel run at once.",
    )
    pruner: Literal["median", "successive_halving", "none"] = Field(
        "median",
        description="optuna: stops trials whose running cross-validation score is hopeless "
        "(reported after each fold).",
    )
    storage_conn_id: str | None = Field(
        None,
        description="optuna: Airflow connection to the database the workers share the study "
        "in (needed with workers > 1 on the Kubernetes runner); default: a journal file "
        "under $AIRFLOW_HOME on the local runner.",
    )

    @field_validator("params")
    @classmethod
    def _known_distributions(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name, options in value.items():
            if isinstance(options, list):
                if not options:
                    raise ValueError(f"{name}: give at least one value")
                continue
            kind = options.get("distribution")
            if kind not in SEARCH_DISTRIBUTIONS:
                raise ValueError(
                    f"{name}: distribution must be one of {', '.join(SEARCH_DISTRIBUTIONS)}, "
                    f"got {kind!r}"
                )
            if set(options) != {"distribution", "low", "high"}:
                raise ValueError(f"{name}: expected exactly distribution, low and high")
        return value


class PartitioningSpec(_Strict):
    """How per-partition training (data.partition_by) fans out and when it counts as done."""

    partitions_per_task: int = Field(
        50, ge=1, le=100_000, description="Partitions trained by one mapped task (pod/process)."
    )
    max_parallel: int = Field(
        4, ge=1, le=1_000, description="Training tasks of one run running at the same time."
    )
    processes_per_task: int = Field(
        1,
        ge=1,
        le=64,
        description="Processes one training task fits its partitions with, one BLAS/OpenMP "
        "thread each (give its pod as many CPUs). Local runs (airflow-ml run) run the "
        "training tasks one at a time, so this is their parallelism.",
    )
    min_partition_rows: int = Field(
        50,
        ge=2,
        description="Partitions with fewer training rows are skipped (the fallback model "
        "serves them).",
    )
    min_success_ratio: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Share of trainable partitions that must train; fewer fails the run.",
    )
    fallback_rows: int | None = Field(
        250_000,
        ge=1_000,
        description="The fallback model is fitted on at most this many training rows (a "
        "seeded random sample of the train split, stratified for classification; null: all). "
        "It answers only partitions without their own model, and fitting it on every row of "
        "a large table costs more time and memory than all the partitions together.",
    )
    runner: Literal["local", "kubernetes"] = Field(
        "local",
        description="Where the heavy partitioning steps run — plan_partitions (reads the "
        "snapshot, writes the chunk files) and assemble_model (scores the held-out rows, "
        "logs the run): local (the Airflow worker) or kubernetes (a pod each, of "
        "training.kubernetes' image and settings, for a snapshot larger than a worker's "
        "memory; needs training.runner kubernetes).",
    )
    kubernetes: PodResourcesSpec | None = Field(
        None,
        description="runner kubernetes: the plan_partitions and assemble_model pods' "
        "resources (default: "
        "training.kubernetes.resources).",
    )
    fallback: bool = Field(
        True,
        description="Train one model on all rows for partitions without their own model "
        "(unseen, skipped or failed). Only true for now: the held-out rows of such "
        "partitions and serving need it.",
    )

    @field_validator("fallback")
    @classmethod
    def _fallback_is_trained(cls, value: bool) -> bool:
        if not value:
            raise ValueError(
                "false is not supported yet: rows of unseen, skipped or failed partitions "
                "are scored and served by the fallback model, so it is always trained"
            )
        return value


_ESTIMATOR_PATH = r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$"


class CandidateSpec(_Strict):
    """One model of training.candidates: trained and cross-validated on the train split
    beside the others; the best one is refitted and goes to the gate."""

    name: str = Field(
        pattern=r"^[a-z][a-z0-9_-]{0,39}$",
        description="Its name in the leaderboard, MLflow and the Airflow UI (lower case).",
    )
    estimator: str = Field(
        description="Import path of the estimator class; must match the allowed module prefixes.",
        pattern=_ESTIMATOR_PATH,
    )
    params: Params = Field(
        default_factory=dict, description="Constructor parameters (plain data only)."
    )
    search: SearchSpec | None = Field(
        None, description="A hyper-parameter search for this candidate (optional)."
    )
    kubernetes: PodResourcesSpec | None = Field(
        None, description="runner kubernetes: this candidate's pod resources."
    )

    @field_validator("estimator")
    @classmethod
    def _allowed_module(cls, value: str, info: ValidationInfo) -> str:
        return _in_allowed_module(value, info, "allowed_estimator_modules")


class TrainingSpec(_Strict):
    """Which estimator is trained, with what parameters, where."""

    estimator: str | None = Field(
        None,
        description="Import path of the estimator class, e.g. "
        "sklearn.ensemble.RandomForestClassifier; must match the allowed module prefixes. "
        "Give this or candidates.",
        pattern=_ESTIMATOR_PATH,
    )
    params: Params = Field(
        default_factory=dict, description="Constructor parameters (plain data only)."
    )
    entrypoint: str | None = Field(
        None,
        description="A team's own training function, package.module:function (e.g. "
        "acme_models.train:fit), instead of estimator: called in the training process with "
        "the training job and the train (and validation) rows, it returns the fitted model "
        "and its MLflow flavor; the gate scores it on the same held-out rows as any model. "
        "Its package must be in [ml_provider] allowed_training_modules. Needs training.task; "
        "params reach it as job.params.",
    )
    candidates: list[CandidateSpec] = Field(
        default_factory=list,
        description="Several models compared by cross-validation on the train split, each "
        "trained as its own task; the best is refitted and goes to the gate. Instead of "
        "estimator, params and search.",
    )
    max_parallel: int = Field(
        2, ge=1, le=1_000, description="Candidates training at the same time."
    )
    min_candidates: int = Field(
        1, ge=1, description="Candidates that must succeed; fewer fails the run."
    )
    cv_folds: int = Field(
        5, ge=2, le=20, description="Cross-validation folds candidates are compared on."
    )
    task: TaskType | None = Field(
        None,
        description="classification | regression; inferred from the estimator name when omitted.",
    )
    runner: Literal["local", "kubernetes"] = Field(
        "local",
        description="Where training runs: local (a subprocess on the worker) or kubernetes "
        "(one pod per job, see training.kubernetes).",
    )
    kubernetes: KubernetesSpec | None = Field(
        None, description="Pod settings; required when runner is kubernetes."
    )
    search: SearchSpec | None = Field(None, description="Hyper-parameter search (optional).")
    timeout: Duration | None = Field(None, description="execution_timeout of train_model.")
    partitioning: PartitioningSpec | None = Field(
        None, description="Fan-out settings of per-partition training (needs data.partition_by)."
    )
    class_weight: Literal["auto", "balanced", "none"] = Field(
        "auto",
        description="Imbalanced classes: balanced gives each class equal total weight "
        "(scikit-learn's class_weight, for estimators that take it); auto: balanced when the "
        "rarest class has under half the rows of the commonest and the primary metric is f1, "
        "recall, balanced_accuracy or f1_macro, none otherwise (roc_auc, log_loss and "
        "accuracy are not helped, and weights distort probabilities); params.class_weight "
        "always wins.",
    )
    on_unchanged: Literal["skip", "retrain"] = Field(
        "skip",
        description="When the data snapshot and the configuration equal those the champion "
        "was trained on: skip (training, registration and deployment are skipped) or retrain.",
    )

    @field_validator("estimator")
    @classmethod
    def _allowed_module(cls, value: str | None, info: ValidationInfo) -> str | None:
        return (
            None if value is None else _in_allowed_module(value, info, "allowed_estimator_modules")
        )

    @field_validator("entrypoint")
    @classmethod
    def _allowed_entrypoint(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else allowed_entrypoint(value, info)

    @property
    def candidate_list(self) -> list[CandidateSpec]:
        """What train_candidates fans out: the candidates, or — for an Optuna search of the
        one estimator, which runs as mapped workers too — that estimator as the only one."""
        if self.candidates:
            return self.candidates
        if self.estimator and self.search is not None and self.search.method == "optuna":
            name = self.estimator.rsplit(".", 1)[-1].lower()[:40]
            return [
                CandidateSpec.model_construct(
                    name=name, estimator=self.estimator, params=self.params, search=self.search,
                    kubernetes=None,
                )
            ]  # fmt: skip
        return []

    @property
    def trainer_image(self) -> str | None:
        """The team trainer image that trains the model itself (training.kubernetes.command
        set), or None."""
        pods = self.kubernetes
        if self.runner == "kubernetes" and pods is not None and pods.command:
            return pods.image
        return None

    @property
    def team_trainer(self) -> tuple[tuple[str, ...], str] | None:
        """Where the YAML names the team's own trainer and what it is — the entrypoint
        function or the trainer image's command — or None for the built-in estimators."""
        if self.entrypoint:
            return ("training", "entrypoint"), self.entrypoint
        if self.trainer_image:
            return ("training", "kubernetes", "command"), f"the trainer image {self.trainer_image}"
        return None

    @property
    def estimators(self) -> list[str]:
        """Every estimator this training fits (one, or one per candidate; none for a team's
        own trainer)."""
        if self.team_trainer:
            return []
        return [c.estimator for c in self.candidates] or [self.estimator or ""]

    @property
    def task_type(self) -> TaskType | None:
        """The declared task type, or the one the estimators' class names imply (None when
        they do not say, or candidates disagree)."""
        guesses = {guess_task_type(estimator) for estimator in self.estimators} - {None}
        return self.task or (guesses.pop() if len(guesses) == 1 else None)


class RegistrySpec(_Strict):
    """Where models are registered."""

    model_name: str | None = Field(
        None, description="Registered model name; defaults to the pipeline id.", min_length=1
    )
    mlflow_conn_id: str = Field(
        MLFLOW_CONN_ID,
        description="Airflow connection of type mlflow; absent means the embedded default.",
    )
    experiment: str | None = Field(None, description="MLflow experiment; defaults to the pipeline.")

"""The training job: what a training process or pod receives (``job.json``), as one typed,
versioned contract.

Every runner builds one (operators.training.TrainingJobOperator.build_job), the training
entrypoint checks it before anything is imported or read (``check_job``), it is logged with
the run as ``job.json``, and ``airflow-ml reproduce`` refuses a job of a version it does not
know. ``airflow-ml schema --job`` prints its JSON Schema, for teams writing their own trainers.
A job written before versions existed has no ``version`` and reads as version 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from airflow_ml_provider.core.errors import AirflowMlError

T = TypeVar("T")
JOB_VERSION = 1
"""The version build_job writes; bump it when a field changes meaning or goes away."""
SUPPORTED_JOB_VERSIONS = (1,)
"""The versions this package's training entrypoint and ``reproduce`` read."""


class JobError(AirflowMlError, ValueError):
    """A training job that does not follow the contract (or a version this package cannot
    read)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JobSplit(_Strict):
    """How the snapshot's rows are split into train and held-out rows."""

    test_size: float = Field(gt=0, lt=1, description="Share of rows held out for the gate.")
    seed: int = Field(ge=0, description="Seed of the split (and of the estimator when unset).")
    stratify: bool = Field(True, description="Keep the label's shares in both parts.")
    validation_size: float = Field(
        0,
        ge=0,
        lt=1,
        description="Share of all rows taken from the training rows as a validation set "
        "(early stopping); the held-out rows are the same with or without it.",
    )


class JobData(_Strict):
    """Which data to train on."""

    uri: str = Field(description="The snapshot (parquet or csv file URI).")
    format: Literal["parquet", "csv"] = "parquet"
    sha256: str = Field("", description="The snapshot's digest, checked by reproduce.")
    target: str = Field(description="The label column.")
    features: list[str] | None = Field(None, description="Input columns; None: all others.")
    split: JobSplit
    partition_by: str | None = Field(None, description="One model per value of this column.")
    train_uri: str | None = Field(
        None,
        description="A trainer image's training rows (features and target, parquet): an "
        "MLflow artifact URI of its run, e.g. runs:/<run id>/airflow_ml/data/train.parquet.",
    )
    validation_uri: str | None = Field(
        None,
        description="A trainer image's validation rows (with data.split.validation_size), "
        "like train_uri; never the held-out rows.",
    )


class JobPartitions(_Strict):
    """One chunk of partitions (or the fallback) a mapped training task fits: what
    plan_partitions hands each train_partitions task through XCom."""

    chunk: int | Literal["fallback"]
    partition_by: str
    features: list[str] = Field(description="The sub-models' input columns.")
    output: str = Field(description="Where the models file goes (``.skops``).")
    processes: int = Field(1, ge=1, description="Processes the chunk's partitions are fit in.")
    uri: str | None = Field(None, description="The chunk's rows (parquet); None: the fallback.")
    fallback: bool = False
    max_rows: int | None = Field(None, ge=1, description="The fallback's training rows cap.")

    @model_validator(mode="after")
    def _rows_or_fallback(self) -> JobPartitions:
        if self.fallback == (self.uri is not None):
            raise ValueError("a chunk names its rows (uri); the fallback does not")
        return self

    @property
    def rows_uri(self) -> str:
        """The chunk's rows (a chunk, not the fallback, has them)."""
        return _present(self.uri, "partitions.uri")


class TrainingJob(_Strict):
    """One training job, as a training process or pod reads it from ``job.json``."""

    version: int = Field(JOB_VERSION, description="The contract's version.")
    estimator: str | None = Field(None, description="Import path of the estimator class.")
    entrypoint: str | None = Field(
        None,
        description="A team's training function (package.module:function), instead of "
        "estimator; called with this job and the train (and validation) rows.",
    )
    image: str | None = Field(
        None,
        description="A team trainer image (training.kubernetes.command), instead of estimator "
        "and entrypoint: it reads this job, trains on data.train_uri (and validation_uri) and "
        "logs an MLflow model named 'model' to the run $MLFLOW_RUN_ID.",
    )
    params: dict[str, Any] = Field(default_factory=dict, description="Estimator parameters.")
    task: Literal["classification", "regression"]
    metrics: list[str] = Field(min_length=1, description="Metrics on the held-out rows.")
    data: JobData
    positive_class: Any = Field(None, description="Class one-class metrics count as positive.")
    class_weight: str | None = None
    features: dict[str, Any] = Field(
        default_factory=dict, description="The pipeline's `features:` section (preprocessing)."
    )
    allowed_estimator_modules: list[str] = Field(default_factory=list)
    allowed_transformer_modules: list[str] = Field(default_factory=list)
    allowed_callables: list[str] = Field(default_factory=list)
    allowed_training_modules: list[str] = Field(default_factory=list)
    tracking_uri: str | None = Field(
        None, description="MLflow tracking URI; None: $MLFLOW_TRACKING_URI (pods)."
    )
    experiment_name: str | None = None
    artifact_location: str | None = None
    run_name: str | None = None
    tags: dict[str, Any] = Field(default_factory=dict, description="Tags of the MLflow run.")
    output: str | None = Field(None, description="Where the result JSON goes; None: stdout.")
    validation: dict[str, Any] | None = Field(None, description="validate_data's summary.")
    search: dict[str, Any] | None = Field(None, description="training.search.")
    candidate: dict[str, Any] | None = Field(None, description="One of training.candidates.")
    study: dict[str, Any] | None = Field(None, description="A shared Optuna study.")
    refit: dict[str, Any] | None = Field(None, description="The candidate to refit.")
    partitions: JobPartitions | None = Field(None, description="A chunk of partitions.")
    min_success_ratio: float | None = Field(None, ge=0, le=1)
    pipeline_file: str | None = None

    @property
    def estimator_path(self) -> str:
        """The estimator's import path, for training that fits one."""
        return _present(self.estimator, "estimator")

    @property
    def partition_section(self) -> JobPartitions:
        """The chunk of partitions (or the fallback) this job trains."""
        return _present(self.partitions, "partitions")

    @property
    def candidate_section(self) -> dict[str, Any]:
        """The candidate this job cross-validates (training.candidates[])."""
        return _present(self.candidate, "candidate")

    @property
    def search_section(self) -> dict[str, Any]:
        """The hyper-parameter search this job runs."""
        return _present(self.search, "search")

    @property
    def experiment(self) -> str:
        """The MLflow experiment the run is logged to."""
        return _present(self.experiment_name, "experiment_name")

    @model_validator(mode="after")
    def _one_trainer(self) -> TrainingJob:
        trainers = [self.estimator, self.entrypoint, self.image]
        if sum(trainer is not None for trainer in trainers) != 1:
            raise ValueError("give exactly one of estimator, entrypoint and image")
        return self


def _present(value: T | None, name: str) -> T:
    if value is None:
        raise JobError(f"the training job has no {name}, which this kind of training needs")
    return value


MODEL_FLAVORS = ("sklearn", "lightgbm", "xgboost", "pytorch")
"""The MLflow flavors a training entrypoint's model may be logged as: each saves its model
without pickle (skops, LightGBM's and XGBoost's own formats, PyTorch's pt2 export), so it can
be verified and loaded as safely as a built-in one."""


@dataclass
class TrainedModel:
    """What a training entrypoint (``training.entrypoint``) returns.

    The function is called as ``fit(job: TrainingJob, train: DataFrame, validation:
    DataFrame | None)`` — the frames hold the feature columns and the target — and returns
    this (or just the fitted model, which then must be a scikit-learn estimator).
    """

    model: Any
    """The fitted model: a scikit-learn estimator (or Pipeline), a ``lightgbm.Booster``, an
    ``xgboost.Booster`` or estimator, or a ``torch.nn.Module`` taking the feature columns as
    one float32 tensor. It answers raw rows: labels for classification (or one probability
    column per class, in ``classes`` order), numbers for regression."""
    flavor: Literal["sklearn", "lightgbm", "xgboost", "pytorch"] = "sklearn"
    history: list[dict[str, float]] = field(default_factory=list)
    """Per-epoch (or per-iteration) metrics, logged as MLflow metric steps 0, 1, ..."""
    classes: list[Any] | None = None
    """Classification: the labels the model's probability columns stand for (default: the
    training rows' labels, sorted)."""
    params: dict[str, Any] = field(default_factory=dict)
    """What the function chose (epochs run, best iteration), logged as run params."""


def check_job(job: Any) -> None:
    """Raise JobError naming every field of ``job`` that breaks the contract (one line
    each), or the version when this package does not read it."""
    validated(TrainingJob, job, "training job", SUPPORTED_JOB_VERSIONS)


M = TypeVar("M", bound=BaseModel)


def validated(contract: type[M], job: Any, kind: str, versions: tuple[int, ...]) -> M:
    """``job`` read as ``contract`` (a ``kind`` of job, of one of ``versions``); JobError
    naming the version, or every field that breaks the contract, one line each."""
    if not isinstance(job, dict):
        raise JobError(f"a {kind} is a JSON object, got {type(job).__name__}")
    version = job.get("version", 1)
    if version not in versions:
        readable = ", ".join(str(v) for v in versions)
        raise JobError(
            f"{kind} version {version!r}: this airflow-ml-provider reads version "
            f"{readable} (a job written by a newer release; upgrade the package that runs it)"
        )
    try:
        return contract.model_validate(job)
    except ValidationError as exc:
        lines = [
            f"{'.'.join(str(part) for part in error['loc']) or 'job'}: {error['msg']}"
            for error in exc.errors()
        ]
        raise JobError(f"invalid {kind}: " + "; ".join(lines)) from None


def job_schema() -> dict[str, Any]:
    """The JSON Schema of a training job (``airflow-ml schema --job``)."""
    schema = TrainingJob.model_json_schema()
    schema["$id"] = f"urn:airflow-ml-provider:training-job:{JOB_VERSION}"
    return schema

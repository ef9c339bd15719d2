"""The training job: what a training process or pod receives (``job.json``), as one typed,
versioned contract.

Every runner builds one (operators.training.TrainingJobOperator.build_job), the training
entrypoint checks it before anything is imported or read (``check_job``), it is logged with
the run as ``job.json``, and ``airflow-ml reproduce`` refuses a job of a version it does not
know. ``airflow-ml schema --job`` prints its JSON Schema, for teams writing their own trainers.
A job written before versions existed has no ``version`` and reads as version 1.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from airflow_ml_provider.core.errors import AirflowMlError

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


class JobData(_Strict):
    """Which data to train on."""

    uri: str = Field(description="The snapshot (parquet or csv file URI).")
    format: Literal["parquet", "csv"] = "parquet"
    sha256: str = Field("", description="The snapshot's digest, checked by reproduce.")
    target: str = Field(description="The label column.")
    features: list[str] | None = Field(None, description="Input columns; None: all others.")
    split: JobSplit
    partition_by: str | None = Field(None, description="One model per value of this column.")


class TrainingJob(_Strict):
    """One training job, as a training process or pod reads it from ``job.json``."""

    version: int = Field(JOB_VERSION, description="The contract's version.")
    estimator: str = Field(description="Import path of the estimator class.")
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
    partitions: dict[str, Any] | None = Field(None, description="A chunk of partitions.")
    min_success_ratio: float | None = Field(None, ge=0, le=1)
    pipeline_file: str | None = None


def check_job(job: Any) -> None:
    """Raise JobError naming every field of ``job`` that breaks the contract (one line
    each), or the version when this package does not read it."""
    if not isinstance(job, dict):
        raise JobError(f"a training job is a JSON object, got {type(job).__name__}")
    version = job.get("version", 1)
    if version not in SUPPORTED_JOB_VERSIONS:
        readable = ", ".join(str(v) for v in SUPPORTED_JOB_VERSIONS)
        raise JobError(
            f"training job version {version!r}: this airflow-ml-provider reads version "
            f"{readable} (a job written by a newer release; upgrade the package that runs it)"
        )
    try:
        TrainingJob.model_validate(job)
    except ValidationError as exc:
        lines = [
            f"{'.'.join(str(part) for part in error['loc']) or 'job'}: {error['msg']}"
            for error in exc.errors()
        ]
        raise JobError("invalid training job: " + "; ".join(lines)) from None


def job_schema() -> dict[str, Any]:
    """The JSON Schema of a training job (``airflow-ml schema --job``)."""
    schema = TrainingJob.model_json_schema()
    schema["$id"] = f"urn:airflow-ml-provider:training-job:{JOB_VERSION}"
    return schema

"""The step jobs: a heavy step's work as one typed, versioned contract that a pod (or the
worker itself) runs — ``python -m airflow_ml_provider.ml.step --job job.json``.

A step that reads much of the snapshot (validate_data, plan_partitions, assemble_model,
evaluate_model) can run where the memory is — a pod with its own resources — instead of the
Airflow worker: the task builds the job, the pod reads what it needs from the object store
and the MLflow store, writes what it makes there and answers with a small JSON result; the
task does the Airflow side (XCom, logs, links). Like the training job, the job is JSON only
(never a pickle), checked before anything is read, and refused when its version is not one
this package reads.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from airflow_ml_provider.core.training_job import (
    JobError,
    JobSplit,
    TrainingJob,
    _Strict,
    validated,
)

STEP_JOB_VERSION = 1
"""The version the operators write; bump it when a field changes meaning or goes away."""
SUPPORTED_STEP_JOB_VERSIONS = (1,)
"""The versions this package's step entrypoint reads."""
PLAN_FILE = "plan.json"
"""The plan, written in the plan's folder after every chunk file: its presence means the
chunk files are complete."""


def chunk_file_name(index: int) -> str:
    """The name of chunk ``index``'s rows in the plan's folder."""
    return f"chunk-{index:05d}.parquet"


class PlanPartitionsJob(_Strict):
    """plan_partitions' work: plan the partitions of a snapshot and write the chunk files."""

    version: int = Field(STEP_JOB_VERSION, description="The contract's version.")
    step: Literal["plan_partitions"] = "plan_partitions"
    snapshot: str = Field(description="The snapshot (a parquet file URI).")
    folder: str = Field(description="Where plan.json and the chunk files go (a folder URI).")
    target: str = Field(description="The label column.")
    partition_by: str = Field(description="The column whose values are the partitions.")
    task: Literal["classification", "regression"]
    features: list[str] | None = Field(None, description="Input columns; None: all others.")
    split: JobSplit
    min_partition_rows: int = Field(ge=1, description="Fewer training rows: skipped.")
    partitions_per_task: int = Field(ge=1, description="Partitions per chunk file.")
    output: str | None = Field(
        None, description="Where the result JSON goes (a pod's XCom file); None: not written."
    )

    @property
    def plan_file(self) -> str:
        """The plan's URI."""
        return f"{self.folder.rstrip('/')}/{PLAN_FILE}"


class AssembleModelJob(_Strict):
    """assemble_model's work: one MLflow run and router model from the chunks' results."""

    version: int = Field(STEP_JOB_VERSION, description="The contract's version.")
    step: Literal["assemble_model"] = "assemble_model"
    training: TrainingJob = Field(
        description="The training job the chunks were trained with (its min_success_ratio "
        "set); the run is logged to its experiment, MLflow's URI from the environment."
    )
    inputs: str = Field(
        description="A JSON file (URI) of {plan, results}: plan_partitions' plan and the "
        "training tasks' results."
    )
    output: str | None = Field(
        None, description="Where the result JSON goes (a pod's XCom file); None: not written."
    )


class EvaluateModelJob(_Strict):
    """evaluate_model's work: the challenger and the champion scored on the same held-out
    rows, the rules decided, the decision and its tables logged on the challenger's run.
    The fields are EvaluateModelOperator's parameters (see its docs)."""

    version: int = Field(STEP_JOB_VERSION, description="The contract's version.")
    step: Literal["evaluate_model"] = "evaluate_model"
    training: dict[str, Any] = Field(description="The challenger's TrainingResult.")
    snapshot: dict[str, Any] = Field(description="snapshot_data's Snapshot.")
    model_name: str
    target: str
    task: Literal["classification", "regression"]
    primary_metric: str
    metrics: list[str]
    features: list[str] | None = None
    split: JobSplit
    thresholds: dict[str, float] = {}
    min_improvement: float | str = 0.0
    partition_by: str | None = None
    per_partition: dict[str, Any] = {}
    max_regression: dict[str, float] = {}
    confidence: float | None = None
    bootstrap_samples: int = Field(1000, ge=1)
    slices: list[dict[str, Any]] = []
    first_run: str = "promote_if_thresholds"
    importance: bool = True
    sample_weight: str | None = None
    baseline_min_improvement: float | str | None = None
    positive_class: str | int | float | bool | None = None
    plots: bool = True
    output: str | None = Field(
        None, description="Where the decision JSON goes (a pod's XCom file); None: not written."
    )


class ValidateDataJob(_Strict):
    """validate_data's checks (guards, Great Expectations, schema, drift) over the snapshot,
    read a column at a time; the fields are ValidateDataOperator's, with the baselines the
    task looked up. The answer is the checks' summary: the task decides and reports."""

    version: int = Field(STEP_JOB_VERSION, description="The contract's version.")
    step: Literal["validate_data"] = "validate_data"
    snapshot: dict[str, Any] = Field(description="snapshot_data's Snapshot (uri, format).")
    target: str | None = None
    task: Literal["classification", "regression"] | None = None
    expectations: list[dict[str, dict[str, Any]]] = []
    max_duplicate_share: float = Field(0.1, ge=0, le=1)
    max_null_rate_increase: float = Field(0.05, ge=0, le=1)
    freshness: dict[str, Any] | None = None
    drift: dict[str, Any] | None = Field(
        None, description="Drift options (drift_report keywords); None: no drift check."
    )
    schema_baseline: dict[str, Any] | None = Field(
        None, description="The schema to compare with (inferred earlier, or pinned)."
    )
    drift_baseline_uri: str | None = Field(
        None, description="The data or drift profile (URI) to compare with; None: no drift."
    )
    drift_baseline_format: Literal["csv", "parquet"] = Field(
        "parquet", description="The format of that data (when it has no profile beside it)."
    )
    schema_version: int | None = Field(
        None, description="The stored schema's version, echoed in the summary's baselines."
    )
    schema_uri: str | None = Field(
        None, description="Where that schema is, echoed in the summary's baselines."
    )
    docs_folder: str | None = Field(
        None, description="Where the rendered Data Docs go (URI); None: not rendered."
    )
    profile_file: str | None = Field(
        None, description="Where the snapshot's drift profile goes (URI); None: not kept."
    )
    output: str | None = Field(
        None, description="Where the summary JSON goes (a pod's XCom file); None: not written."
    )


StepJob = PlanPartitionsJob | AssembleModelJob | EvaluateModelJob | ValidateDataJob
STEP_JOBS: dict[str, type[StepJob]] = {
    "validate_data": ValidateDataJob,
    "plan_partitions": PlanPartitionsJob,
    "assemble_model": AssembleModelJob,
    "evaluate_model": EvaluateModelJob,
}
"""Every step a step job may name, with its contract."""


def read_step_job(job: Any) -> StepJob:
    """``job`` checked against its step's contract; JobError naming what is wrong."""
    step = job.get("step") if isinstance(job, dict) else None
    contract = STEP_JOBS.get(str(step))
    if contract is None:
        raise JobError(
            f"a step job names its step, one of {', '.join(sorted(STEP_JOBS))}; got {step!r}"
        )
    return validated(contract, job, f"{step} job", SUPPORTED_STEP_JOB_VERSIONS)

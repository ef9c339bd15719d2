"""What the pipeline's tasks hand each other through XCom: one TypedDict per payload.

Producers return these, consumers take them (as XComArgs in the DAG), and the run summary,
``airflow-ml run --json`` and the UI read the same keys. No imports from the project.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict


class Snapshot(TypedDict):
    """snapshot_data's result: one content-addressed parquet file of the source."""

    uri: str
    sha256: str
    format: str
    bytes: int
    rows: int
    columns: list[str]
    reused: bool
    """The same data was snapshotted before (same sha256): its file is reused."""
    source: str
    source_changed_at: float | None
    """Epoch seconds of the source's newest change, read before the data."""


class TrainingResult(TypedDict):
    """train_model's (or assemble_model's) result: the MLflow run and its logged model."""

    run_id: str
    experiment_id: str
    model_uri: str
    metrics: dict[str, float]
    rows_train: int
    rows_test: int
    search: NotRequired[dict[str, Any]]
    """training.search's outcome (best params, CV table), when the job searched."""
    candidates: NotRequired[list[CandidateResult]]
    """training.candidates: the leaderboard, best first (select_model's result)."""
    winner: NotRequired[str]
    """training.candidates: the name of the candidate refitted as this model."""
    heldout_answers: NotRequired[dict[str, Any]]
    """The model's answers for the held-out rows, logged on the run (artifact, classes,
    rows, snapshot sha256, split): the gate scores them instead of predicting again."""
    warnings: NotRequired[list[str]]
    """What went wrong but did not stop training (a solver that did not converge), a line
    each: shown in the run summary and tagged on the run."""
    epochs: NotRequired[int]
    """A training entrypoint's history: how many epochs (metric steps) it logged."""


class CandidateResult(TypedDict):
    """One candidate of training.candidates, cross-validated on the train split."""

    name: str
    estimator: str
    params: dict[str, Any]
    status: str
    """succeeded | failed."""
    cv: dict[str, dict[str, float]]
    """metric -> {mean, std} over the folds, in the metric's natural sign."""
    fit_seconds: float
    rows: int
    rows_sha256: str
    """Digest of the train rows' labels it was cross-validated on (ml.training.candidates)."""
    run_id: str
    experiment_id: str
    error: NotRequired[str]
    rank: NotRequired[int]


class PartitionChunk(TypedDict):
    """What training one chunk of partitions (or the fallback) returns (train_partitions'
    mapped tasks); assemble_model reads every chunk's."""

    chunk: int | Literal["fallback"]
    models_uri: str | None
    """The first of ``model_files`` (what older releases wrote)."""
    model_files: list[str]
    """skops dumps of ``{partition key: model}``, one per process that fitted models."""
    file_partitions: NotRequired[list[list[str]]]
    """The partition keys each of ``model_files`` holds (absent before this field existed)."""
    trusted_types: list[str]
    partitions: list[dict[str, Any]]
    """One record per partition: partition, status, reason, rows, metrics, fit_seconds."""
    fit_seconds: float
    seconds: float
    answers_uri: NotRequired[str]
    """The held-out rows' answers, beside the models (absent for older chunk files)."""
    classes: NotRequired[list[Any] | None]


class GateRule(TypedDict):
    """One rule of the gate: the value it saw, the bound it needed, whether it passed."""

    rule: str
    metric: str
    value: float
    bound: float
    passed: bool


class GateDecision(TypedDict):
    """evaluate_model's result: promote or keep the champion, and why."""

    promote: bool
    needs_approval: bool
    """A first model passed every rule and waits for a person (first_run: require_approval)."""
    reason: str
    rules: list[GateRule]
    challenger: NotRequired[dict[str, float]]
    champion: NotRequired[dict[str, float] | None]
    baseline: NotRequired[dict[str, Any]]
    """The trivial baseline's metrics on the same held-out rows, and ``model`` (its repr)."""
    heldout_rows: NotRequired[str]
    positive_class: NotRequired[str | int | float | bool]
    plots: NotRequired[list[str]]
    mlflow_run_id: NotRequired[str]
    """The run artifact listing the held-out rows scored (snapshot position, row hash)."""
    champion_version: NotRequired[int | None]
    """The champion the gate judged against: promotion is a compare-and-set on it."""
    primary_metric: NotRequired[str]
    rows: NotRequired[int]
    partitions: NotRequired[dict[str, Any]]
    bootstrap: NotRequired[dict[str, float]]
    slices: NotRequired[list[dict[str, Any]]]
    importance: NotRequired[list[dict[str, Any]]]
    shap: NotRequired[list[dict[str, Any]]]


class Registration(TypedDict):
    """register_model's result: the model version of this run and what happened to it."""

    name: str
    version: int
    created: bool
    """False when a re-run found the version its training run already had."""
    aliases: list[str]
    promoted: bool
    reason: str
    previous_champion: int | None


class Validation(TypedDict):
    """validate_data's result (also the XCom ``validation``, pushed before a failure)."""

    success: bool
    rows: int
    columns: int
    guards: list[dict[str, Any]]
    """Blocking findings (empty data, missing target, duplicates, stale data)."""
    evaluated: int
    failed_expectations: list[dict[str, Any]]
    results: list[dict[str, Any]]
    warnings: list[str]
    schema: dict[str, Any] | None
    """``{inferred, findings, mode, baseline_version, baseline_uri[, stored_version]}``."""
    drift: dict[str, Any] | None
    retrain_reason: str | None
    report_uri: str
    data_docs_uri: str | None
    drift_skipped: NotRequired[str]


class Approval(TypedDict):
    """approve_promotion's result: whether a person was asked, and what they said."""

    approved: bool | None
    """None when nobody was asked (the gate did not recommend a promotion)."""
    asked: bool
    by: NotRequired[str | None]
    timed_out: NotRequired[bool]


class Deployment(TypedDict):
    """deploy_model's result: what serves the promoted version now."""

    strategy: str
    model_uri: str
    version: int
    deployed_at: str
    kubernetes: NotRequired[dict[str, Any]]
    """For ``kubernetes``: namespace, deployment, service, replicas, previous_version,
    pods_tested, canary."""
    kserve: NotRequired[dict[str, Any]]
    """For ``kserve``: namespace, inference_service, previous_version, canary."""


Rollback = TypedDict(  # functional form: "from" is a Python keyword
    "Rollback",
    {
        "model": str,
        "from": str | None,
        "to": str,
        "previous_removed": bool,
        "strategy": str,
        "checked": str,
        "kubernetes": NotRequired[dict[str, Any]],
    },
)
"""A rollback that serving followed (RollbackModelOperator, ``airflow-ml rollback``): the
champion moved ``from`` -> ``to``; ``previous_removed`` when ``previous`` pointed at the
restored version; ``checked``: what the target did before anything moved (loads and
predicts on its input example, or only loads when it has none)."""


def validation_record(validation: Validation | None) -> dict[str, Any] | None:
    """What of validate_data's result goes to the training run in MLflow (JSON, small)."""
    if not validation:
        return None
    schema = validation.get("schema") or {}
    return {
        "success": validation.get("success"),
        "rows": validation.get("rows"),
        "evaluated": validation.get("evaluated"),
        "failed_expectations": validation.get("failed_expectations", []),
        "warnings": validation.get("warnings", []),
        "schema_findings": schema.get("findings", []),
        "schema_version": schema.get("stored_version") or schema.get("baseline_version"),
        "drift": validation.get("drift"),
        "retrain_reason": validation.get("retrain_reason"),
        "report_uri": validation.get("report_uri"),
        "data_docs_uri": validation.get("data_docs_uri"),
    }

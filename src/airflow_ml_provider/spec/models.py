"""The YAML contract: pydantic v2 models with ``extra="forbid"``.

Only cheap checks live here (types, allow-list prefixes, known metric names), because
these models are validated while Airflow parses the DAG folder. Checks that need heavy
imports (does the estimator exist, are its params accepted) live in ``spec.deep_checks``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from airflow_ml_provider.cluster import (
    SERVING_NAMESPACE,
    SERVING_SERVICE_ACCOUNT,
    TRAINING_NAMESPACE,
    TRAINING_SERVICE_ACCOUNT,
)
from airflow_ml_provider.core.allow_lists import in_allowed_module
from airflow_ml_provider.core.features import FeaturesSpec
from airflow_ml_provider.core.steps import STEP_NAMES
from airflow_ml_provider.spec.asset_conditions import parse_condition
from airflow_ml_provider.spec.durations import parse_duration
from airflow_ml_provider.spec.errors import did_you_mean
from airflow_ml_provider.spec.formats import format_of
from airflow_ml_provider.spec.metrics import METRICS, TaskType, guess_task_type, metric_names

CRON_PRESETS = (
    "@once",
    "@continuous",
    "@hourly",
    "@daily",
    "@weekly",
    "@monthly",
    "@quarterly",
    "@yearly",
    "@annually",
)
DEFAULT_ESTIMATOR_PREFIXES = ("sklearn.", "lightgbm.", "xgboost.")
DEFAULT_NOTIFIER_PREFIXES = ("airflow.providers.",)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _duration(value: Any) -> dt.timedelta:
    return parse_duration(value)


Duration = Annotated[dt.timedelta, BeforeValidator(_duration)]


def _check_metric_name(name: str) -> str:
    if name not in METRICS:
        raise ValueError(
            f"unknown metric {name!r}{did_you_mean(name, METRICS)} "
            f"(known: {', '.join(metric_names())})"
        )
    return name


MetricName = Annotated[str, AfterValidator(_check_metric_name)]


def _valid_cron(value: str) -> str:
    if value in CRON_PRESETS:
        return value
    if value.startswith("@"):
        raise ValueError(f"unknown preset {value!r}; expected one of {', '.join(CRON_PRESETS)}")
    from croniter import croniter  # already imported by Airflow's own timetables

    if len(value.split()) != 5 or not croniter.is_valid(value):
        raise ValueError(
            f"{value!r} is not a valid cron expression; expected 5 fields "
            "'minute hour day-of-month month day-of-week' (e.g. '0 3 * * *') or a preset"
        )
    return value


def _valid_asset_condition(value: str) -> str:
    parse_condition(value)  # raises ConditionError (a ValueError) saying where and what
    return value


Cron = Annotated[str, AfterValidator(_valid_cron)]


_DEFAULT_PREFIXES = {
    "allowed_estimator_modules": DEFAULT_ESTIMATOR_PREFIXES,
    "allowed_notifier_modules": DEFAULT_NOTIFIER_PREFIXES,
}


def _in_allowed_module(value: str, info: ValidationInfo, setting: str) -> str:
    return in_allowed_module(value, info, setting, _DEFAULT_PREFIXES[setting])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitSpec(_Strict):
    """How rows are split into train and held-out sets (the same split scores both models)."""

    test_size: float = Field(0.25, gt=0, lt=1, description="Share of rows held out, in (0, 1).")
    seed: int = Field(0, description="Random seed of the split.")
    stratify: bool = Field(True, description="Stratify by target (classification only).")


SourceKind = Literal["files", "bigquery", "sql"]


def _source_shorthand(value: Any) -> Any:
    return {"kind": "files", "uri": value} if isinstance(value, str) else value


class SourceSpec(_Strict):
    """Where rows come from. A plain string is shorthand for ``{kind: files, uri: ...}``.

    Credentials never live here: ``conn_id`` names an Airflow connection.
    """

    kind: SourceKind = Field("files", description="files | bigquery | sql.")
    uri: str | None = Field(
        None,
        description="files: a path (relative to the YAML file), glob (data/*.csv), prefix "
        "ending in /, or a file://, gs:// or s3:// URI of the same.",
        min_length=1,
    )
    conn_id: str | None = Field(
        None,
        description="Airflow connection: object storage for files (optional), "
        "google_cloud_default for bigquery, any common.sql connection for sql (required).",
    )
    table: str | None = Field(None, description="bigquery: project.dataset.table.")
    query: str | None = Field(None, description="bigquery or sql: the SELECT to snapshot.")
    change_query: str | None = Field(
        None,
        description="sql: a query returning one timestamp or number that grows when new "
        "data arrives (e.g. SELECT max(updated_at) FROM events); used by data.wait.",
    )
    location: str | None = Field(None, description="bigquery: job location, e.g. EU.")
    file_name_column: str | None = Field(
        None, description="files: add a column holding each row's source file name."
    )


SourceField = Annotated[
    SourceSpec, BeforeValidator(_source_shorthand, json_schema_input_type=str | SourceSpec)
]
"""A source mapping, or a plain string as shorthand for a files source."""


class FreshnessSpec(_Strict):
    """Data older than ``max_age`` (newest value of ``column``) fails validation."""

    column: str = Field(description="Timestamp column whose newest value must be recent.")
    max_age: Duration = Field(description="How old the newest row may be, e.g. 2d or 6h.")


class WaitSpec(_Strict):
    """A NewDataSensor in front of snapshot_data: wait for data newer than the last snapshot."""

    timeout: Duration = Field(dt.timedelta(hours=6), description="Give up after this long.")
    poke_interval: Duration = Field(dt.timedelta(minutes=5), description="Check this often.")
    mode: Literal["deferrable", "reschedule", "poke"] = Field(
        "deferrable",
        description="deferrable (no worker slot while waiting), reschedule or poke.",
    )
    soft_fail: bool = Field(False, description="On timeout skip the run instead of failing it.")


class DataSpec(_Strict):
    """Where the training data comes from."""

    source: SourceField = Field(
        description="A path/glob/URI of csv or parquet files, or a mapping with kind "
        "files | bigquery | sql."
    )
    format: Literal["csv", "parquet"] | None = Field(
        None, description="files: csv | parquet; inferred from the file suffix when omitted."
    )
    target: str = Field(description="Name of the label column.", min_length=1)
    features: list[str] | None = Field(
        None, description="Feature columns; null means every column except the target."
    )
    split: SplitSpec = SplitSpec()
    freshness: FreshnessSpec | None = Field(
        None, description="Fail validation when the newest row is older than max_age."
    )
    wait: WaitSpec | None = Field(
        None, description="Wait for new data before each run (NewDataSensor)."
    )
    partition_by: str | None = Field(
        None,
        min_length=1,
        description="Train one model per value of this column, routed by one registered "
        "model (see training.partitioning).",
    )

    @property
    def resolved_format(self) -> str | None:
        """Format of the source files: declared, implied by the suffix, or None if unknown.

        BigQuery and SQL sources are read as tables (snapshots are always parquet).
        """
        if self.source.kind != "files":
            return "parquet"
        if self.format is not None:
            return self.format
        return format_of(self.source.uri or "")


class DriftTestSpec(_Strict):
    """How per-feature drift is scored and when the data counts as drifted."""

    method: Literal["psi", "ks", "wasserstein"] = Field(
        "psi",
        description="Numeric columns: psi (binned population stability index), ks "
        "(Kolmogorov-Smirnov statistic) or wasserstein (normed by the baseline's std). "
        "Categorical columns always use PSI.",
    )
    threshold: float | None = Field(
        None,
        gt=0,
        description="Drift score above which a column counts as drifted; "
        "default 0.2 for psi, 0.1 for ks and wasserstein.",
    )
    columns: dict[str, float] = Field(
        default_factory=dict, description="Per-column thresholds overriding threshold."
    )
    max_drifted_share: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Share of drifted columns allowed before the "
        "dataset counts as drifted (0: any drifted column).",
    )


class DriftSpec(DriftTestSpec):
    """Per-feature drift between the new snapshot and the champion's training data."""

    action: Literal["fail", "warn", "retrain"] = Field(
        "retrain",
        description="On drift: fail the run, warn (continue, flagged in the run summary) "
        "or retrain (continue; drift is recorded as the reason to train).",
    )


class ValidationSpec(_Strict):
    """Checks run on every snapshot before anything trains on it."""

    expectations: list[dict[str, dict[str, Any]]] = Field(
        default_factory=list,
        description="Each item is {expectation_name: {kwargs}}, e.g. "
        "{expect_column_values_to_not_be_null: {column: age}}.",
    )
    schema_: str | None = Field(
        "infer",
        alias="schema",
        description="infer: the first passing run stores the inferred schema and later runs "
        "are compared with it; a path to a reviewed schema file pins it; null turns it off.",
    )
    drift: DriftSpec | None = Field(
        DriftSpec(), description="Drift against the champion's training data; null: off."
    )
    on_failure: Literal["fail", "warn"] = Field(
        "fail",
        description="What failed expectations and schema changes do: fail the run, or warn "
        "and continue. The always-on guards fail regardless.",
    )
    max_duplicate_share: float = Field(
        0.1, ge=0, le=1, description="Guard: share of exact-duplicate rows allowed."
    )
    max_null_rate_increase: float = Field(
        0.05, ge=0, le=1, description="Schema: how much a column's null share may grow."
    )

    @field_validator("expectations")
    @classmethod
    def _one_expectation_per_item(cls, value: list[dict[str, dict[str, Any]]]):
        for index, item in enumerate(value):
            if len(item) != 1:
                raise ValueError(
                    f"item {index} must hold exactly one expectation name, got {sorted(item)}"
                )
            name = next(iter(item))
            if not name.startswith("expect_"):
                raise ValueError(
                    f"item {index}: {name!r} is not an expectation name "
                    "(Great Expectations names start with 'expect_')"
                )
        return value


class _PodPlacement(_Strict):
    """Image, resources and scheduling of our pods (training or serving); each kind adds its
    namespace and ServiceAccount, whose defaults are what the Helm chart creates."""

    image: str = Field(description="Container image, e.g. registry.example.com/ml/trainer:1.4.2.")
    automount_service_account_token: bool = Field(
        False, description="Mount the ServiceAccount token into the pod (off by default)."
    )
    resources: dict[Literal["requests", "limits"], dict[str, str | int | float]] = Field(
        default_factory=dict,
        description='Per-pod resources, e.g. {requests: {cpu: "2", memory: 4Gi}, '
        "limits: {memory: 8Gi, nvidia.com/gpu: 1}}.",
    )
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Kubernetes tolerations, e.g. [{key: nvidia.com/gpu, operator: Exists, "
        "effect: NoSchedule}].",
    )
    kubernetes_conn_id: str = Field(
        "kubernetes_default", description="Airflow connection to the cluster."
    )
    env_from_secrets: list[str] = Field(
        default_factory=list,
        description="Kubernetes Secrets whose keys become the pod's environment (storage "
        "credentials, MLflow auth); never put secrets in YAML.",
    )


class KubernetesSpec(_PodPlacement):
    """Where and how the training pod runs (training.runner: kubernetes)."""

    namespace: str = Field(TRAINING_NAMESPACE, description="Namespace the pod runs in.")
    service_account: str | None = Field(
        TRAINING_SERVICE_ACCOUNT,
        description="ServiceAccount of the pod (the Helm chart's, with no API permissions; "
        "its token is mounted only when asked).",
    )
    priority_class: str | None = Field(None, description="PriorityClass name of the pod.")
    pod_template_file: str | None = Field(
        None, description="A pod template YAML the pod starts from (path relative to this file)."
    )
    startup_timeout: Duration = Field(
        dt.timedelta(minutes=10), description="How long the pod may take to start."
    )
    deferrable: bool = Field(True, description="Wait for the pod in the triggerer.")


SEARCH_DISTRIBUTIONS = ("uniform", "loguniform", "randint")


class SearchSpec(_Strict):
    """Hyper-parameter search with scikit-learn's GridSearchCV / RandomizedSearchCV."""

    method: Literal["grid", "random"] = Field(description="grid | random.")
    params: dict[str, list[Any] | dict[str, Any]] = Field(
        description="Per parameter a list of values, or for random search a distribution "
        "{distribution: uniform | loguniform | randint, low: ..., high: ...} "
        "(randint includes high; loguniform needs low > 0)."
    )
    cv: int = Field(5, ge=2, le=100, description="Cross-validation folds.")
    n_iter: int = Field(20, ge=1, le=10_000, description="random: parameter settings tried.")
    scoring: MetricName | None = Field(
        None, description="Metric the search optimises; default: evaluation.primary_metric."
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
    fallback: bool = Field(
        True,
        description="Train one model on all rows for partitions without their own model "
        "(unseen, skipped or failed). Without it such rows cannot be scored.",
    )


class TrainingSpec(_Strict):
    """Which estimator is trained, with what parameters, where."""

    estimator: str = Field(
        description="Import path of the estimator class, e.g. "
        "sklearn.ensemble.RandomForestClassifier; must match the allowed module prefixes.",
        pattern=r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$",
    )
    params: dict[str, Any] = Field(default_factory=dict, description="Constructor parameters.")
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

    @field_validator("estimator")
    @classmethod
    def _allowed_module(cls, value: str, info: ValidationInfo) -> str:
        return _in_allowed_module(value, info, "allowed_estimator_modules")

    @property
    def task_type(self) -> TaskType | None:
        """The declared task type, or the one the estimator's class name implies."""
        return self.task or guess_task_type(self.estimator)


class PartitionGateSpec(_Strict):
    """The per-partition part of the gate for partitioned models."""

    max_regression: float = Field(
        0.05,
        ge=0,
        description="How much worse than the champion one partition's primary metric may get.",
    )
    max_regressed_share: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Share of judged partitions allowed to regress by more than max_regression.",
    )
    min_rows: int = Field(
        30, ge=1, description="Partitions with fewer held-out rows are reported, not judged."
    )


class SliceSpec(_Strict):
    """A column whose groups must be served fairly: the primary metric per group."""

    column: str = Field(min_length=1, description="Column of the data defining the groups.")
    max_gap: float | None = Field(
        None, ge=0, description="Largest allowed gap of the primary metric between groups."
    )
    max_regression: float = Field(
        0.0,
        ge=0,
        description="How much worse than the champion any one group may get.",
    )
    min_rows: int = Field(30, ge=1, description="Groups with fewer held-out rows are not judged.")


class EvaluationSpec(_Strict):
    """How the challenger is judged against thresholds and the current champion."""

    primary_metric: MetricName = Field(description="The metric that decides promotion.")
    metrics: list[MetricName] = Field(
        default_factory=list, description="Metrics computed and logged."
    )
    thresholds: dict[str, float] = Field(
        default_factory=dict,
        description="Absolute bounds: floors for higher-is-better metrics, ceilings for "
        "lower-is-better ones (log_loss, rmse, mse, mae, mape).",
    )
    min_improvement: float | str = Field(
        0.0,
        description="How much the primary metric must beat the champion by: a number "
        "(absolute, e.g. 0.005) or a share of the champion's value (relative, e.g. '1%').",
    )
    max_regression: dict[str, float] = Field(
        default_factory=dict,
        description="Secondary metrics: how much worse than the champion each may get.",
    )
    confidence: float | None = Field(
        None,
        gt=0.5,
        lt=1,
        description="Promote only when the paired-bootstrap lower bound of the primary "
        "metric's improvement at this confidence clears min_improvement (e.g. 0.95).",
    )
    bootstrap_samples: int = Field(
        1000, ge=100, le=100_000, description="Resamples of the held-out rows for confidence."
    )
    slices: list[SliceSpec] = Field(
        default_factory=list, description="Groups whose primary metric is checked one by one."
    )
    sample_weight: str | None = Field(
        None,
        min_length=1,
        description="Column whose values weight each held-out row in every gate metric "
        "(needs data.features listed, without it).",
    )
    first_run: Literal["promote_if_thresholds", "require_approval"] = Field(
        "promote_if_thresholds",
        description="With no champion yet: promote when the thresholds hold, or register "
        "the model as challenger only and leave promotion to a person.",
    )
    per_partition: PartitionGateSpec | None = Field(
        None,
        description="Partitioned models: how much single partitions may regress "
        "(defaults apply when data.partition_by is set).",
    )

    @field_validator("min_improvement")
    @classmethod
    def _absolute_or_relative(cls, value: float | str) -> float | str:
        if isinstance(value, str) and not re.fullmatch(r"\d+(\.\d+)?%", value.strip()):
            raise ValueError(
                "expected a number (absolute, e.g. 0.005) or a share of the champion's "
                f"value (relative, e.g. '1%'), got {value!r}"
            )
        return value.strip() if isinstance(value, str) else value

    @property
    def all_metrics(self) -> list[str]:
        """The metrics to compute: the primary metric first, then the others, no repeats."""
        return list(dict.fromkeys([self.primary_metric, *self.metrics]))


class RegistrySpec(_Strict):
    """Where models are registered."""

    model_name: str | None = Field(
        None, description="Registered model name; defaults to the pipeline id.", min_length=1
    )
    mlflow_conn_id: str = Field(
        "mlflow_default",
        description="Airflow connection of type mlflow; absent means the embedded default.",
    )
    experiment: str | None = Field(None, description="MLflow experiment; defaults to the pipeline.")


class _ReadsSource:
    """A section with a ``source`` (files, BigQuery or SQL) other than data.source."""

    @property
    def resolved_format(self) -> str | None:
        """Format of the source's files (their suffix), or parquet for table sources."""
        source = self.source
        return format_of(source.uri or "") if source.kind == "files" else "parquet"


class BatchSpec(_ReadsSource, _Strict):
    """Batch scoring: every run scores this data with the champion."""

    source: SourceField = Field(
        description="Rows to score: a path/glob/URI of csv or parquet files, or a "
        "mapping with kind files | bigquery | sql (as data.source)."
    )
    output: str = Field(
        min_length=1,
        description="Folder (path, file:// or gs://) receiving run_id=<run>/predictions.parquet, "
        "or bigquery://project.dataset.table (the run's rows replaced each run).",
    )
    output_conn_id: str = Field(
        "google_cloud_default", description="Google Cloud connection of a bigquery:// output."
    )
    id_columns: list[str] = Field(
        default_factory=list,
        description="Input columns copied next to each prediction; empty copies every column.",
    )


class LabelsSpec(_ReadsSource, _Strict):
    """Labels arriving for recent rows: the champion's live metrics (monitoring.labels)."""

    source: SourceField = Field(
        description="Rows with the join column and data.target (as data.source)."
    )
    join_on: list[str] = Field(
        min_length=1, description="Column(s) joining labels to the recent rows, e.g. [id]."
    )
    max_drop: float = Field(
        0.05,
        ge=0,
        description="Retrain when the champion's primary metric on labelled recent rows is "
        "worse than at its evaluation by more than this (absolute).",
    )
    min_rows: int = Field(50, ge=1, description="Judge only with at least this many rows.")

    @field_validator("join_on", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class MonitoringSpec(_ReadsSource, _Strict):
    """A second DAG, <pipeline>__monitor, that compares recent data with the champion's
    training data on its own schedule and asks for retraining when it drifted."""

    source: SourceField = Field(
        description="Recent scoring/inference rows: a path/glob/URI of csv or parquet files, "
        "or a mapping with kind files | bigquery | sql (as data.source)."
    )
    schedule: Cron = Field("@daily", description="When the monitor runs (cron or preset).")
    drift: DriftTestSpec = Field(
        default_factory=DriftTestSpec, description="How drift is scored (as validation.drift)."
    )
    labels: LabelsSpec | None = Field(
        None, description="Labels for recent rows: retrain when the champion's live metric drops."
    )
    mode: Literal["dag", "watcher"] = Field(
        "dag",
        description="dag: a <pipeline>__monitor DAG on `schedule`. watcher: no DAG; Airflow's "
        "triggerer watches the source every poll_interval (an AssetWatcher) and starts "
        "retraining on drift, without a worker slot (drift only, no labels).",
    )
    poll_interval: Duration = Field(
        dt.timedelta(minutes=5), description="mode watcher: how often the source is checked."
    )


CanaryCheck = Literal["ready", "no_restarts", "smoke_test"]


class CanarySpec(_Strict):
    """A canary before the full rollout (deployment.kubernetes.canary)."""

    percent: int = Field(
        ge=1, le=50, description="Share of traffic the canary gets (by replica count)."
    )
    duration: Duration = Field(
        dt.timedelta(minutes=15), description="How long the canary must stay healthy."
    )
    interval: Duration = Field(
        dt.timedelta(seconds=30), description="How often the checks run during the canary."
    )
    checks: list[CanaryCheck] = Field(
        default_factory=lambda: list(get_args(CanaryCheck)),
        description="ready: every canary pod stays ready; no_restarts: no container restarts; "
        "smoke_test: the canary answers the model's input example.",
    )


class ServingSpec(_PodPlacement):
    """An HTTP model server on Kubernetes (deployment.strategy: kubernetes)."""

    image: str = Field(
        description="Serving image with mlflow (e.g. the training image built from "
        "Dockerfile.train); it runs `mlflow models serve`."
    )
    namespace: str = Field(
        SERVING_NAMESPACE, description="Namespace of the Deployment and Service."
    )
    service_account: str | None = Field(
        SERVING_SERVICE_ACCOUNT,
        description="ServiceAccount of the serving pods (the Helm chart's, no API permissions).",
    )
    name: str | None = Field(
        None,
        description="Deployment and Service name; default: the model name, DNS-safe.",
        pattern=r"^[a-z]([-a-z0-9]{0,50}[a-z0-9])?$",
    )
    replicas: int = Field(2, ge=1, le=1000, description="Serving pods of the stable Deployment.")
    port: int = Field(8080, ge=1, le=65535, description="Container and Service port.")
    rollout_timeout: Duration = Field(
        dt.timedelta(minutes=10),
        description="How long a rollout may take before it counts as failed (and is undone).",
    )
    canary: CanarySpec | None = Field(None, description="Run a canary before the full rollout.")


class DeploymentSpec(_Strict):
    """How a promoted model reaches users."""

    strategy: Literal["alias", "batch", "kubernetes"] = Field(
        "alias",
        description="alias: serving reads models:/<model_name>@champion. batch: the alias "
        "move plus scoring deployment.batch.source with the champion on every run. "
        "kubernetes: the alias move plus a rollout of an HTTP model server, undone on failure.",
    )
    batch: BatchSpec | None = Field(None, description="Batch scoring; needs strategy batch.")
    kubernetes: ServingSpec | None = Field(
        None, description="The model server; needs strategy kubernetes."
    )
    approval: Literal["auto", "manual"] = Field(
        "auto",
        description="manual: a person approves each promotion the gate recommends, in the "
        "Airflow UI (Required Actions), before register_model promotes it.",
    )
    approval_timeout: Duration = Field(
        dt.timedelta(days=7),
        description="How long an approval request waits for an answer; unanswered, it is "
        "rejected (the champion stays) and the run goes on.",
    )


class NotifierSpec(_Strict):
    """Another alert channel: an Airflow notifier class and its arguments (e.g. Slack)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    class_: str = Field(
        alias="class",
        pattern=r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$",
        description="Dotted path of a BaseNotifier subclass, e.g. "
        "airflow.providers.slack.notifications.slack.SlackNotifier; must match the allowed "
        "module prefixes ([ml_provider] allowed_notifier_modules).",
    )
    kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Its arguments (Jinja templates render per task)."
    )

    @field_validator("class_")
    @classmethod
    def _allowed_module(cls, value: str, info: ValidationInfo) -> str:
        return _in_allowed_module(value, info, "allowed_notifier_modules")


AlertEvent = Literal[
    "failure", "retry", "promotion", "validation_warning", "drift", "summary", "stalled"
]


class AlertsSpec(_Strict):
    """Who hears about the pipeline, and about what."""

    email: list[str] = Field(default_factory=list, description="Recipients of alert e-mails.")
    smtp_conn_id: str = Field("smtp_default", description="SMTP connection used to send.")
    on: list[AlertEvent] = Field(
        default_factory=lambda: ["failure", "promotion"],
        description="Events that send a mail: failure (a task failed for good), retry (a "
        "task will be retried), promotion (a new champion), validation_warning (accepted "
        "schema/validation warnings), drift (drift found), summary (every run's summary), "
        "stalled (a run not finished alerts.deadline after its logical date).",
    )
    deadline: Duration | None = Field(
        None,
        description="With `stalled` in on: mail when a run has not finished this long after "
        "its logical date (an Airflow deadline alert), e.g. 3h.",
    )

    notifiers: list[NotifierSpec] = Field(
        default_factory=list,
        description="Other channels: Airflow notifier classes called on failure and retry "
        "(as alerts.on says), e.g. [{class: airflow.providers.slack.notifications.slack."
        "SlackNotifier, kwargs: {slack_conn_id: slack, text: ...}}].",
    )

    @field_validator("email")
    @classmethod
    def _valid_addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if not _EMAIL.match(address):
                raise ValueError(f"{address!r} is not an e-mail address")
        return value


StepName = Literal[STEP_NAMES]  # the step plan (core/steps.py) is the one list


class ScheduleSpec(_Strict):
    """When the pipeline runs: a cron schedule, an asset condition, or either (asset-or-time).

    In YAML ``schedule`` is also a plain string (the cron) or a list of asset URIs (all of
    them must be updated); both are read into this form.
    """

    cron: Cron | None = Field(None, description="Cron expression or preset, e.g. 0 3 * * *.")
    assets: Annotated[str, AfterValidator(_valid_asset_condition)] | None = Field(
        None,
        description="Asset URIs with & (all), | (any) and parentheses; `source` is the "
        "pipeline's data source. E.g. 'gs://etl/orders & (gs://etl/a | gs://etl/b)'.",
    )

    @model_validator(mode="after")
    def _cron_or_assets(self) -> ScheduleSpec:
        if self.cron is None and self.assets is None:
            raise ValueError("give cron, assets or both")
        return self


def _schedule_shorthand(value: Any) -> Any:
    if isinstance(value, str):
        return {"cron": value}
    if isinstance(value, list):
        if not value or not all(isinstance(item, str) for item in value):
            raise ValueError("a list schedule is one or more asset URIs")
        return {"assets": " & ".join(value)}
    return value


class StepPolicySpec(_Strict):
    """Retries and time limit of one step (task), overriding the pipeline-wide values."""

    retries: int | None = Field(None, ge=0, le=100)
    retry_delay: Duration | None = None
    retry_exponential_backoff: float | None = Field(
        None, ge=0, le=10, description="Delay multiplier per try (2 doubles it; 0: constant)."
    )
    max_retry_delay: Duration | None = None
    execution_timeout: Duration | None = None


class PipelineSpec(_Strict):
    """One continuous-training pipeline, i.e. one Airflow DAG."""

    pipeline: str = Field(
        description="The DAG id.", pattern=r"^[A-Za-z0-9_.\-]+$", min_length=1, max_length=200
    )
    description: str = ""
    owner: str = "airflow"
    schedule: Annotated[
        ScheduleSpec | None,
        BeforeValidator(_schedule_shorthand, json_schema_input_type=str | list[str] | ScheduleSpec),
    ] = Field(
        None,
        description="A cron expression or preset (@daily); a list of asset URIs (runs when "
        "all were updated; `source` is the data source); {assets: 'a & (b | c)'} for any "
        "condition, with cron: as well for asset-or-time; or null (manual runs only).",
    )
    start_date: dt.date | dt.datetime | None = Field(
        None, description="First logical date; required with a cron schedule."
    )
    tags: list[str] = Field(default_factory=list)
    retries: int = Field(1, ge=0, le=100, description="Retries of every step.")
    retry_delay: Duration = Field(dt.timedelta(minutes=5), description="Wait before a retry.")
    retry_exponential_backoff: float = Field(
        0, ge=0, le=10, description="Delay multiplier per try (2 doubles it; 0: constant)."
    )
    max_retry_delay: Duration | None = Field(None, description="Cap of the growing delay.")
    execution_timeout: Duration | None = Field(
        None, description="Time limit of every step (training.timeout for train_model)."
    )
    steps: dict[StepName, StepPolicySpec] = Field(
        default_factory=dict,
        description="Per step: retries, retry_delay, retry_exponential_backoff, "
        "max_retry_delay, execution_timeout (e.g. {train_model: {retries: 3}}).",
    )
    max_active_runs: int = Field(
        1,
        ge=1,
        le=64,
        description="Concurrent runs. Keep 1: two runs would race on the model's aliases.",
    )
    catchup: bool = Field(False, description="Run the schedule's missed intervals.")
    dagrun_timeout: Duration | None = Field(None, description="Fail a run that takes longer.")
    data: DataSpec
    validation: ValidationSpec = ValidationSpec()
    features: FeaturesSpec = Field(
        FeaturesSpec(),
        description="Each input column's type (inferred unless declared) and preprocessing, "
        "fitted on the train split and logged inside the model.",
    )
    training: TrainingSpec
    evaluation: EvaluationSpec
    registry: RegistrySpec = RegistrySpec()
    deployment: DeploymentSpec = DeploymentSpec()
    alerts: AlertsSpec = AlertsSpec()
    monitoring: MonitoringSpec | None = Field(
        None, description="Drift monitoring in a second DAG that triggers retraining."
    )

    @property
    def model_name(self) -> str:
        return self.registry.model_name or self.pipeline

    @property
    def asks_for_approval(self) -> bool:
        """Whether the DAG has approve_promotion (every promotion, or only the first model)."""
        return self.deployment.approval == "manual" or self.evaluation.first_run == (
            "require_approval"
        )

    @property
    def experiment_name(self) -> str:
        return self.registry.experiment or f"airflow-ml/{self.pipeline}"

"""The YAML contract of ``deployment:`` (alias, batch, Kubernetes serving), ``monitoring:``
and ``alerts:``."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from airflow_ml_provider.cluster import (
    SERVING_NAMESPACE,
    SERVING_SERVICE_ACCOUNT,
)
from airflow_ml_provider.core.allow_lists import NotifierArgument, PlainValue
from airflow_ml_provider.core.connections import GCP_CONN_ID, KUBERNETES_CONN_ID, SMTP_CONN_ID
from airflow_ml_provider.core.defaults import (
    CANARY_CHECKS,
    CANARY_DURATION_SECONDS,
    CANARY_INTERVAL_SECONDS,
    KSERVE_MAX_REPLICAS,
    KSERVE_MIN_REPLICAS,
    KSERVE_MODE,
    ROLLOUT_TIMEOUT_SECONDS,
    SERVING_PORT,
    SERVING_REPLICAS,
    CanaryCheck,
    KServeMode,
)
from airflow_ml_provider.core.formats import format_of
from airflow_ml_provider.core.strategies import KSERVE_STORAGE_SCHEMES, Strategy
from airflow_ml_provider.pipeline_spec.data_section import (
    DriftTestSpec,
    SourceField,
    SourceSpec,
)
from airflow_ml_provider.pipeline_spec.pod_section import _PodPlacement
from airflow_ml_provider.pipeline_spec.section_base import (
    _EMAIL,
    Cron,
    Duration,
    _in_allowed_module,
    _Strict,
)


class _ReadsSource:
    """A section with a ``source`` (files, BigQuery or SQL) other than data.source."""

    if TYPE_CHECKING:  # each section declares the pydantic field itself
        source: SourceSpec

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
        GCP_CONN_ID, description="Google Cloud connection of a bigquery:// output."
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


class CanarySpec(_Strict):
    """A canary before the full rollout (deployment.kubernetes.canary)."""

    percent: int = Field(
        ge=1, le=50, description="Share of traffic the canary gets (by replica count)."
    )
    duration: Duration = Field(
        dt.timedelta(seconds=CANARY_DURATION_SECONDS),
        description="How long the canary must stay healthy.",
    )
    interval: Duration = Field(
        dt.timedelta(seconds=CANARY_INTERVAL_SECONDS),
        description="How often the checks run during the canary.",
    )
    checks: list[CanaryCheck] = Field(
        default_factory=lambda: list(CANARY_CHECKS),
        description="ready: every canary pod stays ready; no_restarts: no container restarts; "
        "smoke_test: the canary answers the model's input example.",
    )


class ServingSpec(_PodPlacement):
    """An HTTP model server on Kubernetes (deployment.strategy: kubernetes)."""

    image: str = Field(
        description="Serving image with mlflow (e.g. the training image built from "
        "Dockerfile.train); it runs MLflow's scoring server, as `mlflow models serve` does."
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
    replicas: int = Field(
        SERVING_REPLICAS, ge=1, le=1000, description="Serving pods of the stable Deployment."
    )
    port: int = Field(SERVING_PORT, ge=1, le=65535, description="Container and Service port.")
    rollout_timeout: Duration = Field(
        dt.timedelta(seconds=ROLLOUT_TIMEOUT_SECONDS),
        description="How long a rollout may take before it counts as failed (and is undone).",
    )
    canary: CanarySpec | None = Field(None, description="Run a canary before the full rollout.")


class TrafficCanarySpec(_Strict):
    """A traffic canary with KServe (deployment.kserve.canary): its canaryTrafficPercent."""

    percent: int = Field(
        ge=1, le=99, description="Share of traffic KServe sends to the new version."
    )
    duration: Duration = Field(
        dt.timedelta(seconds=CANARY_DURATION_SECONDS),
        description="How long the canary must keep answering.",
    )
    interval: Duration = Field(
        dt.timedelta(seconds=CANARY_INTERVAL_SECONDS),
        description="How often the canary is checked.",
    )


class KServeSpec(_Strict):
    """A KServe InferenceService serving the champion (deployment.strategy: kserve)."""

    namespace: str = Field(SERVING_NAMESPACE, description="Namespace of the InferenceService.")
    name: str | None = Field(
        None,
        description="InferenceService name (also the model name in V2 paths); default: the "
        "model name, DNS-safe.",
        pattern=r"^[a-z]([-a-z0-9]{0,50}[a-z0-9])?$",
    )
    service_account: str | None = Field(
        SERVING_SERVICE_ACCOUNT,
        description="ServiceAccount of the predictor pods (holds the storage credentials "
        "KServe's storage initializer uses).",
    )
    mode: KServeMode = Field(
        KSERVE_MODE,
        description="KServe's deployment mode: serverless (Knative: canaries, checks before "
        "traffic, scale to zero) or raw (Kubernetes Deployments, no traffic split).",
    )
    min_replicas: int = Field(
        KSERVE_MIN_REPLICAS,
        ge=0,
        le=1000,
        description="Fewest predictor pods (0: scale to zero when idle, serverless only).",
    )
    max_replicas: int = Field(
        KSERVE_MAX_REPLICAS, ge=1, le=1000, description="Most predictor pods under load."
    )
    resources: dict[Literal["requests", "limits"], dict[str, str | int | float]] = Field(
        default_factory=dict, description="Resources of the predictor container."
    )
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    kubernetes_conn_id: str = Field(
        KUBERNETES_CONN_ID, description="Airflow connection to the cluster."
    )
    storage_root: str | None = Field(
        None,
        description="For a MLflow tracking server that proxies artifacts (mlflow-artifacts:/): "
        "its --artifacts-destination as the cluster reads it (gs://..., s3://...).",
    )
    rollout_timeout: Duration = Field(
        dt.timedelta(seconds=ROLLOUT_TIMEOUT_SECONDS),
        description="How long KServe may take to report Ready before the deploy fails.",
    )
    canary: TrafficCanarySpec | None = Field(
        None, description="A traffic canary (serverless mode) before the new version gets all."
    )

    @field_validator("storage_root")
    @classmethod
    def _readable_in_the_cluster(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(KSERVE_STORAGE_SCHEMES):
            raise ValueError(
                "KServe downloads models from gs://, s3://, pvc://, https:// ...; the cluster "
                f"cannot read {value!r}"
            )
        return value


class DeploymentSpec(_Strict):
    """How a promoted model reaches users."""

    strategy: Strategy = Field(
        "alias",
        description="alias: serving reads models:/<model_name>@champion. batch: the alias "
        "move plus scoring deployment.batch.source with the champion on every run. "
        "kubernetes: the alias move plus a rollout of an HTTP model server, undone on failure. "
        "kserve: the alias move plus a KServe InferenceService serving the version.",
    )
    batch: BatchSpec | None = Field(None, description="Batch scoring; needs strategy batch.")
    kubernetes: ServingSpec | None = Field(
        None, description="The model server; needs strategy kubernetes."
    )
    kserve: KServeSpec | None = Field(
        None, description="The InferenceService; needs strategy kserve."
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
    kwargs: dict[NotifierArgument, PlainValue] = Field(
        default_factory=dict,
        description="Its arguments (Jinja templates render per task); plain data, and no "
        "argument that reads files (files, template).",
    )

    @field_validator("class_")
    @classmethod
    def _allowed_module(cls, value: str, info: ValidationInfo) -> str:
        return _in_allowed_module(value, info, "allowed_notifier_modules")


AlertEvent = Literal[
    "failure", "retry", "promotion", "validation_warning", "drift", "summary", "stalled"
]
DEFAULT_ALERT_EVENTS: tuple[AlertEvent, ...] = ("failure", "promotion")


class AlertsSpec(_Strict):
    """Who hears about the pipeline, and about what."""

    email: list[str] = Field(default_factory=list, description="Recipients of alert e-mails.")
    smtp_conn_id: str = Field(SMTP_CONN_ID, description="SMTP connection used to send.")
    on: list[AlertEvent] = Field(
        default_factory=lambda: list(DEFAULT_ALERT_EVENTS),
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

"""The YAML contract: pydantic v2 models with ``extra="forbid"``. The whole pipeline
(``PipelineSpec``) is here; its sections live in data_section, training_section and
delivery_section, and everything is importable from this module.

Only cheap checks live here (types, allow-list prefixes, known metric names), because
these models are validated while Airflow parses the DAG folder. Checks that need heavy
imports (does the estimator exist, are its params accepted) live in ``checks.deep_checks``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    model_validator,
)

from airflow_ml_provider.core.features import FeaturesSpec
from airflow_ml_provider.core.steps import StepName
from airflow_ml_provider.pipeline_spec.data_section import (  # noqa: F401
    DataSpec,
    DriftSpec,
    DriftTestSpec,
    FreshnessSpec,
    SourceField,
    SourceKind,
    SourceSpec,
    SplitSpec,
    ValidationSpec,
    WaitSpec,
)
from airflow_ml_provider.pipeline_spec.delivery_section import (  # noqa: F401
    AlertEvent,
    AlertsSpec,
    BatchSpec,
    CanaryCheck,
    CanarySpec,
    DeploymentSpec,
    KServeSpec,
    LabelsSpec,
    MonitoringSpec,
    NotifierSpec,
    ServingSpec,
    TrafficCanarySpec,
)
from airflow_ml_provider.pipeline_spec.evaluation_section import (  # noqa: F401
    BaselineSpec,
    EvaluationSpec,
    PartitionGateSpec,
    SliceSpec,
)
from airflow_ml_provider.pipeline_spec.section_base import (  # noqa: F401
    CRON_PRESETS,
    Cron,
    Duration,
    MetricName,
    _Strict,
    _valid_asset_condition,
)
from airflow_ml_provider.pipeline_spec.training_section import (  # noqa: F401
    SEARCH_DISTRIBUTIONS,
    KubernetesSpec,
    PartitioningSpec,
    RegistrySpec,
    SearchSpec,
    TrainingSpec,
)


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

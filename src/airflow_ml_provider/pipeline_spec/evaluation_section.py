"""The YAML contract of ``evaluation:``: the gate's thresholds, the champion comparison,
the baseline every model must beat, slices and partitions."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from airflow_ml_provider.core.defaults import (
    BASELINE_MIN_IMPROVEMENT,
    PER_PARTITION_DEFAULTS,
    SLICE_DEFAULTS,
)
from airflow_ml_provider.pipeline_spec.pod_section import PodResourcesSpec
from airflow_ml_provider.pipeline_spec.section_base import MetricName, _Strict


def absolute_or_relative(value: float | str, of_what: str) -> float | str:
    """A margin as YAML may give it: a number (absolute) or ``"N%"`` of ``of_what`` value."""
    if isinstance(value, str) and not re.fullmatch(r"\d+(\.\d+)?%", value.strip()):
        raise ValueError(
            f"expected a number (absolute, e.g. 0.005) or a share of {of_what} value "
            f"(relative, e.g. '1%'), got {value!r}"
        )
    return value.strip() if isinstance(value, str) else value


class BaselineSpec(_Strict):
    """The trivial model every challenger must beat (on by default)."""

    enabled: bool = Field(True, description="Judge the challenger against the baseline.")
    min_improvement: float | str = Field(
        BASELINE_MIN_IMPROVEMENT,
        description="How much the primary metric must beat the baseline's by: a number "
        "(absolute) or a share of the baseline's value (relative, e.g. '1%': roc_auc 0.505 "
        "against a baseline's 0.5).",
    )

    @field_validator("min_improvement")
    @classmethod
    def _absolute_or_relative(cls, value: float | str) -> float | str:
        return absolute_or_relative(value, "the baseline's")


class PartitionGateSpec(_Strict):
    """The per-partition part of the gate for partitioned models."""

    max_regression: float = Field(
        PER_PARTITION_DEFAULTS["max_regression"],
        ge=0,
        description="How much worse than the champion one partition's primary metric may get.",
    )
    max_regressed_share: float = Field(
        PER_PARTITION_DEFAULTS["max_regressed_share"],
        ge=0,
        le=1,
        description="Share of judged partitions allowed to regress by more than max_regression.",
    )
    min_rows: int = Field(
        PER_PARTITION_DEFAULTS["min_rows"],
        ge=1,
        description="Partitions with fewer held-out rows are reported, not judged.",
    )


class SliceSpec(_Strict):
    """A column whose groups must be served fairly: the primary metric per group."""

    column: str = Field(min_length=1, description="Column of the data defining the groups.")
    max_gap: float | None = Field(
        SLICE_DEFAULTS["max_gap"],
        ge=0,
        description="Largest allowed gap of the primary metric between groups.",
    )
    max_regression: float = Field(
        SLICE_DEFAULTS["max_regression"],
        ge=0,
        description="How much worse than the champion any one group may get.",
    )
    min_rows: int = Field(
        SLICE_DEFAULTS["min_rows"],
        ge=1,
        description="Groups with fewer held-out rows are not judged.",
    )


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
    baseline: BaselineSpec = Field(
        default_factory=lambda: BaselineSpec(),
        description="The trivial model (scikit-learn's DummyClassifier / DummyRegressor fitted "
        "on the same training rows) every challenger must beat on the held-out rows, first "
        "run included; `false` turns it off.",
    )
    positive_class: str | int | float | bool | None = Field(
        None,
        description="Binary targets: the class f1, precision, recall, average precision, "
        "slices and plots count as positive (e.g. bad on a good/bad credit table); default: "
        "the minority class of the training rows.",
    )
    per_partition: PartitionGateSpec | None = Field(
        None,
        description="Partitioned models: how much single partitions may regress "
        "(defaults apply when data.partition_by is set).",
    )
    runner: Literal["local", "kubernetes"] = Field(
        "local",
        description="Where evaluate_model reads the held-out rows, loads the champion and "
        "scores both: local (the Airflow worker) or kubernetes (a pod of "
        "training.kubernetes' image and settings, for held-out rows or models larger than a "
        "worker's memory; needs training.runner kubernetes).",
    )
    kubernetes: PodResourcesSpec | None = Field(
        None,
        description="runner kubernetes: evaluate_model's pod resources (default: "
        "training.kubernetes.resources).",
    )

    @field_validator("min_improvement")
    @classmethod
    def _absolute_or_relative(cls, value: float | str) -> float | str:
        return absolute_or_relative(value, "the champion's")

    @field_validator("baseline", mode="before")
    @classmethod
    def _on_or_off(cls, value: Any) -> Any:
        return {"enabled": value} if isinstance(value, bool) else value

    @property
    def all_metrics(self) -> list[str]:
        """The metrics to compute: the primary metric first, then the others, no repeats."""
        return list(dict.fromkeys([self.primary_metric, *self.metrics]))

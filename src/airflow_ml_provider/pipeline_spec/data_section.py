"""The YAML contract of ``data:`` (source, split, freshness, waiting) and ``validation:``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    field_validator,
)

from airflow_ml_provider.core.defaults import SPLIT_SEED, SPLIT_STRATIFY, SPLIT_TEST_SIZE
from airflow_ml_provider.core.formats import format_of
from airflow_ml_provider.pipeline_spec.pod_section import PodResourcesSpec
from airflow_ml_provider.pipeline_spec.section_base import (
    Duration,
    _Strict,
)


class SplitSpec(_Strict):
    """How rows are split into train and held-out sets (the same split scores both models)."""

    test_size: float = Field(
        SPLIT_TEST_SIZE, ge=0.001, le=0.9, description="Share of rows held out, in [0.001, 0.9]."
    )
    seed: int = Field(
        SPLIT_SEED,
        ge=0,
        le=2**32 - 1,
        description="Random seed of the split (0 to 2^32 - 1, numpy's).",
    )
    stratify: bool = Field(SPLIT_STRATIFY, description="Stratify by target (classification only).")
    validation_size: float = Field(
        0,
        ge=0,
        le=0.5,
        description="Share of all rows set aside from the training rows as a validation set "
        "for a training.entrypoint's early stopping (e.g. test_size 0.2 + validation_size "
        "0.2 = 6:2:2); never the held-out rows, which stay the same rows with or without it. "
        "0: no validation set.",
    )


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
    data_docs: bool = Field(
        True,
        description="Render Great Expectations Data Docs (HTML, the task's Data Docs link) "
        "for every validation; false skips the rendering (faster on large tables).",
    )
    runner: Literal["local", "kubernetes"] = Field(
        "local",
        description="Where validate_data reads the snapshot and runs the checks: local (the "
        "Airflow worker) or kubernetes (a pod of training.kubernetes' image and settings — "
        "an image with Great Expectations — for a snapshot larger than a worker's memory; "
        "needs training.runner kubernetes).",
    )
    kubernetes: PodResourcesSpec | None = Field(
        None,
        description="runner kubernetes: validate_data's pod resources (default: "
        "training.kubernetes.resources).",
    )

    @field_validator("expectations")
    @classmethod
    def _one_expectation_per_item(
        cls, value: list[dict[str, dict[str, Any]]]
    ) -> list[dict[str, dict[str, Any]]]:
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

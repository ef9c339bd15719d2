"""Every data check on one snapshot, in one call: guards, expectations, schema and drift.

No Airflow imports: the validation operator, the benchmark and any other caller run the
same code. Deciding what fails the run (``on_failure``, the drift action) is the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from airflow_ml_provider.ml.data.column_tables import ColumnTable

#: Run when a pipeline lists no expectations, so every run still has Data Docs.
BASELINE_EXPECTATIONS = [{"expect_table_row_count_to_be_between": {"min_value": 1}}]


@dataclass(frozen=True)
class CheckOptions:
    """What to check besides the always-on guards."""

    target: str | None = None
    task: str | None = None
    """classification: a target with one class fails the guards."""
    expectations: list[dict[str, dict[str, Any]]] = field(default_factory=list)
    max_duplicate_share: float = 0.1
    freshness: dict[str, Any] | None = None
    max_null_rate_increase: float = 0.05
    drift: dict[str, Any] | None = None  # drift_report keyword arguments; None: no drift
    docs_dir: str | None = None
    now: datetime | None = None
    keep_profile: bool = False
    """Return the data's drift profile as the summary's ``profile``."""


def check_frame(
    data: pd.DataFrame | ColumnTable,
    options: CheckOptions,
    *,
    schema_baseline: dict[str, Any] | None = None,
    drift_baseline=None,
) -> dict[str, Any]:
    """Run every check on ``data`` (a DataFrame, or a ``ColumnTable`` read a column at a
    time); return a JSON-able summary of what was found.

    When a guard fails, no other check is reported (an empty or target-less snapshot has
    nothing meaningful to compare). ``schema_baseline`` (an inferred or pinned
    schema) and ``drift_baseline`` (the champion's training data) are optional. With
    ``options.keep_profile`` the summary's ``profile`` is the data's drift profile.

    Each column is read once: Great Expectations' columns (only those its expectations name)
    are read first and held; schema, row hashes, profile and drift come from one pass over
    the columns, reading the others a column at a time.
    """
    from airflow_ml_provider.ml.data.column_facts import column_facts
    from airflow_ml_provider.ml.data.column_tables import as_table
    from airflow_ml_provider.ml.data.guards import guard_findings
    from airflow_ml_provider.ml.data.schema import diff_schemas

    table = as_table(data)
    expectations = options.expectations or BASELINE_EXPECTATIONS
    named, facts = None, None
    if table.rows:
        from airflow_ml_provider.ml.data.expectations import columns_named

        # Read once: GX's columns are held for the pass over the columns, then validated.
        named = table.frame(columns_named(expectations, table.names))
        drift = None
        if options.drift is not None and drift_baseline is not None:
            from airflow_ml_provider.ml.drift.detection import plan_drift

            drift = plan_drift(drift_baseline, [str(n) for n in table.names], **options.drift)
        facts = column_facts(table, drift=drift, profile=options.keep_profile, held=named)
    summary: dict[str, Any] = {
        "rows": table.rows,
        "columns": len(table.names),
        "guards": guard_findings(
            table,
            target=options.target,
            max_duplicate_share=options.max_duplicate_share,
            freshness=options.freshness,
            now=options.now,
            task=options.task,
            row_hashes=facts.row_hashes if facts is not None else None,
        ),
        "evaluated": 0,
        "failed_expectations": [],
        "results": [],
        "data_docs_index": None,
        "schema": None,
        "drift": None,
        "profile": None,
    }
    if summary["guards"] or facts is None:
        return summary
    from airflow_ml_provider.ml.data.expectations import validate_frame

    outcome = validate_frame(named, expectations, docs_dir=options.docs_dir)
    del named
    summary.update({key: outcome[key] for key in ("evaluated", "failed_expectations", "results")})
    summary["data_docs_index"] = outcome["data_docs_index"]
    summary["schema"] = {
        "inferred": facts.schema,
        "findings": diff_schemas(schema_baseline, facts.schema, options.max_null_rate_increase)
        if schema_baseline
        else [],
    }
    summary["drift"] = facts.drift
    summary["profile"] = facts.profile
    return summary

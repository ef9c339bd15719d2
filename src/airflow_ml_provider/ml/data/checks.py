"""Every data check on one snapshot, in one call: guards, expectations, schema and drift.

No Airflow imports: the validation operator, the benchmark and any other caller run the
same code. Deciding what fails the run (``on_failure``, the drift action) is the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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


def check_frame(
    frame,
    options: CheckOptions,
    *,
    schema_baseline: dict[str, Any] | None = None,
    drift_baseline=None,
) -> dict[str, Any]:
    """Run every check on ``frame``; return a JSON-able summary of what was found.

    The guards run first; when one fails nothing else runs (an empty or target-less
    snapshot has nothing meaningful to compare). ``schema_baseline`` (an inferred or pinned
    schema) and ``drift_baseline`` (the champion's training data) are optional.
    """
    from airflow_ml_provider.ml.data.guards import guard_findings
    from airflow_ml_provider.ml.data.schema import diff_schemas, infer_schema

    summary: dict[str, Any] = {
        "rows": int(len(frame)),
        "columns": int(frame.shape[1]),
        "guards": guard_findings(
            frame,
            target=options.target,
            max_duplicate_share=options.max_duplicate_share,
            freshness=options.freshness,
            now=options.now,
            task=options.task,
        ),
        "evaluated": 0,
        "failed_expectations": [],
        "results": [],
        "data_docs_index": None,
        "schema": None,
        "drift": None,
    }
    if summary["guards"]:
        return summary
    from airflow_ml_provider.ml.data.expectations import validate_frame

    expectations = options.expectations or BASELINE_EXPECTATIONS
    outcome = validate_frame(frame, expectations, docs_dir=options.docs_dir)
    summary.update({key: outcome[key] for key in ("evaluated", "failed_expectations", "results")})
    summary["data_docs_index"] = outcome["data_docs_index"]
    inferred = infer_schema(frame)
    summary["schema"] = {
        "inferred": inferred,
        "findings": diff_schemas(schema_baseline, inferred, options.max_null_rate_increase)
        if schema_baseline
        else [],
    }
    if options.drift is not None and drift_baseline is not None:
        from airflow_ml_provider.ml.drift.detection import drift_report

        summary["drift"] = drift_report(drift_baseline, frame, **options.drift)
    return summary

"""Always-on data guards: problems no pipeline may train on, whatever its YAML says."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from airflow_ml_provider.ml.data.column_tables import ColumnTable
    from airflow_ml_provider.ml.data.row_hashes import RowHashes


def finding(check: str, column: str | None, message: str) -> dict[str, Any]:
    """One named problem found in the data."""
    return {"check": check, "column": column, "message": message}


def guard_findings(
    data: pd.DataFrame | ColumnTable,
    *,
    target: str | None,
    max_duplicate_share: float,
    freshness: dict[str, Any] | None = None,
    now: datetime | None = None,
    task: str | None = None,
    row_hashes: RowHashes | None = None,
) -> list[dict[str, Any]]:
    """Empty data, a missing or all-null target, a classification target with one class,
    too many duplicate rows, stale data. Reads the target and freshness columns, and every
    column one at a time for the rows' hashes unless ``row_hashes`` has them already (they are
    consumed): a ``ColumnTable`` is never read whole at once."""
    from airflow_ml_provider.ml.data.column_tables import as_table

    table = as_table(data)
    if table.rows == 0:
        return [finding("not_empty", None, "the snapshot has no rows")]
    found = []
    if target is not None:
        found += _target_findings(table, target, task)
    from airflow_ml_provider.ml.data.row_hashes import table_row_hashes

    duplicate_share = (row_hashes or table_row_hashes(table)).duplicate_share()
    if duplicate_share > max_duplicate_share:
        found.append(
            finding(
                "duplicate_rows",
                None,
                f"{duplicate_share:.1%} of rows are exact duplicates "
                f"(allowed: {max_duplicate_share:.1%})",
            )
        )
    if freshness:
        found += _freshness_findings(table, freshness, now)
    return found


def _target_findings(table: ColumnTable, target: str, task: str | None) -> list[dict[str, Any]]:
    if target not in table.names:
        return [finding("target_present", target, f"target column {target!r} is missing")]
    values = table.column(target)
    if values.isna().all():
        return [finding("target_not_null", target, f"target column {target!r} is all null")]
    if task == "classification" and values.nunique() < 2:
        only = values.dropna().iloc[0]
        only = only.item() if hasattr(only, "item") else only  # numpy scalar: plain
        return [
            finding(
                "target_classes",
                target,
                f"target column {target!r} has one class only ({only!r}): a classifier "
                "needs at least two to learn anything",
            )
        ]
    return []


def _freshness_findings(
    table: ColumnTable, freshness: dict[str, Any], now: datetime | None
) -> list[dict[str, Any]]:
    import pandas as pd

    column, max_age = freshness["column"], float(freshness["max_age_seconds"])
    if column not in table.names:
        return [finding("freshness", column, f"freshness column {column!r} is missing")]
    stamps = pd.to_datetime(table.column(column), utc=True, errors="coerce")
    newest = stamps.max()
    current = now or datetime.now(UTC)
    if pd.isna(newest):
        return [finding("freshness", column, f"{column!r} holds no valid timestamps")]
    age = current - newest.to_pydatetime()
    if age.total_seconds() <= max_age:
        return []
    return [
        finding(
            "freshness",
            column,
            f"data is stale: newest {column} is {newest.isoformat()}, "
            f"{_human(age.total_seconds())} old (max_age {_human(max_age)})",
        )
    ]


def _human(seconds: float) -> str:
    seconds = int(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or f"{seconds}s"

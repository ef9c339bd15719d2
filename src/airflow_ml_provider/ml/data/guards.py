"""Always-on data guards: problems no pipeline may train on, whatever its YAML says."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from airflow_ml_provider.ml.data.column_tables import ColumnTable


def finding(check: str, column: str | None, message: str) -> dict[str, Any]:
    """One named problem found in the data."""
    return {"check": check, "column": column, "message": message}


def duplicate_row_share(frame) -> float:
    """Share of rows that repeat an earlier row exactly."""
    return duplicate_share_of_batches([frame])


def duplicate_share_of_batches(batches: Iterable[Any]) -> float:
    """Share of rows, over DataFrames of rows read one after the other, that repeat an
    earlier row exactly, in bounded memory: 8 bytes per row.

    Rows are compared by a 64-bit hash of all their values (pandas' hash_pandas_object,
    which hashes a categorical like its values, so batches with different category sets
    agree): about 7x faster than ``DataFrame.duplicated()`` on wide frames; a false match
    needs a hash collision (~n²/2⁶⁵). The hashes are sorted in place and equal neighbours
    counted, which needs no hash table beside them.
    """
    import numpy as np
    import pandas as pd

    parts = [pd.util.hash_pandas_object(batch, index=False).to_numpy() for batch in batches]
    hashes = np.concatenate(parts) if parts else np.empty(0, dtype="uint64")
    del parts
    if len(hashes) == 0:
        return 0.0
    hashes.sort()
    return float(np.count_nonzero(hashes[1:] == hashes[:-1]) / len(hashes))


def guard_findings(
    data: pd.DataFrame | ColumnTable,
    *,
    target: str | None,
    max_duplicate_share: float,
    freshness: dict[str, Any] | None = None,
    now: datetime | None = None,
    task: str | None = None,
) -> list[dict[str, Any]]:
    """Empty data, a missing or all-null target, a classification target with one class,
    too many duplicate rows, stale data. Reads the target and freshness columns and hashes
    the rows batch by batch: a ``ColumnTable`` is never read whole at once."""
    from airflow_ml_provider.ml.data.column_tables import as_table

    table = as_table(data)
    if table.rows == 0:
        return [finding("not_empty", None, "the snapshot has no rows")]
    found = []
    if target is not None:
        found += _target_findings(table, target, task)
    duplicate_share = duplicate_share_of_batches(table.row_batches())
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

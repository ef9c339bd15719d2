"""Always-on data guards: problems no pipeline may train on, whatever its YAML says."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def finding(check: str, column: str | None, message: str) -> dict[str, Any]:
    """One named problem found in the data."""
    return {"check": check, "column": column, "message": message}


def duplicate_row_share(frame) -> float:
    """Share of rows that repeat an earlier row exactly.

    Rows are compared by a 64-bit hash of all their values (pandas' hash_pandas_object):
    about 7x faster than ``DataFrame.duplicated()`` on wide frames; a false match needs a
    hash collision (~n²/2⁶⁵).
    """
    import pandas as pd

    if len(frame) == 0:
        return 0.0
    return float(pd.util.hash_pandas_object(frame, index=False).duplicated().mean())


def guard_findings(
    frame,
    *,
    target: str | None,
    max_duplicate_share: float,
    freshness: dict[str, Any] | None = None,
    now: datetime | None = None,
    task: str | None = None,
) -> list[dict[str, Any]]:
    """Empty data, a missing or all-null target, a classification target with one class,
    too many duplicate rows, stale data."""
    import pandas as pd

    if len(frame) == 0:
        return [finding("not_empty", None, "the snapshot has no rows")]
    found = []
    if target is not None:
        if target not in frame.columns:
            found.append(finding("target_present", target, f"target column {target!r} is missing"))
        elif frame[target].isna().all():
            found.append(
                finding("target_not_null", target, f"target column {target!r} is all null")
            )
        elif task == "classification" and frame[target].nunique() < 2:
            only = frame[target].dropna().iloc[0]
            only = only.item() if hasattr(only, "item") else only  # numpy scalar: plain
            found.append(
                finding(
                    "target_classes",
                    target,
                    f"target column {target!r} has one class only ({only!r}): a classifier "
                    "needs at least two to learn anything",
                )
            )
    duplicate_share = duplicate_row_share(frame)
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
        column, max_age = freshness["column"], float(freshness["max_age_seconds"])
        if column not in frame.columns:
            found.append(finding("freshness", column, f"freshness column {column!r} is missing"))
        else:
            stamps = pd.to_datetime(frame[column], utc=True, errors="coerce")
            newest = stamps.max()
            current = now or datetime.now(UTC)
            if pd.isna(newest):
                found.append(finding("freshness", column, f"{column!r} holds no valid timestamps"))
            elif (current - newest.to_pydatetime()).total_seconds() > max_age:
                age = current - newest.to_pydatetime()
                found.append(
                    finding(
                        "freshness",
                        column,
                        f"data is stale: newest {column} is {newest.isoformat()}, "
                        f"{_human(age.total_seconds())} old (max_age {_human(max_age)})",
                    )
                )
    return found


def _human(seconds: float) -> str:
    seconds = int(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or f"{seconds}s"

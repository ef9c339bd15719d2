"""What validation learns about each column, in one pass that reads a column at a time: its
inferred schema entry, its drift profile, its drift score against the champion's data and
its share of every row's hash (the duplicate-row guard)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from airflow_ml_provider.ml.data.column_tables import ColumnTable
    from airflow_ml_provider.ml.data.row_hashes import RowHashes
    from airflow_ml_provider.ml.drift.detection import DriftCheck

READERS = 2
"""Columns read and summarised at once: decoding and sorting release the GIL, and two
columns in memory at a time keep the pass's memory near one column's."""


@dataclass(frozen=True)
class ColumnFacts:
    """The inferred schema, the rows' hashes, the drift profile (when asked) and the drift
    report (when a drift check was given)."""

    schema: dict[str, Any]
    row_hashes: RowHashes
    profile: dict[str, Any] | None
    drift: dict[str, Any] | None


def column_facts(
    table: ColumnTable,
    *,
    drift: DriftCheck | None = None,
    profile: bool = False,
    held: pd.DataFrame | None = None,
) -> ColumnFacts:
    """Read each column of ``table`` once and summarise it: the schema and row hashes
    always, the profile when ``profile``, the drift score when ``drift`` checks that column.
    Columns of ``held`` (already read) are not read again."""
    from airflow_ml_provider.ml.data.row_hashes import RowHashes
    from airflow_ml_provider.ml.data.schema import column_schema, schema_document
    from airflow_ml_provider.ml.drift.profile import column_profile, profile_document

    hashes = RowHashes(table.rows)
    positions = {label: position for position, label in enumerate(table.names)}
    # Taken on this thread: a DataFrame's column cache is not thread-safe.
    already_read = dict(held.items()) if held is not None else {}

    def summarise(label: Any) -> tuple[dict[str, Any], dict[str, Any] | None, Any]:
        series = already_read[label] if label in already_read else table.column(label)
        hashes.add(series, positions[label])
        name = str(label)
        made = column_profile(series) if profile else None
        score = drift.score(name, series) if drift is not None and name in drift.names else None
        return column_schema(series), made, score

    workers = READERS if table.parallel else 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = dict(zip(map(str, table.names), pool.map(summarise, table.names), strict=True))
    schema = schema_document(table.rows, {name: facts[0] for name, facts in results.items()})
    document = None
    if profile:
        profiles = {name: facts[1] for name, facts in results.items() if facts[1] is not None}
        document = profile_document(table.rows, profiles)
    report = None
    if drift is not None:
        report = drift.report([results[name][2] for name in drift.names])
    return ColumnFacts(schema=schema, row_hashes=hashes, profile=document, drift=report)

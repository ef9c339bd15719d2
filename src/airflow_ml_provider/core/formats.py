"""File formats a files source or snapshot may have, told by the file name's suffix."""

from __future__ import annotations

FORMAT_SUFFIXES = {"csv": (".csv", ".csv.gz"), "parquet": (".parquet", ".pq")}


def format_of(name: str) -> str | None:
    """csv or parquet from a path's or URI's suffix (a query string is ignored); else None."""
    lowered = name.rsplit("?", 1)[0].lower()
    for fmt, endings in FORMAT_SUFFIXES.items():
        if lowered.endswith(endings):
            return fmt
    return None

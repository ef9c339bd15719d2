"""File formats a files source or snapshot may have, told by the file name's suffix, and the
glob characters a files source may use."""

from __future__ import annotations

FORMAT_SUFFIXES = {"csv": (".csv", ".csv.gz"), "parquet": (".parquet", ".pq")}
GLOB_CHARS = frozenset("*?[")


def before_glob(uri: str) -> str:
    """``uri`` up to its first glob character (all of it when it has none)."""
    cut = min((uri.index(c) for c in GLOB_CHARS if c in uri), default=len(uri))
    return uri[:cut]


def format_of(name: str) -> str | None:
    """csv or parquet from a path's or URI's suffix (a query string is ignored); else None."""
    lowered = name.rsplit("?", 1)[0].lower()
    for fmt, endings in FORMAT_SUFFIXES.items():
        if lowered.endswith(endings):
            return fmt
    return None

"""File formats a files source or snapshot may have, told by the file name's suffix, the
glob characters a files source may use, and how our parquet files are encoded."""

from __future__ import annotations

from typing import Any

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


def dictionary_columns(schema: Any) -> list[str]:
    """The columns of an Arrow ``schema`` worth dictionary-encoding in parquet: all but
    floating-point ones. pyarrow tries a dictionary on every column by default; on measured
    values (nearly all distinct) it fills a dictionary page before falling back, which made
    writing 2 M rows x 20 floats five times slower and the file 25 % larger."""
    import pyarrow as pa

    return [field.name for field in schema if not pa.types.is_floating(field.type)]


def csv_parse_options() -> Any:
    """pyarrow's CSV parsing as every reader of ours uses it: a quoted value may hold line
    breaks (free text such as tweets or reviews; measured: no slower on 2 M rows)."""
    import pyarrow.csv as pv

    return pv.ParseOptions(newlines_in_values=True)

"""Inferred data schema (what TFX's SchemaGen does) and the differences between two schemas."""

from __future__ import annotations

from typing import Any

from airflow_ml_provider.ml.data.guards import finding

MAX_CATEGORIES = 50


def _kind(series) -> str:
    from pandas.api import types

    if types.is_bool_dtype(series):
        return "boolean"
    if types.is_integer_dtype(series):
        return "integer"
    if types.is_float_dtype(series):
        return "float"
    if types.is_datetime64_any_dtype(series):
        return "datetime"
    return "string"


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def infer_schema(frame) -> dict[str, Any]:
    """Columns with kind, nullability, null share, numeric range and categorical domain."""
    return schema_document(
        int(len(frame)), {str(name): column_schema(frame[name]) for name in frame.columns}
    )


def schema_document(rows: int, columns: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The schema of ``rows`` rows from its columns' entries (``column_schema``)."""
    return {"columns": columns, "rows": rows}


def column_schema(series) -> dict[str, Any]:
    """One column's kind, nullability, null share, numeric range and categorical domain."""
    kind = _kind(series)
    null_share = float(series.isna().mean()) if len(series) else 0.0
    column: dict[str, Any] = {
        "dtype": kind,
        "nullable": bool(null_share > 0),
        "null_share": round(null_share, 6),
    }
    values = series.dropna()
    if kind in ("integer", "float") and len(values):
        column["min"], column["max"] = _plain(values.min()), _plain(values.max())
    if kind in ("string", "boolean"):
        distinct = values.unique()
        column["domain"] = (
            sorted(str(v) for v in distinct) if len(distinct) <= MAX_CATEGORIES else None
        )
    return column


def diff_schemas(
    baseline: dict[str, Any], current: dict[str, Any], null_rate_tolerance: float = 0.05
) -> list[dict[str, Any]]:
    """What changed from ``baseline`` to ``current``, one finding per column and kind."""
    old, new = baseline["columns"], current["columns"]
    found = []
    missing = [name for name in old if name not in new]
    added = [name for name in new if name not in old]
    for name in missing:
        hint = _rename_hint(name, old, new, added)
        found.append(finding("missing_column", name, f"column {name!r} is missing{hint}"))
    for name in added:
        found.append(finding("new_column", name, f"column {name!r} is new"))
    for name in (n for n in old if n in new):
        before, after = old[name], new[name]
        if before["dtype"] != after["dtype"]:
            found.append(
                finding(
                    "dtype_change",
                    name,
                    f"column {name!r} changed type from {before['dtype']} to {after['dtype']}",
                )
            )
        if after["null_share"] > before["null_share"] + null_rate_tolerance:
            found.append(
                finding(
                    "null_rate",
                    name,
                    f"column {name!r} is {after['null_share']:.1%} null "
                    f"(was {before['null_share']:.1%})",
                )
            )
        domain = before.get("domain")
        if domain is not None and before["dtype"] == after["dtype"]:
            if after.get("domain") is None:
                found.append(
                    finding(
                        "new_category",
                        name,
                        f"column {name!r} now has more than {MAX_CATEGORIES} distinct values "
                        f"(was categorical with {len(domain)})",
                    )
                )
            else:
                added = sorted(set(after["domain"]) - set(domain))
                if added:
                    shown = ", ".join(repr(v) for v in added[:5])
                    more = f" and {len(added) - 5} more" if len(added) > 5 else ""
                    found.append(
                        finding(
                            "new_category",
                            name,
                            f"column {name!r} has new categories {shown}{more}",
                        )
                    )
    return found


def _rename_hint(name: str, old: dict, new: dict, added: list[str]) -> str:
    """' (renamed to 'x'?)' when exactly one new column has the missing one's type."""
    candidates = [a for a in added if new[a]["dtype"] == old[name]["dtype"]]
    return f" (renamed to {candidates[0]!r}?)" if len(candidates) == 1 else ""

"""Per-feature data drift between the champion's training data and a new snapshot.

Runs in the validation task and in the training pod: numpy and pandas only, no Airflow.
Every score is computed with whole-array numpy operations (no Python loop over rows), and the
columns are scored on a small thread pool because sorting and searching release the GIL.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types

METHODS = ("psi", "ks", "wasserstein")
DEFAULT_THRESHOLDS = {"psi": 0.2, "ks": 0.1, "wasserstein": 0.1}
EPSILON = 1e-4
MAX_NEW_CATEGORIES = 10
MAX_LISTED = 5
_MAX_THREADS = 4


def _kind(series: pd.Series) -> str | None:
    if (
        types.is_bool_dtype(series)
        or isinstance(series.dtype, pd.CategoricalDtype)
        or types.is_object_dtype(series)
        or types.is_string_dtype(series)
    ):
        return "categorical"
    if types.is_integer_dtype(series) or types.is_float_dtype(series):
        return "numeric"
    return None


def _number(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _finite(series: pd.Series) -> np.ndarray:
    """The column's values as float64 without nulls; infinities count as nulls."""
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    return values[np.isfinite(values)]


def _psi(base_shares: np.ndarray, cur_shares: np.ndarray) -> float:
    base = np.maximum(base_shares, EPSILON)
    cur = np.maximum(cur_shares, EPSILON)
    return float(np.sum((cur - base) * np.log(cur / base)))


def _cuts(base: np.ndarray, bins: int) -> list[tuple[float, bool]]:
    """PSI bin boundaries from the baseline's quantiles: ``(value, False)`` opens a bin at
    ``value`` (values equal to it fall in the upper bin); ``(value, True)`` also closes a bin of
    its own for ``value``, given to every value that holds at least a bin's worth of the baseline
    (it repeats among the quantiles), so constant and few-valued columns are binned by value."""
    quantiles = np.quantile(base, np.linspace(0.0, 1.0, bins + 1))
    atoms = np.unique(quantiles[1:][quantiles[1:] == quantiles[:-1]])
    edges = np.unique(np.concatenate((quantiles[1:-1], atoms)))
    return sorted([(float(e), False) for e in edges] + [(float(a), True) for a in atoms])


def _bin_shares(values: np.ndarray, rows: int, cuts: list[tuple[float, bool]]) -> np.ndarray:
    """Shares of ``rows`` in each bin between ``cuts``, then the null share (rows not in
    ``values``). Counting at or above each cut is one vectorised comparison per cut."""
    above = [np.count_nonzero(values > v if strict else values >= v) for v, strict in cuts]
    counts = -np.diff(np.array([len(values), *above, 0], dtype=np.int64))
    return np.append(counts, rows - len(values)) / rows


def _ks(base: np.ndarray, cur: np.ndarray) -> float:
    """sup |F_base - F_cur|, the statistic of ``scipy.stats.ks_2samp``, read off at the current
    values: F_cur - F_base peaks at the last of a run of equal current values, F_base - F_cur
    just before the first of one."""
    base, cur = np.sort(base), np.sort(cur)
    at_or_below = np.searchsorted(base, cur, "right")  # baseline values <= each current value
    shared = base[np.maximum(at_or_below - 1, 0)] == cur
    below = np.searchsorted(base, cur, "left") if shared.any() else at_or_below
    run_end = np.append(cur[1:] != cur[:-1], True)
    run_start = np.append(True, run_end[:-1])
    rank = np.arange(len(cur))
    up = ((rank + 1) / len(cur) - at_or_below / len(base))[run_end].max()
    down = (below / len(base) - rank / len(cur))[run_start].max()
    return float(max(up, down, 0.0))


def _wasserstein(base: np.ndarray, cur: np.ndarray) -> float:
    """The integral of |F_base - F_cur| (``scipy.stats.wasserstein_distance``) divided by the
    baseline's standard deviation (by 1 when that is 0)."""
    merged = np.concatenate((np.sort(base), np.sort(cur)))
    order = np.argsort(merged, kind="stable")  # a linear merge of the two sorted runs
    from_cur = np.cumsum(order >= len(base))
    gaps = np.arange(1, len(merged) + 1) / len(base) - from_cur * (1 / len(base) + 1 / len(cur))
    distance = float(np.sum(np.abs(gaps[:-1]) * np.diff(merged[order])))
    std = float(np.std(base))
    return distance / (std if std > 0 and math.isfinite(std) else 1.0)


def _numeric_score(
    base: np.ndarray, cur: np.ndarray, rows: tuple[int, int], method: str, bins: int
) -> float:
    if method == "ks":
        return _ks(base, cur)
    if method == "wasserstein":
        return _wasserstein(base, cur)
    cuts = _cuts(base, bins)
    return _psi(_bin_shares(base, rows[0], cuts), _bin_shares(cur, rows[1], cuts))


def _category_counts(series: pd.Series) -> tuple[pd.Series, int]:
    """Row counts per category (as str, most frequent first) and the null count."""
    counts = series.value_counts(dropna=False)
    null = counts.index.isna()
    named = counts[~null & (counts.to_numpy() > 0)]
    named.index = named.index.astype(str)
    named = named.groupby(level=0, sort=False).sum().sort_values(ascending=False, kind="stable")
    return named, int(counts[null].sum())


def _null_reason(rows: tuple[int, int], present: tuple[int, int]) -> str | None:
    for side, total, count in zip(("baseline", "current"), rows, present, strict=True):
        if count == 0:
            return f"all {total} values are null in {side}" if total else f"{side} has no rows"
    return None


def _numeric_fields(
    base: pd.Series, cur: pd.Series, method: str, bins: int
) -> dict[str, Any] | str:
    rows = (len(base), len(cur))
    values = (_finite(base), _finite(cur))
    reason = _null_reason(rows, (len(values[0]), len(values[1])))
    if reason:
        return reason
    return {
        "method": method,
        "score": _numeric_score(values[0], values[1], rows, method, bins),
        "baseline_mean": _number(np.mean(values[0])),
        "current_mean": _number(np.mean(values[1])),
        "new_categories": None,
    }


def _categorical_fields(base: pd.Series, cur: pd.Series) -> dict[str, Any] | str:
    (base_named, base_null), (cur_named, cur_null) = map(_category_counts, (base, cur))
    reason = _null_reason((len(base), len(cur)), (len(base) - base_null, len(cur) - cur_null))
    if reason:
        return reason
    table = pd.concat([base_named, cur_named], axis=1).fillna(0)  # the union of categories
    score = _psi(
        np.append(table.iloc[:, 0].to_numpy(dtype=float), base_null) / len(base),
        np.append(table.iloc[:, 1].to_numpy(dtype=float), cur_null) / len(cur),
    )
    new = cur_named.index[~cur_named.index.isin(base_named.index)]
    return {
        "method": "psi",
        "score": score,
        "baseline_mean": None,
        "current_mean": None,
        "new_categories": [str(value) for value in new[:MAX_NEW_CATEGORIES]],
    }


def _check_column(
    name: str, base: pd.Series, cur: pd.Series, method: str, threshold: float, bins: int
) -> dict[str, Any] | str:
    """The report entry for one column, or the reason it was skipped."""
    kind, cur_kind = _kind(base), _kind(cur)
    if kind is None or cur_kind is None:
        dtype, side = (base.dtype, "baseline") if kind is None else (cur.dtype, "current")
        return f"unsupported dtype {dtype} in {side}"
    if cur_kind != kind:
        return f"{kind} ({base.dtype}) in baseline but {cur_kind} ({cur.dtype}) in current"
    if kind == "numeric":
        fields = _numeric_fields(base, cur, method, bins)
    else:
        fields = _categorical_fields(base, cur)
    if isinstance(fields, str):
        return fields
    return {
        "column": name,
        "kind": kind,
        "method": fields["method"],
        "score": fields["score"],
        "threshold": float(threshold),
        "drifted": bool(fields["score"] > threshold),
        "baseline_rows": len(base),
        "current_rows": len(cur),
        "baseline_mean": fields["baseline_mean"],
        "current_mean": fields["current_mean"],
        "new_categories": fields["new_categories"],
    }


def drift_report(
    baseline: pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: list[str] | None = None,
    method: str = "psi",
    threshold: float | None = None,
    column_thresholds: dict[str, float] | None = None,
    max_drifted_share: float = 0.0,
    bins: int = 10,
) -> dict[str, Any]:
    """Compare ``current`` with ``baseline`` column by column and decide whether the data drifted.

    ``method`` scores numeric (int/float) columns: ``psi`` (population stability index over
    baseline-quantile bins, nulls as a bin of their own), ``ks`` (Kolmogorov-Smirnov statistic,
    the same number as ``scipy.stats.ks_2samp``) or ``wasserstein`` (``scipy.stats.
    wasserstein_distance`` divided by the baseline's standard deviation). Categorical columns
    (object, string, category, bool) are always scored with PSI over the union of categories,
    against ``threshold`` when ``method`` is psi and ``DEFAULT_THRESHOLDS["psi"]`` otherwise.
    A column drifts when its score exceeds its threshold (``column_thresholds`` overrides it per
    column); the dataset drifts when the share of drifted columns exceeds ``max_drifted_share``.

    ``columns=None`` checks every column present in both frames; columns named explicitly but
    missing from a frame, all-null columns (infinities count as null) and datetime or other
    unsupported dtypes are listed under ``skipped`` with the reason. The result holds only plain
    JSON values (no numpy types, no NaN).
    """
    if method not in METHODS:
        raise ValueError(f"unknown drift method {method!r}; expected one of {', '.join(METHODS)}")
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    if not 0.0 <= max_drifted_share <= 1.0:
        raise ValueError(f"max_drifted_share must be between 0 and 1, got {max_drifted_share}")
    column_thresholds = dict(column_thresholds or {})
    unknown = [str(c) for c in column_thresholds if c not in baseline and c not in current]
    if unknown:
        raise ValueError(f"column_thresholds name columns in neither frame: {', '.join(unknown)}")
    numeric_threshold = float(DEFAULT_THRESHOLDS[method] if threshold is None else threshold)
    categorical_threshold = numeric_threshold if method == "psi" else DEFAULT_THRESHOLDS["psi"]

    skipped: list[dict[str, str]] = []
    if columns is None:
        names = [c for c in baseline.columns if c in current.columns]
    else:
        names = []
        for name in dict.fromkeys(columns):
            missing = [
                side for side, f in (("baseline", baseline), ("current", current)) if name not in f
            ]
            if missing:
                skipped.append(
                    {"column": str(name), "reason": f"missing in {' and '.join(missing)}"}
                )
            else:
                names.append(name)

    def check(name: Any, base: pd.Series, cur: pd.Series) -> dict[str, Any] | str:
        default = categorical_threshold if _kind(base) == "categorical" else numeric_threshold
        limit = column_thresholds.get(name, default)
        return _check_column(str(name), base, cur, method, limit, bins)

    bases, curs = [baseline[n] for n in names], [current[n] for n in names]  # read on this thread
    workers = max(1, min(_MAX_THREADS, os.cpu_count() or 1, len(names)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(check, names, bases, curs))

    entries = [result for result in results if isinstance(result, dict)]
    skipped += [
        {"column": str(name), "reason": result}
        for name, result in zip(names, results, strict=True)
        if isinstance(result, str)
    ]
    drifted = [entry["column"] for entry in entries if entry["drifted"]]
    share = len(drifted) / len(entries) if entries else 0.0
    return {
        "method": method,
        "threshold": numeric_threshold,
        "max_drifted_share": float(max_drifted_share),
        "columns": entries,
        "drifted_columns": drifted,
        "drifted_share": share,
        "drift": share > max_drifted_share,
        "skipped": skipped,
    }


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _verdict(report: dict[str, Any]) -> str:
    return (
        f"{len(report['drifted_columns'])} of {len(report['columns'])} columns drifted "
        f"({report['drifted_share']:.1%}), allowed {report['max_drifted_share']:.1%}: "
        f"{'DRIFT' if report['drift'] else 'ok'}"
    )


def format_drift_table(report: dict[str, Any]) -> str:
    """Fixed-width text table for the task log: column, kind, method, score, threshold and
    DRIFT/ok per checked column, the skipped columns with their reason, then a one-line verdict
    ("2 of 30 columns drifted (6.7%), allowed 0.0%: DRIFT")."""
    rows = [("column", "kind", "method", "score", "threshold", "result")]
    rows += [
        (
            e["column"],
            e["kind"],
            e["method"],
            _fmt(e["score"]),
            _fmt(e["threshold"]),
            "DRIFT" if e["drifted"] else "ok",
        )
        for e in report["columns"]
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines += [f"skipped {s['column']}: {s['reason']}" for s in report["skipped"]]
    lines.append(_verdict(report))
    return "\n".join(lines)


def drift_summary_line(report: dict[str, Any]) -> str:
    """One plain-words line, e.g. "drift in 1 of 30 columns: mean radius (psi 0.53 > 0.2)"."""
    checked = len(report["columns"])
    drifted = [e for e in report["columns"] if e["drifted"]]
    skipped = f"; {len(report['skipped'])} skipped" if report["skipped"] else ""
    if not drifted:
        return f"no drift in {checked} columns ({report['method']}){skipped}"
    listed = ", ".join(
        f"{e['column']} ({e['method']} {_fmt(e['score'])} > {_fmt(e['threshold'])})"
        for e in drifted[:MAX_LISTED]
    )
    more = f" and {len(drifted) - MAX_LISTED} more" if len(drifted) > MAX_LISTED else ""
    if report["drift"]:
        head = f"drift in {len(drifted)} of {checked} columns"
    else:
        head = (
            f"{len(drifted)} of {checked} columns drifted, "
            f"within the allowed {report['max_drifted_share']:.1%}"
        )
    return f"{head}: {listed}{more}{skipped}"

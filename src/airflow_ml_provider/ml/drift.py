"""Per-feature data drift between the champion's training data and a new snapshot.

Runs in the validation task and in the training pod: numpy and pandas only, no Airflow.

The baseline side is a **profile**: a small JSON-serialisable summary of a dataset made once by
:func:`profile_frame` (when a snapshot is validated) and stored next to it, so a later check
reads neither the old snapshot nor a second copy of it in memory. :func:`drift_report` scores
only against a profile; a DataFrame baseline is first profiled with the same ``bins``.

Profile format (``version`` 1)::

    {"version": 1, "rows": n, "bins": 10, "quantiles": 1001, "max_categories": 10000,
     "columns": {name (as str): column, ...}}

with one of these per column (``dtype`` is the pandas dtype as text, ``count`` the non-null
rows, ``null_share`` the nulls' share of ``rows``, 0.0 when there are no rows):

* numeric (int/float; infinities count as nulls): ``kind: "numeric"``, ``dtype``, ``rows``,
  ``count``, ``null_share``, ``mean``, ``std`` (population, ``None`` when not finite),
  ``bin_edges`` (values opening a PSI bin: values equal to one fall in the upper bin),
  ``own_bins`` (values holding at least a bin's worth of the baseline, each with a bin of its
  own), ``bin_shares`` (the baseline's share of ``rows`` per bin in ascending order, then the
  null bin), ``sketched`` and ``values``: every non-null value sorted when ``count`` is at most
  ``quantiles`` (``sketched: false``, KS and Wasserstein then exact), else the values at
  ``quantiles`` evenly spaced probabilities from 0 to 1 (``np.quantile``, default ``linear``
  method: interpolated between neighbouring order statistics; first and last are the min and
  max).
* categorical (object, string, category, bool): ``kind: "categorical"``, ``dtype``, ``rows``,
  ``count``, ``null_share``, ``categories`` (how many distinct), ``too_many_categories`` and
  ``counts`` (rows per category as str, most frequent first; ``None`` when there are more than
  ``max_categories`` categories, and drift then skips the column with the reason).
* anything else (datetime, ...): ``kind: "skipped"``, ``dtype``, ``rows``, ``reason``.

Every score is computed with whole-array numpy operations (no Python loop over rows), and the
columns are profiled and scored on a small thread pool because sorting, partitioning and
searching release the GIL.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
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
PROFILE_VERSION = 1
DEFAULT_QUANTILES = 1001
DEFAULT_MAX_CATEGORIES = 10_000
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


def _per_column(function: Callable[..., Any], *columns: Iterable[Any]) -> list[Any]:
    """``function`` mapped over the columns on a small thread pool, results in order."""
    columns = tuple(list(c) for c in columns)
    workers = max(1, min(_MAX_THREADS, os.cpu_count() or 1, len(columns[0])))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, *columns))


def _psi(base_shares: np.ndarray, cur_shares: np.ndarray) -> float:
    base = np.maximum(base_shares, EPSILON)
    cur = np.maximum(cur_shares, EPSILON)
    return float(np.sum((cur - base) * np.log(cur / base)))


def _bin_definition(quantiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PSI bin boundaries from the baseline's ``bins + 1`` quantiles: the edges open a bin at
    their value (values equal to it fall in the upper bin); every value that holds at least a
    bin's worth of the baseline (it repeats among the quantiles) also gets a bin of its own, so
    constant and few-valued columns are binned by value."""
    own = np.unique(quantiles[1:][quantiles[1:] == quantiles[:-1]])
    return np.unique(np.concatenate((quantiles[1:-1], own))), own


def _cuts(profile: dict[str, Any]) -> list[tuple[float, bool]]:
    """The profile's bins as ``(value, own)`` cuts in ascending order: ``(v, False)`` opens a
    bin at ``v``, ``(v, True)`` closes the bin of ``v`` itself (it sorts right after)."""
    return sorted(
        [(float(v), False) for v in profile["bin_edges"]]
        + [(float(v), True) for v in profile["own_bins"]]
    )


def _bin_shares(values: np.ndarray, rows: int, cuts: list[tuple[float, bool]]) -> np.ndarray:
    """Shares of ``rows`` in each bin between ``cuts``, then the null share (rows not in
    ``values``). Counting at or above each cut is one vectorised comparison per cut."""
    above = [np.count_nonzero(values > v if own else values >= v) for v, own in cuts]
    counts = -np.diff(np.array([len(values), *above, 0], dtype=np.int64))
    return np.append(counts, rows - len(values)) / rows


def _ks(base: np.ndarray, cur: np.ndarray) -> float:
    """sup |F_base - F_cur| over x, the statistic of ``scipy.stats.ks_2samp`` for the two sets
    of values (a sketch counts as its values). F_base is flat from one distinct baseline value
    u_k to the next, so on that stretch the difference is largest either at u_k or just before
    u_(k+1), where F_cur is at its highest; before the first value F_base is 0, after the last
    it is 1. So it is read off at the distinct baseline values (few: at most ``quantiles``)
    with two searches into the sorted current values."""
    base, cur = np.sort(base), np.sort(cur)
    distinct = np.unique(base)
    f_base = np.searchsorted(base, distinct, "right") / len(base)
    at_or_below = np.searchsorted(cur, distinct, "right") / len(cur)
    below = np.searchsorted(cur, distinct, "left") / len(cur)
    gaps = (np.abs(f_base - at_or_below), np.abs(f_base[:-1] - below[1:]), below[:1])
    return float(max(gap.max(initial=0.0) for gap in gaps))


def _exact_distance(base: np.ndarray, cur: np.ndarray) -> float:
    """The integral of |F_base - F_cur| (``scipy.stats.wasserstein_distance``)."""
    merged = np.concatenate((np.sort(base), np.sort(cur)))
    order = np.argsort(merged, kind="stable")  # a linear merge of the two sorted runs
    from_cur = np.cumsum(order >= len(base))
    gaps = np.arange(1, len(merged) + 1) / len(base) - from_cur * (1 / len(base) + 1 / len(cur))
    return float(np.sum(np.abs(gaps[:-1]) * np.diff(merged[order])))


def _quantile_distance(base_quantiles: np.ndarray, cur: np.ndarray) -> float:
    """The integral over p of |Q_base(p) - Q_cur(p)| from a sketch: both quantile functions
    are read at the sketch's evenly spaced probabilities (the current side with the same
    ``np.quantile`` linear method) and taken as linear in between, where the difference is
    integrated exactly, also on a step where the two cross. Each side's true quantile function
    stays (to within one order statistic) between the two quantiles around a step, so the
    error is at most about (range of baseline + range of current) / (quantiles - 1); in
    practice far less, because both sides are interpolated alike and their errors cancel where
    the distributions are alike (a skewed column's long tail on the last step, say), which is
    why the current side is not taken at its exact values."""
    grid = np.linspace(0.0, 1.0, len(base_quantiles))
    diff = base_quantiles - np.quantile(cur, grid)
    crossing = diff[:-1] * diff[1:] < 0
    left, right = np.abs(diff[:-1]), np.abs(diff[1:])
    area = np.where(
        crossing,
        (left**2 + right**2) / (2 * np.where(crossing, left + right, 1.0)),
        (left + right) / 2,
    )
    return float(np.sum(area * np.diff(grid)))


def _wasserstein(base: dict[str, Any], cur: np.ndarray) -> float:
    """The Wasserstein-1 distance divided by the baseline's standard deviation (by 1 when that is
    0 or not finite): exact when the profile holds every baseline value, else from the sketch
    (see :func:`_quantile_distance`)."""
    values = np.asarray(base["values"], dtype=float)
    distance = (_quantile_distance if base["sketched"] else _exact_distance)(values, cur)
    std = base["std"]
    return distance / (std if std else 1.0)


def _numeric_score(base: dict[str, Any], cur: np.ndarray, rows: int, method: str) -> float:
    if method == "ks":
        return _ks(np.asarray(base["values"], dtype=float), cur)
    if method == "wasserstein":
        return _wasserstein(base, cur)
    cuts = _cuts(base)
    return _psi(np.asarray(base["bin_shares"], dtype=float), _bin_shares(cur, rows, cuts))


def _category_counts(series: pd.Series) -> tuple[pd.Series, int]:
    """Row counts per category (as str, most frequent first) and the null count."""
    counts = series.value_counts(dropna=False)
    null = counts.index.isna()
    named = counts[~null & (counts.to_numpy() > 0)]
    named.index = named.index.astype(str)
    named = named.groupby(level=0, sort=False).sum().sort_values(ascending=False, kind="stable")
    return named, int(counts[null].sum())


def _null_share(rows: int, count: int) -> float:
    return (rows - count) / rows if rows else 0.0


def _numeric_profile(series: pd.Series, bins: int, quantiles: int) -> dict[str, Any]:
    values = _finite(series)
    rows, count = len(series), len(values)
    profile: dict[str, Any] = {"count": count, "null_share": _null_share(rows, count)}
    if not count:
        empty = ("bin_edges", "own_bins", "bin_shares", "values")
        return profile | {"mean": None, "std": None, "sketched": False} | {k: [] for k in empty}
    probabilities = np.linspace(0.0, 1.0, bins + 1)
    sketched = count > quantiles
    if sketched:  # one partition for the bin quantiles and the sketch
        points = np.quantile(values, np.append(probabilities, np.linspace(0.0, 1.0, quantiles)))
        bin_quantiles, kept = points[: bins + 1], points[bins + 1 :]
    else:
        kept = np.sort(values)
        bin_quantiles = np.quantile(kept, probabilities)
    edges, own = _bin_definition(bin_quantiles)
    profile |= {
        "mean": _number(np.mean(values)),
        "std": _number(np.std(values)),
        "bin_edges": edges.tolist(),
        "own_bins": own.tolist(),
    }
    profile["bin_shares"] = _bin_shares(values, rows, _cuts(profile)).tolist()
    return profile | {"sketched": sketched, "values": kept.tolist()}


def _categorical_profile(series: pd.Series, max_categories: int) -> dict[str, Any]:
    named, nulls = _category_counts(series)
    many = len(named) > max_categories
    return {
        "count": len(series) - nulls,
        "null_share": _null_share(len(series), len(series) - nulls),
        "categories": len(named),
        "too_many_categories": many,
        "counts": None if many else {str(k): int(v) for k, v in named.items()},
    }


def _column_profile(
    series: pd.Series, bins: int, quantiles: int, max_categories: int
) -> dict[str, Any]:
    kind = _kind(series)
    head = {"kind": kind or "skipped", "dtype": str(series.dtype), "rows": len(series)}
    if kind == "numeric":
        return head | _numeric_profile(series, bins, quantiles)
    if kind == "categorical":
        return head | _categorical_profile(series, max_categories)
    return head | {"reason": f"unsupported dtype {series.dtype}"}


def profile_frame(
    frame: pd.DataFrame,
    *,
    bins: int = 10,
    quantiles: int = DEFAULT_QUANTILES,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
) -> dict[str, Any]:
    """A compact, JSON-serialisable summary of ``frame`` that :func:`drift_report` accepts as
    its baseline (the format is in the module docstring): PSI bins from ``bins + 1`` quantiles
    with the baseline's share per bin, every sorted value of a numeric column with at most
    ``quantiles`` non-null values and a sketch of ``quantiles`` evenly spaced quantiles
    otherwise (KS within 1/(quantiles - 1) of exact), and the counts per category of a
    categorical column with at most ``max_categories`` categories. Holds only plain JSON values
    (no numpy types, no NaN or infinity); columns are keyed by ``str(name)``."""
    return _profile(len(frame), list(frame.items()), bins, quantiles, max_categories)


def _profile(
    rows: int,
    items: list[tuple[Any, pd.Series]],
    bins: int,
    quantiles: int = DEFAULT_QUANTILES,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
) -> dict[str, Any]:
    """The profile of a frame of ``rows`` rows in the columns ``items`` (name, series) only;
    they are the frame's own series, so profiling a few columns copies no others."""
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    if quantiles < 2:
        raise ValueError(f"quantiles must be at least 2, got {quantiles}")
    if max_categories < 0:
        raise ValueError(f"max_categories must not be negative, got {max_categories}")
    profiles = _per_column(
        lambda series: _column_profile(series, bins, quantiles, max_categories),
        [series for _, series in items],
    )
    return {
        "version": PROFILE_VERSION,
        "rows": rows,
        "bins": bins,
        "quantiles": quantiles,
        "max_categories": max_categories,
        "columns": {str(name): p for (name, _), p in zip(items, profiles, strict=True)},
    }


def _null_reason(rows: tuple[int, int], present: tuple[int, int]) -> str | None:
    for side, total, count in zip(("baseline", "current"), rows, present, strict=True):
        if count == 0:
            return f"all {total} values are null in {side}" if total else f"{side} has no rows"
    return None


def _numeric_fields(base: dict[str, Any], cur: pd.Series, method: str) -> dict[str, Any] | str:
    values = _finite(cur)
    reason = _null_reason((base["rows"], len(cur)), (base["count"], len(values)))
    if reason:
        return reason
    return {
        "method": method,
        "score": _numeric_score(base, values, len(cur), method),
        "baseline_mean": base["mean"],
        "current_mean": _number(np.mean(values)),
        "new_categories": None,
    }


def _categorical_fields(base: dict[str, Any], cur: pd.Series) -> dict[str, Any] | str:
    cur_named, cur_null = _category_counts(cur)
    reason = _null_reason((base["rows"], len(cur)), (base["count"], len(cur) - cur_null))
    if reason:
        return reason
    if base["too_many_categories"]:
        return f"{base['categories']} categories in baseline, over its profile's max_categories"
    base_named = pd.Series(base["counts"], dtype="int64")
    table = pd.concat([base_named, cur_named], axis=1).fillna(0)  # the union of categories
    score = _psi(
        np.append(table.iloc[:, 0].to_numpy(dtype=float), base["rows"] - base["count"])
        / base["rows"],
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
    name: str, base: dict[str, Any], cur: pd.Series, method: str, threshold: float
) -> dict[str, Any] | str:
    """The report entry for one column (``base`` is its profile), or the reason it was
    skipped."""
    kind, cur_kind = base["kind"], _kind(cur)
    if kind == "skipped":
        return f"{base['reason']} in baseline"
    if cur_kind is None:
        return f"unsupported dtype {cur.dtype} in current"
    if cur_kind != kind:
        return f"{kind} ({base['dtype']}) in baseline but {cur_kind} ({cur.dtype}) in current"
    if kind == "numeric":
        fields = _numeric_fields(base, cur, method)
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
        "baseline_rows": base["rows"],
        "current_rows": len(cur),
        "baseline_mean": fields["baseline_mean"],
        "current_mean": fields["current_mean"],
        "new_categories": fields["new_categories"],
    }


def _baseline_profile(
    baseline: pd.DataFrame | dict[str, Any], wanted: set[str], bins: int
) -> tuple[dict[str, Any], set[str]]:
    """The baseline's column profiles (a DataFrame profiled in its ``wanted`` columns only) and
    the names of all of its columns."""
    if isinstance(baseline, pd.DataFrame):
        items = [(name, series) for name, series in baseline.items() if str(name) in wanted]
        profile = _profile(len(baseline), items, bins)
        return profile["columns"], {str(name) for name in baseline.columns}
    if not isinstance(baseline, dict):
        raise TypeError(f"baseline must be a DataFrame or a profile, got {type(baseline)}")
    if baseline.get("version") != PROFILE_VERSION:
        raise ValueError(
            f"baseline profile has version {baseline.get('version')!r}; expected {PROFILE_VERSION}"
        )
    return baseline["columns"], set(baseline["columns"])


def drift_report(
    baseline: pd.DataFrame | dict[str, Any],
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

    ``baseline`` is a profile from :func:`profile_frame` (its PSI bins and sketch size are the
    ones it was made with; ``bins`` is not used then) or a DataFrame, which is profiled first
    with ``bins`` and the default sketch size: every score is computed from a profile.

    ``method`` scores numeric (int/float) columns: ``psi`` (population stability index over
    baseline-quantile bins, nulls as a bin of their own), ``ks`` (Kolmogorov-Smirnov statistic,
    the same number as ``scipy.stats.ks_2samp`` when the profile holds every baseline value,
    within 1/(quantiles - 1) of it from a sketch) or ``wasserstein`` (``scipy.stats.
    wasserstein_distance`` divided by the baseline's standard deviation; exact when the profile
    holds every baseline value, from the two quantile functions on the sketch's grid otherwise).
    Categorical columns (object, string, category, bool) are always scored with PSI over the
    union of categories, against ``threshold`` when ``method`` is psi and
    ``DEFAULT_THRESHOLDS["psi"]`` otherwise. A column drifts when its score exceeds its
    threshold (``column_thresholds`` overrides it per column); the dataset drifts when the share
    of drifted columns exceeds ``max_drifted_share``.

    ``columns=None`` checks every column present in both; columns named explicitly but missing
    from a side, all-null columns (infinities count as null), categorical columns with more
    categories than the baseline's profile keeps and datetime or other unsupported dtypes are
    listed under ``skipped`` with the reason. Columns are matched by ``str(name)``. The result
    holds only plain JSON values (no numpy types, no NaN).
    """
    if method not in METHODS:
        raise ValueError(f"unknown drift method {method!r}; expected one of {', '.join(METHODS)}")
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    if not 0.0 <= max_drifted_share <= 1.0:
        raise ValueError(f"max_drifted_share must be between 0 and 1, got {max_drifted_share}")
    current_names = {str(c): c for c in current.columns}
    asked = list(dict.fromkeys(str(c) for c in columns)) if columns is not None else None
    profiles, baseline_names = _baseline_profile(
        baseline, set(asked if asked is not None else current_names), bins
    )
    column_thresholds = {str(c): float(t) for c, t in (column_thresholds or {}).items()}
    known = baseline_names | set(current_names)
    unknown = [c for c in column_thresholds if c not in known]
    if unknown:
        raise ValueError(f"column_thresholds name columns in neither frame: {', '.join(unknown)}")
    numeric_threshold = float(DEFAULT_THRESHOLDS[method] if threshold is None else threshold)
    categorical_threshold = numeric_threshold if method == "psi" else DEFAULT_THRESHOLDS["psi"]

    skipped: list[dict[str, str]] = []
    if asked is None:
        names = [name for name in profiles if name in current_names]
    else:
        names = []
        for name in asked:
            missing = [
                side
                for side, present in (("baseline", profiles), ("current", current_names))
                if name not in present
            ]
            if missing:
                skipped.append({"column": name, "reason": f"missing in {' and '.join(missing)}"})
            else:
                names.append(name)

    def check(name: str, cur: pd.Series) -> dict[str, Any] | str:
        base = profiles[name]
        default = categorical_threshold if base["kind"] == "categorical" else numeric_threshold
        return _check_column(name, base, cur, method, column_thresholds.get(name, default))

    curs = [current[current_names[name]] for name in names]  # read on this thread
    results = _per_column(check, names, curs)
    entries = [result for result in results if isinstance(result, dict)]
    skipped += [
        {"column": name, "reason": result}
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

"""The baseline side of drift: a **profile**, a small JSON-serialisable summary of a dataset
made once by :func:`profile_frame` (when a snapshot is validated) and stored next to it.
numpy and pandas only, no Airflow.

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

Columns are profiled on a small thread pool: sorting, partitioning and searching release
the GIL.
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

PROFILE_VERSION = 1
DEFAULT_BINS = 10
DEFAULT_QUANTILES = 1001
DEFAULT_MAX_CATEGORIES = 10_000
_MAX_THREADS = 4


def profile_uri(data_uri: str) -> str:
    """Where a baseline's profile is: a baseline given as a profile JSON is that file; data
    has its profile beside it (``profile.json`` in its folder)."""
    if data_uri.endswith(".json"):
        return data_uri
    return f"{data_uri.rstrip('/').rsplit('/', 1)[0]}/profile.json"


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
    lists = tuple(list(c) for c in columns)
    workers = max(1, min(_MAX_THREADS, os.cpu_count() or 1, len(lists[0])))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, *lists))


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
        "mean": _number(float(np.mean(values))),
        "std": _number(float(np.std(values))),
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


def column_profile(
    series: pd.Series,
    bins: int = DEFAULT_BINS,
    quantiles: int = DEFAULT_QUANTILES,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
) -> dict[str, Any]:
    """One column's profile (the module docstring's format)."""
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
    bins: int = DEFAULT_BINS,
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


def check_profile_options(bins: int, quantiles: int, max_categories: int) -> None:
    """Refuse profile options that cannot make a profile."""
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    if quantiles < 2:
        raise ValueError(f"quantiles must be at least 2, got {quantiles}")
    if max_categories < 0:
        raise ValueError(f"max_categories must not be negative, got {max_categories}")


def profile_document(
    rows: int,
    columns: dict[str, dict[str, Any]],
    bins: int = DEFAULT_BINS,
    quantiles: int = DEFAULT_QUANTILES,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
) -> dict[str, Any]:
    """The profile of ``rows`` rows from its columns' profiles (``column_profile``)."""
    return {
        "version": PROFILE_VERSION,
        "rows": rows,
        "bins": bins,
        "quantiles": quantiles,
        "max_categories": max_categories,
        "columns": columns,
    }


def _profile(
    rows: int,
    items: list[tuple[Any, pd.Series]],
    bins: int,
    quantiles: int = DEFAULT_QUANTILES,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
) -> dict[str, Any]:
    """The profile of a frame of ``rows`` rows in the columns ``items`` (name, series) only;
    they are the frame's own series, so profiling a few columns copies no others."""
    check_profile_options(bins, quantiles, max_categories)
    profiles = _per_column(
        lambda series: column_profile(series, bins, quantiles, max_categories),
        [series for _, series in items],
    )
    columns = {str(name): p for (name, _), p in zip(items, profiles, strict=True)}
    return profile_document(rows, columns, bins, quantiles, max_categories)

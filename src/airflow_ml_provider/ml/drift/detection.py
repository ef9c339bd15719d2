"""Per-feature data drift between the champion's training data and a new snapshot.

Runs in the validation task and in the training pod: numpy and pandas only, no Airflow.

The baseline side is a **profile**: a small JSON-serialisable summary of a dataset made once by
:func:`profile_frame` (when a snapshot is validated) and stored next to it, so a later check
reads neither the old snapshot nor a second copy of it in memory. :func:`drift_report` scores
only against a profile; a DataFrame baseline is first profiled with the same ``bins``.

The profile format is described in ``ml.drift.profile``; the scores are in
``ml.drift.scores``. Every score is computed with whole-array numpy operations, and the
columns are scored on a small thread pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from airflow_ml_provider.ml.drift.profile import (
    PROFILE_VERSION,
    _category_counts,
    _finite,
    _kind,
    _number,
    _per_column,
    _profile,
)
from airflow_ml_provider.ml.drift.scores import (
    _numeric_score,
    _psi,
)

METHODS = ("psi", "ks", "wasserstein")
DEFAULT_THRESHOLDS = {"psi": 0.2, "ks": 0.1, "wasserstein": 0.1}
MAX_NEW_CATEGORIES = 10
MAX_LISTED = 5


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
        "current_mean": _number(float(np.mean(values))),
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


@dataclass(frozen=True)
class DriftCheck:
    """What a drift report compares, decided before any current column is read: the columns
    to score (``names``, as str), the ones skipped because a side lacks them, and each
    column's baseline profile and threshold. ``score`` one column at a time (in any order,
    on any thread), then ``report`` the results in the order of ``names``."""

    names: list[str]
    skipped: list[dict[str, str]]
    profiles: dict[str, Any]
    thresholds: dict[str, float]
    method: str
    numeric_threshold: float
    max_drifted_share: float

    def score(self, name: str, current: pd.Series) -> dict[str, Any] | str:
        """The report entry for column ``name`` of the current data, or why it was skipped."""
        return _check_column(name, self.profiles[name], current, self.method, self.thresholds[name])

    def report(self, results: list[dict[str, Any] | str]) -> dict[str, Any]:
        """The drift report from ``score``'s results, one per name in ``names``' order."""
        entries = [result for result in results if isinstance(result, dict)]
        skipped = self.skipped + [
            {"column": name, "reason": result}
            for name, result in zip(self.names, results, strict=True)
            if isinstance(result, str)
        ]
        drifted = [entry["column"] for entry in entries if entry["drifted"]]
        share = len(drifted) / len(entries) if entries else 0.0
        return {
            "method": self.method,
            "threshold": self.numeric_threshold,
            "max_drifted_share": self.max_drifted_share,
            "columns": entries,
            "drifted_columns": drifted,
            "drifted_share": share,
            "drift": share > self.max_drifted_share,
            "skipped": skipped,
        }


def plan_drift(
    baseline: pd.DataFrame | dict[str, Any],
    current_columns: list[str],
    *,
    columns: list[str] | None = None,
    method: str = "psi",
    threshold: float | None = None,
    column_thresholds: dict[str, float] | None = None,
    max_drifted_share: float = 0.0,
    bins: int = 10,
) -> DriftCheck:
    """The drift check of data whose columns are ``current_columns`` against ``baseline``;
    the options are :func:`drift_report`'s."""
    if method not in METHODS:
        raise ValueError(f"unknown drift method {method!r}; expected one of {', '.join(METHODS)}")
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    if not 0.0 <= max_drifted_share <= 1.0:
        raise ValueError(f"max_drifted_share must be between 0 and 1, got {max_drifted_share}")
    current_names = {str(c) for c in current_columns}
    asked = list(dict.fromkeys(str(c) for c in columns)) if columns is not None else None
    profiles, baseline_names = _baseline_profile(
        baseline, set(asked if asked is not None else current_names), bins
    )
    column_thresholds = {str(c): float(t) for c, t in (column_thresholds or {}).items()}
    known = baseline_names | current_names
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
    thresholds = {
        name: column_thresholds.get(
            name,
            categorical_threshold if profiles[name]["kind"] == "categorical" else numeric_threshold,
        )
        for name in names
    }
    return DriftCheck(
        names=names,
        skipped=skipped,
        profiles=profiles,
        thresholds=thresholds,
        method=method,
        numeric_threshold=numeric_threshold,
        max_drifted_share=float(max_drifted_share),
    )


def drift_report(
    baseline: pd.DataFrame | dict[str, Any],
    current: pd.DataFrame,
    **options: Any,
) -> dict[str, Any]:
    """Compare ``current`` with ``baseline`` column by column and decide whether the data drifted.

    Options: ``columns``, ``method``, ``threshold``, ``column_thresholds``,
    ``max_drifted_share`` and ``bins``, as below.

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
    check = plan_drift(baseline, list(current.columns), **options)
    labels = {str(c): c for c in current.columns}
    curs = [current[labels[name]] for name in check.names]  # read on this thread
    return check.report(_per_column(check.score, check.names, curs))


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

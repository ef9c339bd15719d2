"""Drift scores of one numeric column against its profile: PSI over the profile's bins, KS
and Wasserstein against its sorted values or quantile sketch — whole-array numpy, no loop
over rows. No Airflow."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from airflow_ml_provider.ml.drift.profile import _bin_shares, _cuts

EPSILON = 1e-4


def _psi(base_shares: np.ndarray, cur_shares: np.ndarray) -> float:
    base = np.maximum(base_shares, EPSILON)
    cur = np.maximum(cur_shares, EPSILON)
    return float(np.sum((cur - base) * np.log(cur / base)))


def _ks(base: np.ndarray, cur: np.ndarray) -> float:
    """sup |F_base - F_cur| over x, the statistic of ``scipy.stats.ks_2samp`` for the two sets
    of values (a sketch counts as its values). F_base is flat from one distinct baseline value
    u_k to the next, so on that stretch the difference is largest either at u_k or just before
    u_(k+1), where F_cur is at its highest; before the first value F_base is 0, after the last
    it is 1. So it is read off at the distinct baseline values (few: at most ``quantiles``)
    with two searches into the sorted current values."""
    base, cur = np.sort(base), np.sort(cur)
    distinct = np.unique(base)
    f_base = _share(base, distinct, "right")
    at_or_below = _share(cur, distinct, "right")
    below = _share(cur, distinct, "left")
    gaps = (np.abs(f_base - at_or_below), np.abs(f_base[:-1] - below[1:]), below[:1])
    return float(max(gap.max(initial=0.0) for gap in gaps))


def _share(ordered: np.ndarray, at: np.ndarray, side: Literal["left", "right"]) -> np.ndarray:
    """The share of ``ordered`` (sorted) below (left) or at or below (right) each of ``at``."""
    return np.asarray(np.searchsorted(ordered, at, side)) / len(ordered)


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

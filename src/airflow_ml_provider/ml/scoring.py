"""Score a fitted model with the catalogue's metric names (scikit-learn scorers underneath)."""

from __future__ import annotations

from typing import Any

from airflow_ml_provider.spec.metrics import METRICS


def score(model: Any, x, y, metrics: list[str]) -> dict[str, float]:
    """Return {metric: value} in the metric's natural sign (rmse is positive, lower is better)."""
    from sklearn.metrics import get_scorer

    results: dict[str, float] = {}
    for name in metrics:
        info = METRICS[name]
        value = float(get_scorer(info.scorer)(model, x, y))
        results[name] = -value if info.scorer.startswith("neg_") else value
    return results


def score_where_defined(model: Any, x, y, metrics: list[str]) -> dict[str, float | None]:
    """Like ``score``, but a metric that is undefined on these rows (roc_auc on rows of one
    class, for instance) is None instead of an error: small partitions have such rows."""
    import math
    import warnings

    results: dict[str, float | None] = {}
    for name in metrics:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = score(model, x, y, [name])[name]
        except ValueError:
            value = None
        results[name] = None if value is None or math.isnan(value) else value
    return results

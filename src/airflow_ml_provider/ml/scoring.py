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

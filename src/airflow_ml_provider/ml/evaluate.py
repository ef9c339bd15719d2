"""Score challenger and champion on the same held-out rows (no Airflow imports)."""

from __future__ import annotations

from typing import Any

from airflow_ml_provider.ml.data import load_split
from airflow_ml_provider.ml.scoring import score


def load_model(model_uri: str):
    """Load an MLflow sklearn model (a run/model URI or models:/name@alias)."""
    import mlflow.sklearn

    return mlflow.sklearn.load_model(model_uri)


def own_features(model, rows):
    """The columns ``model`` was fitted on, so a champion still scores after a column was
    added to the data (a missing column stays an error: it cannot be scored fairly)."""
    names = getattr(model, "feature_names_in_", None)
    return rows if names is None else rows[list(names)]


def score_models(
    data: dict[str, Any],
    task: str,
    metrics: list[str],
    challenger_uri: str,
    champion_uri: str | None,
) -> dict[str, dict[str, float] | None]:
    """Metrics of both models on one held-out split; champion is None when there is none."""
    split = load_split(data, task)
    challenger = score(load_model(challenger_uri), split.x_test, split.y_test, metrics)
    champion = None
    if champion_uri is not None:
        model = load_model(champion_uri)
        champion = score(model, own_features(model, split.x_test), split.y_test, metrics)
    return {"challenger": challenger, "champion": champion, "rows": len(split.x_test)}

"""Score challenger and champion on the same held-out rows (no Airflow imports)."""

from __future__ import annotations

from typing import Any

from airflow_ml_provider.ml.data import load_split
from airflow_ml_provider.ml.scoring import ResponsesByPosition, score, score_where_defined


def load_model(model_uri: str):
    """Load a registered or logged model as a scikit-learn compatible estimator: the sklearn
    flavor as is, a partitioned model (pyfunc router) as its PartitionedModel."""
    import mlflow

    flavors = mlflow.models.get_model_info(model_uri).flavors
    if "sklearn" in flavors:
        return mlflow.sklearn.load_model(model_uri)
    return mlflow.pyfunc.load_model(model_uri).unwrap_python_model().router


def own_features(model, rows):
    """The columns ``model`` was fitted on, so a champion still scores after a column was
    added to the data (a missing column stays an error: it cannot be scored fairly)."""
    names = getattr(model, "feature_names_in_", None)
    return rows if names is None else rows[list(names)]


def partition_scores(model, x, y, metric: str, partition_by: str) -> dict[str, dict[str, Any]]:
    """``{partition: {rows, value}}`` of one metric per partition of the held-out rows
    (value None where the metric is undefined on that partition's rows). The model predicts
    all rows once; each partition is scored on its slice of those answers."""
    import numpy as np
    import pandas as pd

    from airflow_ml_provider.ml.partitioned import partition_key

    codes, values = pd.factorize(x[partition_by], use_na_sentinel=False)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    answers = ResponsesByPosition(model, own_features(model, x))
    labels = y.to_numpy()
    scores = {}
    for positions in np.split(order, bounds) if len(order) else []:
        key = partition_key(values[codes[positions[0]]])
        value = score_where_defined(answers, positions, labels[positions], [metric])
        scores[key] = {"rows": len(positions), "value": value[metric]}
    return scores


def score_models(
    data: dict[str, Any],
    task: str,
    metrics: list[str],
    challenger_uri: str,
    champion_uri: str | None,
) -> dict[str, Any]:
    """Metrics of both models on one held-out split; champion is None when there is none.

    With ``data["partition_by"]`` also the first metric (the primary one) per partition of
    both models, under ``partitions``: ``{"challenger": {...}, "champion": {...} | None}``.
    """
    split = load_split(data, task)
    challenger_model = load_model(challenger_uri)
    challenger = score(challenger_model, split.x_test, split.y_test, metrics)
    champion_model = champion = None
    if champion_uri is not None:
        champion_model = load_model(champion_uri)
        champion = score(
            champion_model, own_features(champion_model, split.x_test), split.y_test, metrics
        )
    result: dict[str, Any] = {
        "challenger": challenger,
        "champion": champion,
        "rows": len(split.x_test),
    }
    column = data.get("partition_by")
    if column:
        primary = metrics[0]
        result["partitions"] = {
            "challenger": partition_scores(
                challenger_model, split.x_test, split.y_test, primary, column
            ),
            "champion": partition_scores(
                champion_model, split.x_test, split.y_test, primary, column
            )
            if champion_model is not None
            else None,
        }
    return result

"""SHAP explanations of a challenger, when the ``shap`` package is installed.

shap picks the algorithm from the model (TreeExplainer for tree ensembles, LinearExplainer
for linear models); for any other scikit-learn model its predictions are explained with
the permutation algorithm on a smaller sample. Features are masked by an independent
background sample of held-out rows.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from airflow_ml_provider.ml.scoring import own_features

EXPLAINED_ROWS = 100
BACKGROUND_ROWS = 50
MODEL_AGNOSTIC_ROWS = 30
"""Rows explained when shap does not know the model type (the permutation algorithm calls
the model (2 × features + 1) × background-rows times per row)."""


def shap_available() -> bool:
    return importlib.util.find_spec("shap") is not None


def shap_importances(model, rows, seed: int) -> list[dict[str, Any]] | None:
    """Mean absolute SHAP value per input column on held-out ``rows`` (the fitted columns
    only), largest first; for classifiers, of the positive class (binary) or averaged over
    the classes. None when shap is not installed."""
    if not shap_available():
        return None
    import numpy as np
    import shap

    data = own_features(model, rows)
    background = shap.maskers.Independent(
        data.sample(n=min(BACKGROUND_ROWS, len(data)), random_state=seed + 1)
    )
    try:
        explainer = shap.Explainer(model, background, seed=seed)
    except TypeError:  # not a model type shap knows: explain its predictions instead
        predict = getattr(model, "predict_proba", model.predict)
        explainer = shap.Explainer(predict, background, algorithm="permutation", seed=seed)
    rows_explained, options = EXPLAINED_ROWS, {}
    if isinstance(explainer, shap.explainers.Permutation):
        rows_explained = MODEL_AGNOSTIC_ROWS
        options = {"max_evals": 2 * data.shape[1] + 1, "silent": True}
    elif isinstance(explainer, shap.explainers.Tree):
        options = {"check_additivity": False}
    sample = data.sample(n=min(rows_explained, len(data)), random_state=seed)
    explanation = explainer(sample, **options)
    values = np.abs(np.asarray(explanation.values))
    if values.ndim == 3:
        values = values[..., -1] if values.shape[2] == 2 else values.mean(axis=2)
    table = [
        {"feature": str(name), "mean_abs_shap": float(value)}
        for name, value in zip(data.columns, values.mean(axis=0), strict=True)
    ]
    return sorted(table, key=lambda row: -row["mean_abs_shap"])

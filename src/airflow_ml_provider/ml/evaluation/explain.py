"""SHAP explanations of a challenger, when the ``shap`` package is installed.

shap picks the algorithm from the model (TreeExplainer for tree ensembles, LinearExplainer
for linear models); for any other scikit-learn model its predictions are explained with
the permutation algorithm on a smaller sample. Features are masked by an independent
background sample of held-out rows.

A model with its own preprocessing takes raw columns (text, dates, missing values), which
shap's maskers cannot mix; each raw column is then replaced by integer codes of its values,
and the permutation algorithm explains the model's answers to the decoded rows, so the
importances are per RAW column, whatever the preprocessing makes of it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

from airflow_ml_provider.ml.evaluation.scoring import own_features

EXPLAINED_ROWS = 100
BACKGROUND_ROWS = 50
MODEL_AGNOSTIC_ROWS = 30
"""Rows explained when shap does not know the model type (the permutation algorithm calls
the model (2 × features + 1) × background-rows times per row)."""


def shap_available() -> bool:
    return importlib.util.find_spec("shap") is not None


def import_shap() -> Any:
    """shap, imported with numba's JIT off while its modules load.

    shap decorates its masking helpers with numba's ``@njit``; compiling them takes ~11 s in
    every new process (numba cannot cache them: they take shap's link function as an
    argument), while running them as plain Python on the few rows explained here
    (``MODEL_AGNOSTIC_ROWS`` × (2 × features + 1) evaluations) takes well under a second.
    numba reads its ``DISABLE_JIT`` setting when a function is decorated, so only shap's own
    functions are affected; numba stays on for anything imported later.
    """
    if "shap" in sys.modules:
        return sys.modules["shap"]
    from numba.core import config

    was_env, was_config = os.environ.get("NUMBA_DISABLE_JIT"), config.DISABLE_JIT
    os.environ["NUMBA_DISABLE_JIT"], config.DISABLE_JIT = "1", 1
    try:
        import shap
    finally:
        config.DISABLE_JIT = was_config
        if was_env is None:
            del os.environ["NUMBA_DISABLE_JIT"]
        else:
            os.environ["NUMBA_DISABLE_JIT"] = was_env
    return shap


def shap_importances(model, rows, seed: int) -> list[dict[str, Any]] | None:
    """Mean absolute SHAP value per input column on held-out ``rows`` (the fitted columns
    only), largest first; for classifiers, of the positive class (binary) or averaged over
    the classes. None when shap is not installed."""
    if not shap_available():
        return None
    shap = import_shap()
    data = own_features(model, rows)
    if hasattr(model, "named_steps"):  # a preprocessing Pipeline: explained per raw column
        return _by_raw_column(model, data, seed)
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
    return _table(data.columns, explanation.values)


def _by_raw_column(model, data, seed: int) -> list[dict[str, Any]]:
    """Mean absolute SHAP value per raw column of a model that takes raw rows."""
    import numpy as np
    import pandas as pd

    shap = import_shap()
    background = data.sample(n=min(BACKGROUND_ROWS, len(data)), random_state=seed + 1)
    sample = data.sample(n=min(MODEL_AGNOSTIC_ROWS, len(data)), random_state=seed)
    both = pd.concat([background, sample])
    codes, values = {}, {}
    for column in data.columns:
        codes[column], values[column] = pd.factorize(both[column], use_na_sentinel=False)

    def decode(matrix) -> pd.DataFrame:
        matrix = np.asarray(matrix, dtype=int)
        return pd.DataFrame(
            {
                column: pd.Series(np.asarray(values[column], dtype=object)[matrix[:, i]])
                for i, column in enumerate(data.columns)
            }
        ).astype(data.dtypes.to_dict(), errors="ignore")

    encoded = pd.DataFrame(codes).to_numpy()
    respond = getattr(model, "predict_proba", model.predict)
    explainer = shap.Explainer(
        lambda matrix: respond(decode(matrix)),
        shap.maskers.Independent(encoded[: len(background)]),
        algorithm="permutation",
        seed=seed,
    )
    explanation = explainer(
        encoded[len(background) :], max_evals=2 * data.shape[1] + 1, silent=True
    )
    return _table(data.columns, explanation.values)


def _table(columns, shap_values) -> list[dict[str, Any]]:
    """Mean absolute SHAP value per column, largest first (classifiers: of the positive
    class when binary, averaged over the classes otherwise)."""
    import numpy as np

    values = np.abs(np.asarray(shap_values))
    if values.ndim == 3:
        values = values[..., -1] if values.shape[2] == 2 else values.mean(axis=2)
    table = [
        {"feature": str(name), "mean_abs_shap": float(value)}
        for name, value in zip(columns, values.mean(axis=0), strict=True)
    ]
    return sorted(table, key=lambda row: -row["mean_abs_shap"])

"""Every answer a fitted model gives for some rows, its preprocessing run once. Used by the
gate's scoring and by the partitioned model stored inside models, so it sits beside the
stored modules and imports nothing else of the package."""

from __future__ import annotations

from typing import Any

RESPONSE_METHODS = ("predict", "predict_proba", "decision_function")
"""What scikit-learn's scorers ask a model for."""
BATCH_ROWS = 256 * 1024
"""Rows answered at a time: a pipeline's transformed copy of 5 M held-out rows is gigabytes,
of a batch megabytes; transform and predict work row by row, so the answers are the same."""


def responses(model: Any, rows, batch_rows: int = BATCH_ROWS) -> dict[str, Any]:
    """Every answer ``model`` gives for ``rows`` (``RESPONSE_METHODS`` it has), its
    preprocessing run once: a Pipeline's steps transform the rows once for all of them,
    as ``Pipeline.predict`` would for one, ``batch_rows`` rows at a time. A model with its
    own ``responses`` (the partitioned router) answers in one pass over its sub-models."""
    import numpy as np

    if hasattr(model, "responses"):
        return model.responses(rows)
    count = rows.shape[0]
    if count <= batch_rows:
        return _answers(model, rows)
    take = rows.iloc if hasattr(rows, "iloc") else rows
    parts = [
        _answers(model, take[start : start + batch_rows]) for start in range(0, count, batch_rows)
    ]
    return {method: np.concatenate([part[method] for part in parts]) for method in parts[0]}


def _answers(model: Any, rows) -> dict[str, Any]:
    import numpy as np
    from sklearn.pipeline import Pipeline

    final, inputs = model, rows
    if isinstance(model, Pipeline) and len(model.steps) > 1:
        final, inputs = model.steps[-1][1], model[:-1].transform(rows)
    answers = {"predict": np.asarray(final.predict(inputs))}
    for method in RESPONSE_METHODS[1:]:
        try:
            answers[method] = np.asarray(getattr(final, method)(inputs))
        except AttributeError:  # not this model's (or a wrapper's inner model lacks it)
            continue
    return answers

"""Every answer a fitted model gives for some rows, its preprocessing run once. Used by the
gate's scoring and by the partitioned model stored inside models, so it sits beside the
stored modules and imports nothing else of the package."""

from __future__ import annotations

from typing import Any

RESPONSE_METHODS = ("predict", "predict_proba", "decision_function")
"""What scikit-learn's scorers ask a model for."""


def responses(model: Any, rows) -> dict[str, Any]:
    """Every answer ``model`` gives for ``rows`` (``RESPONSE_METHODS`` it has), its
    preprocessing run once: a Pipeline's steps transform the rows once for all of them,
    as ``Pipeline.predict`` would for one. A model with its own ``responses`` (the
    partitioned router) answers in one pass over its sub-models."""
    import numpy as np
    from sklearn.pipeline import Pipeline

    if hasattr(model, "responses"):
        return model.responses(rows)
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

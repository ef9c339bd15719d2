"""Score a fitted model with the catalogue's metric names (scikit-learn scorers underneath)."""

from __future__ import annotations

from typing import Any

from airflow_ml_provider.spec.metrics import METRICS


def own_features(model, rows):
    """The columns ``model`` was fitted on, so a champion still scores after a column was
    added to the data (a missing column stays an error: it cannot be scored fairly)."""
    names = getattr(model, "feature_names_in_", None)
    return rows if names is None else rows[list(names)]


def score(model: Any, x, y, metrics: list[str], sample_weight=None) -> dict[str, float]:
    """Return {metric: value} in the metric's natural sign (rmse is positive, lower is better),
    each row counted by ``sample_weight`` when given."""
    from sklearn.metrics import get_scorer

    weights = {} if sample_weight is None else {"sample_weight": sample_weight}
    results: dict[str, float] = {}
    for name in metrics:
        info = METRICS[name]
        value = float(get_scorer(info.scorer)(model, x, y, **weights))
        results[name] = -value if info.scorer.startswith("neg_") else value
    return results


def score_where_defined(
    model: Any, x, y, metrics: list[str], sample_weight=None
) -> dict[str, float | None]:
    """Like ``score``, but a metric that is undefined on these rows (roc_auc on rows of one
    class, for instance) is None instead of an error: small partitions have such rows."""
    import math
    import warnings

    results: dict[str, float | None] = {}
    for name in metrics:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = score(model, x, y, [name], sample_weight)[name]
        except ValueError:
            value = None
        results[name] = None if value is None or math.isnan(value) else value
    return results


class ResponsesByPosition:
    """A fitted model's answers for a fixed set of rows, asked for by row position.

    Computes ``predict`` (and ``predict_proba`` for classifiers) once over all rows, then
    lets scikit-learn's scorers score any subset: ``scorer(view, positions, y[positions])``.
    Scoring thousands of partitions this way costs one routed prediction instead of one per
    partition.
    """

    def __init__(self, model: Any, rows) -> None:
        import numpy as np
        from sklearn.base import is_classifier

        self._classifier = is_classifier(model)
        self._predicted = np.asarray(model.predict(rows))
        self._proba = np.asarray(model.predict_proba(rows)) if self._classifier else None
        if self._classifier:
            self.classes_ = model.classes_

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, RegressorTags, Tags, TargetTags

        return Tags(
            estimator_type="classifier" if self._classifier else "regressor",
            target_tags=TargetTags(required=True),
            classifier_tags=ClassifierTags() if self._classifier else None,
            regressor_tags=None if self._classifier else RegressorTags(),
        )

    def predict(self, positions):
        return self._predicted[positions]

    def predict_proba(self, positions):
        if self._proba is None:
            raise AttributeError("predict_proba")
        return self._proba[positions]

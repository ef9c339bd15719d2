"""Score a fitted model with the catalogue's metric names (scikit-learn scorers underneath)."""

from __future__ import annotations

from typing import Any

from airflow_ml_provider.core.metrics import METRICS


def own_features(model, rows):
    """The columns ``model`` was fitted on, so a champion still scores after a column was
    added to the data (a missing column stays an error: it cannot be scored fairly)."""
    names = getattr(model, "feature_names_in_", None)
    return rows if names is None else rows[list(names)]


BINARY_ONLY = {
    "f1": "f1_macro",
    "precision": "f1_macro",
    "recall": "balanced_accuracy",
    "average_precision": "roc_auc_ovr",
}
"""Metrics of one positive class, and what to use instead with more than two classes."""
_POSITIVE_CLASS = {
    "f1": ("f1_score", "predict"),
    "precision": ("precision_score", "predict"),
    "recall": ("recall_score", "predict"),
    "average_precision": ("average_precision_score", ("decision_function", "predict_proba")),
}


def check_metrics_fit(metrics: list[str], y, task: str) -> None:
    """Refuse a metric of one positive class when the target has more than two classes
    (before anything is fitted), naming the metric to use instead."""
    if task != "classification":
        return
    classes = len(set(y.dropna())) if hasattr(y, "dropna") else len(set(y))
    for name in metrics:
        if classes > 2 and name in BINARY_ONLY:
            raise ValueError(
                f"metric {name!r} needs a binary target, but the target has {classes} classes; "
                f"did you mean {BINARY_ONLY[name]!r}?"
            )


def _scorer(name: str, model: Any):
    """scikit-learn's scorer for a catalogue metric, fitted to the model's classes:
    roc_auc of more than two classes is one-vs-rest; a binary metric of text labels counts
    the second class (in sorted order, as predict_proba's columns) as positive."""
    import sklearn.metrics
    from sklearn.metrics import get_scorer, make_scorer

    classes = getattr(model, "classes_", None)
    if name == "roc_auc" and classes is not None and len(classes) > 2:
        return get_scorer("roc_auc_ovr")
    labels = list(classes) if classes is not None else []
    plain = set(labels) <= {0, 1} or set(labels) <= {-1, 1}
    if name in _POSITIVE_CLASS and len(labels) == 2 and not plain:
        function, response = _POSITIVE_CLASS[name]
        return make_scorer(
            getattr(sklearn.metrics, function), response_method=response, pos_label=labels[-1]
        )
    return get_scorer(METRICS[name].scorer)


def score(model: Any, x, y, metrics: list[str], sample_weight=None) -> dict[str, float]:
    """Return {metric: value} in the metric's natural sign (rmse is positive, lower is better),
    each row counted by ``sample_weight`` when given."""
    weights = {} if sample_weight is None else {"sample_weight": sample_weight}
    results: dict[str, float] = {}
    for name in metrics:
        info = METRICS[name]
        value = float(_scorer(name, model)(model, x, y, **weights))
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


def cv_summary(scores: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """{metric: {mean, std}} of per-fold scores (population std, as scikit-learn reports)."""
    summary = {}
    for metric, values in scores.items():
        mean = sum(values) / len(values)
        std = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
        summary[metric] = {"mean": mean, "std": std}
    return summary

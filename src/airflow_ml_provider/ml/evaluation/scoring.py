"""Score a fitted model with the catalogue's metric names (scikit-learn scorers underneath)."""

from __future__ import annotations

from typing import Any

from airflow_ml_provider.core.errors import AirflowMlError
from airflow_ml_provider.core.metrics import METRICS
from airflow_ml_provider.core.training_job import TrainingJob
from airflow_ml_provider.ml.responses import responses


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


POSITIVE_TAG = "airflow_ml.positive_class"
"""The training run's tag holding its positive class as JSON (monitoring scores with it)."""


def recorded_positive_class(tags: dict[str, str]) -> Any:
    """The positive class a training run recorded (None when it had none)."""
    import json

    text = tags.get(POSITIVE_TAG)
    return None if text is None else json.loads(text)


class PositiveClassError(AirflowMlError, ValueError):
    """evaluation.positive_class names no class of the target."""


def positive_class(y, configured: Any = None) -> Any:
    """The class a binary target's f1, precision, recall and average precision count as
    positive: ``configured`` (evaluation.positive_class; YAML's ``1`` matches a label ``"1"``)
    or else the minority class of ``y`` (the training labels; a tie: the last in sorted
    order). None when ``y`` has not exactly two classes."""
    import pandas as pd

    found_counts = pd.Series(y).dropna().value_counts()
    if len(found_counts) != 2:
        return None
    # Plain Python values (not numpy's): the class goes into XCom, JSON and messages.
    counts = {_plain(c): int(n) for c, n in found_counts.items()}
    classes = sorted(counts, key=str)
    if configured is not None:
        found = [c for c in classes if c == configured or str(c) == str(configured)]
        if not found:
            raise PositiveClassError(
                f"evaluation.positive_class {configured!r} is not a class of the target "
                f"(its classes: {', '.join(map(repr, classes))})"
            )
        return found[0]
    return min(reversed(classes), key=lambda c: counts[c])


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def job_positive_class(job: TrainingJob, y_train) -> Any:
    """The positive class of a training job's binary target (``positive_class`` of its
    labels and the job's ``positive_class``); None for regression or more classes."""
    if job.task != "classification":
        return None
    return positive_class(y_train, job.positive_class)


def _scorer(name: str, model: Any, positive: Any = None):
    """scikit-learn's scorer for a catalogue metric, fitted to the model's classes:
    roc_auc of more than two classes is one-vs-rest; a binary metric of one class counts
    ``positive`` (``positive_class``) as positive — without it, 1 of 0/1 labels and the
    second class of text labels (in sorted order, as predict_proba's columns)."""
    import sklearn.metrics
    from sklearn.metrics import get_scorer, make_scorer

    classes = getattr(model, "classes_", None)
    if name == "roc_auc" and classes is not None and len(classes) > 2:
        return get_scorer("roc_auc_ovr")
    labels = list(classes) if classes is not None else []
    plain = set(labels) <= {0, 1} or set(labels) <= {-1, 1}
    if name in _POSITIVE_CLASS and len(labels) == 2 and (positive is not None or not plain):
        function, response = _POSITIVE_CLASS[name]
        chosen = labels[-1] if positive is None else positive
        return make_scorer(
            getattr(sklearn.metrics, function), response_method=response, pos_label=chosen
        )
    return get_scorer(METRICS[name].scorer)


def cv_scorer(name: str, positive: Any = None):
    """What scikit-learn's cross-validation and searches take as ``scoring`` for a catalogue
    metric (its sign kept: rmse negated, as scikit-learn maximises), a binary metric of one
    class counting ``positive`` when given (see ``positive_class``)."""
    if positive is None or name not in _POSITIVE_CLASS:
        return METRICS[name].scorer
    import sklearn.metrics
    from sklearn.metrics import make_scorer

    function, response = _POSITIVE_CLASS[name]
    return make_scorer(
        getattr(sklearn.metrics, function), response_method=response, pos_label=positive
    )


def score(
    model: Any, x, y, metrics: list[str], sample_weight=None, positive: Any = None
) -> dict[str, float]:
    """Return {metric: value} in the metric's natural sign (rmse is positive, lower is better),
    each row counted by ``sample_weight`` when given, binary metrics of one class counting
    ``positive`` (see ``positive_class``)."""
    weights = {} if sample_weight is None else {"sample_weight": sample_weight}
    results: dict[str, float] = {}
    for name in metrics:
        info = METRICS[name]
        value = float(_scorer(name, model, positive)(model, x, y, **weights))
        results[name] = -value if info.scorer.startswith("neg_") else value
    return results


def score_where_defined(
    model: Any, x, y, metrics: list[str], sample_weight=None, positive: Any = None
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
                value = score(model, x, y, [name], sample_weight, positive)[name]
        except ValueError:
            value = None
        results[name] = None if value is None or math.isnan(value) else value
    return results


def answering_tags(classifier: bool):
    """scikit-learn's tags of something that answers like a fitted classifier or regressor
    (what its scorers read to pick a response method)."""
    from sklearn.utils import ClassifierTags, RegressorTags, Tags, TargetTags

    return Tags(
        estimator_type="classifier" if classifier else "regressor",
        target_tags=TargetTags(required=True),
        classifier_tags=ClassifierTags() if classifier else None,
        regressor_tags=None if classifier else RegressorTags(),
    )


class ResponsesByPosition:
    """A fitted model's answers for a fixed set of rows, asked for by row position.

    Computes every answer the model gives (``responses``) once over all rows, then lets
    scikit-learn's scorers score any subset: ``scorer(view, positions, y[positions])``; the
    view has exactly the model's response methods, so each scorer uses the one it would use
    on the model. Scoring thousands of partitions (or every metric) this way costs one
    prediction instead of one per partition and metric.
    """

    def __init__(self, model: Any, rows) -> None:
        from sklearn.base import is_classifier

        self._classifier = is_classifier(model)
        self._answers = responses(model, rows)
        if self._classifier:
            self.classes_ = model.classes_

    @classmethod
    def recorded(cls, answers: dict[str, Any], classes=None) -> ResponsesByPosition:
        """Answers computed earlier (``responses`` of a model for these rows, classes_ for
        a classifier), scored as if the model had just given them."""
        view = cls.__new__(cls)
        view._classifier = classes is not None
        view._answers = answers
        if classes is not None:
            view.classes_ = classes
        return view

    @property
    def answers(self) -> dict[str, Any]:
        """Every answer, by response method, for all rows."""
        return self._answers

    def __sklearn_tags__(self):
        return answering_tags(self._classifier)

    def __getattr__(self, name: str):
        answers = self.__dict__.get("_answers") or {}
        if name not in answers:
            raise AttributeError(name)
        values = answers[name]

        def answer(positions):
            return values[positions]

        answer.__name__ = name  # scikit-learn reads what kind of answer it got by name
        return answer

    def all_rows(self):
        """Positions of every row, to score the whole set."""
        import numpy as np

        return np.arange(len(self._answers["predict"]))


def cv_summary(scores: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """{metric: {mean, std}} of per-fold scores (population std, as scikit-learn reports)."""
    summary = {}
    for metric, values in scores.items():
        mean = sum(values) / len(values)
        std = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
        summary[metric] = {"mean": mean, "std": std}
    return summary

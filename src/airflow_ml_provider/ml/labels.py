"""Class labels of any kind for classifiers that take only 0..n-1 (XGBoost, for one).

scikit-learn has TransformedTargetRegressor but no classifier counterpart; this is that,
and nothing more. No Airflow imports: it is part of logged models.
"""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_is_fitted


class EncodedLabelClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Fits ``estimator`` on label codes 0..n-1 and answers with the original labels
    (``classes_`` are the original labels, in sorted order, as scikit-learn's own
    classifiers have them)."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def fit(self, x: Any, y: Any, **fit_params: Any) -> EncodedLabelClassifier:
        self.label_encoder_ = LabelEncoder().fit(y)
        self.classes_ = self.label_encoder_.classes_
        self.estimator_ = clone(self.estimator).fit(
            x, self.label_encoder_.transform(y), **fit_params
        )
        return self

    def predict(self, x: Any):
        check_is_fitted(self)
        codes = self.estimator_.predict(x)
        return self.label_encoder_.inverse_transform(codes.astype(int).ravel())

    def predict_proba(self, x: Any):
        check_is_fitted(self)
        return self.estimator_.predict_proba(x)

    @property
    def feature_importances_(self):
        return self.estimator_.feature_importances_


def needs_label_codes(estimator_path: str) -> bool:
    """Whether a classifier must be given labels as 0..n-1: scikit-learn's and LightGBM's
    classifiers take any labels; for others (XGBoost, a team's own) the codes are safe."""
    return not estimator_path.startswith(("sklearn.", "lightgbm."))

"""Scoring from one answer (ml/evaluation/scoring.py): every metric scored on a model's answers —
computed once, a pipeline's preprocessing run once — equals scikit-learn scoring the model
itself, for estimators that answer with predict_proba, decision_function or both, for
binary, multiclass and regression, with real scikit-learn and the breast cancer / iris /
diabetes data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC

from airflow_ml_provider.ml.evaluation.scoring import ResponsesByPosition, score

BINARY = ["roc_auc", "average_precision", "accuracy", "f1", "log_loss"]
CASES = {
    "logistic-binary": (load_breast_cancer, LogisticRegression(max_iter=5000), BINARY),
    "linear-svc-binary": (load_breast_cancer, LinearSVC(), ["roc_auc", "accuracy", "f1"]),
    "forest-multiclass": (
        load_iris,
        RandomForestClassifier(n_estimators=20, random_state=0),
        ["roc_auc", "accuracy", "f1_macro", "log_loss"],
    ),
    "ridge-regression": (load_diabetes, Ridge(), ["rmse", "mae", "r2"]),
}


def _split(load):
    x, y = load(return_X_y=True, as_frame=True)
    order = np.random.default_rng(0).permutation(len(x))
    cut = int(len(x) * 0.7)
    return x.iloc[order[:cut]], y.iloc[order[:cut]], x.iloc[order[cut:]], y.iloc[order[cut:]]


@pytest.mark.parametrize("case", list(CASES))
def test_every_metric_from_one_answer_equals_scoring_the_model(case):
    load, estimator, metrics = CASES[case]
    x_train, y_train, x_test, y_test = _split(load)
    model = Pipeline([("impute", SimpleImputer()), ("model", estimator)]).fit(x_train, y_train)
    answers = ResponsesByPosition(model, x_test)
    from_answers = score(answers, answers.all_rows(), y_test.to_numpy(), metrics)
    assert from_answers == pytest.approx(score(model, x_test, y_test, metrics), rel=1e-12)


def test_a_pipeline_preprocesses_the_rows_once_for_all_its_answers():
    x_train, y_train, x_test, y_test = _split(load_breast_cancer)
    calls: list[int] = []

    def counted(frame: pd.DataFrame) -> pd.DataFrame:
        calls.append(len(frame))
        return frame

    steps = ColumnTransformer([("all", FunctionTransformer(counted), list(x_train.columns))])
    model = Pipeline([("pre", steps), ("model", LogisticRegression(max_iter=5000))])
    model.fit(x_train, y_train)
    calls.clear()
    answers = ResponsesByPosition(model, x_test)
    score(answers, answers.all_rows(), y_test.to_numpy(), ["roc_auc", "accuracy", "log_loss"])
    assert calls == [len(x_test)]  # predict, predict_proba and decision_function share it

"""Warnings that catch a broken model before anyone trusts it: a feature that alone predicts
the target (a leak: a copy of the target, or a value known only after the outcome) and a
metric that describes the majority class. Used by ``airflow-ml check`` on its sample and
by training on the train split. No Airflow imports: this runs in the training process too.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from airflow_ml_provider.core.training_job import TrainingJob

LEAK_SCORE = 0.98
"""A single column reaching this (cross-validated balanced accuracy, or r2) predicts the
target by itself: few real features do, a copy of the target always does."""
LEAK_ROWS = 5000
"""Rows the leak check fits on (a seeded sample of more): enough to see a leak, quick."""
IMBALANCED_SHARE = 0.8
"""A majority class this common makes accuracy describe it more than the model."""
ONE_CLASS_METRICS = ("f1", "precision", "recall", "average_precision")


def leaking_features(
    x: pd.DataFrame, y: pd.Series, task: str, columns: list[str], seed: int = 0
) -> list[str]:
    """A warning line for each of ``columns`` (numeric or categorical inputs) that alone
    predicts ``y``: a shallow decision tree on that column (categories target-encoded,
    cross-fitted) reaches LEAK_SCORE in 3-fold cross-validation (the median fold)."""
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score

    known = y.notna()
    x, y = x.loc[known], y.loc[known]
    if len(y) > LEAK_ROWS:
        sample = y.sample(n=LEAK_ROWS, random_state=seed).index
        x, y = x.loc[sample], y.loc[sample]
    classification = task == "classification"
    if len(y) < 30 or (classification and y.value_counts().min() < 3):
        return []
    folds = (StratifiedKFold if classification else KFold)(3, shuffle=True, random_state=seed)
    scoring = "balanced_accuracy" if classification else "r2"
    found = []
    for column in columns:
        model = _one_column_model(x[column], classification, seed)
        with warnings.catch_warnings():  # a rare class, a constant column: not our message
            warnings.simplefilter("ignore")
            scores = cross_val_score(model, x[[column]], y, cv=folds, scoring=scoring)
        value = float(np.median(scores))  # a fold with two rows of a rare class is noise
        if value >= LEAK_SCORE:
            found.append(
                f"feature {column!r} alone predicts the target ({scoring} {value:.3f} in "
                f"3-fold cross-validation on {len(y):,} rows): a leak? (a copy of the target, or a "
                "value known only after the outcome); drop it from data.features if so"
            )
    return found


def _one_column_model(values: pd.Series, classification: bool, seed: int):
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, TargetEncoder
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    tree = (DecisionTreeClassifier if classification else DecisionTreeRegressor)(
        max_depth=6, random_state=seed
    )
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), tree)
    from sklearn.model_selection import KFold

    as_text = FunctionTransformer(_as_text, feature_names_out="one-to-one")
    # Said, not inferred: "auto" takes a whole-number target (a price in dollars) for
    # hundreds of classes and encodes every category once per class.
    target_type = "auto" if classification else "continuous"
    encoder = TargetEncoder(target_type=target_type, cv=KFold(3, shuffle=True, random_state=seed))
    return make_pipeline(as_text, encoder, tree)


def _as_text(x: pd.DataFrame) -> pd.DataFrame:
    return x.astype("string").fillna("(missing)").astype(object)


def metric_notes(y: pd.Series, task: str, metrics: list[str], positive: Any) -> list[str]:
    """Warnings that a metric describes the majority class rather than the model: a metric
    of one positive class whose positive class is the majority, accuracy on a target whose
    majority class is IMBALANCED_SHARE of the rows."""
    if task != "classification":
        return []
    shares = y.dropna().value_counts(normalize=True)
    if shares.empty:
        return []
    majority, share = shares.index[0], float(shares.iloc[0])
    notes = []
    if positive is not None and len(shares) == 2 and float(shares.get(positive, 0)) > 0.5:
        named = [m for m in metrics if m in ONE_CLASS_METRICS]
        if named:
            notes.append(
                f"{', '.join(named)} count {positive!r} as the positive class, the majority "
                f"({share:.0%} of rows): they describe the common case, not the one a model "
                "is usually for; set evaluation.positive_class to the rarer class if it matters"
            )
    if "accuracy" in metrics and share >= IMBALANCED_SHARE:
        notes.append(
            f"accuracy: always answering {majority!r} scores {share:.3f} (the majority "
            f"class is {share:.0%} of rows); roc_auc, balanced_accuracy or f1 describe how "
            "the model finds the other classes"
        )
    return notes


def quality_warnings(
    x: pd.DataFrame, y: pd.Series, task: str, plans, metrics: list[str], positive: Any, seed: int
) -> list[str]:
    """The leak warnings of the numeric, categorical and boolean columns of ``plans`` and
    the majority-class metric warnings, on rows ``x`` with labels ``y``: what ``airflow-ml
    check`` says of its sample and training of its train split."""
    judged = [p.column for p in plans if p.type in ("numeric", "categorical", "boolean")]
    return leaking_features(x, y, task, judged, seed) + metric_notes(y, task, metrics, positive)


def training_notes(job: TrainingJob, split, plans, positive: Any) -> list[str]:
    """``quality_warnings`` of a training job's train split, each printed to the log."""
    seed = int(job.data.split.seed)
    notes = quality_warnings(
        split.x_train, split.y_train, job.task, plans, job.metrics, positive, seed
    )
    for line in notes:
        print(f"warning: {line}")
    return notes

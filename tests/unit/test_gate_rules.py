"""The gate's noise-aware, secondary-metric, slice and first-run rules, on real scikit-learn
models and scorers (no mocks): what each rule measures and when it blocks promotion."""

from __future__ import annotations

import numpy as np
import pytest

from airflow_ml_provider.ml.evaluation.gate import (
    confidence_rule,
    decide,
    regression_rules,
    slice_rules,
)
from helpers.gate import rules


def test_secondary_metrics_may_regress_only_as_much_as_allowed():
    found = regression_rules(
        {"roc_auc": 0.95, "f1": 0.80, "log_loss": 0.40},
        {"roc_auc": 0.94, "f1": 0.83, "log_loss": 0.38},
        {"f1": 0.02, "log_loss": 0.05},
    )
    by_metric = {rule.metric: rule for rule in found}
    assert by_metric["f1"].passed is False and by_metric["f1"].bound == pytest.approx(0.81)
    assert by_metric["log_loss"].passed is True  # lower is better: ceiling 0.43
    assert by_metric["log_loss"].bound == pytest.approx(0.43)
    assert regression_rules({"f1": 0.1}, None, {"f1": 0.0}) == []  # no champion, no rule


def test_first_run_can_require_a_person():
    decision = decide(
        {"roc_auc": 0.99},
        None,
        primary_metric="roc_auc",
        thresholds={"roc_auc": 0.9},
        min_improvement=0.0,
        first_run="require_approval",
    )
    assert decision["promote"] is False
    assert rules(decision)["first_run_requires_approval"]["passed"] is False
    assert rules(decision)["threshold_min"]["passed"] is True
    assert decision["reason"].startswith("first model: promotion needs a person's approval")
    assert decision["needs_approval"] is True


def models_and_rows(seed: int = 0):
    """Two real classifiers that differ only a little, and held-out rows to judge them."""
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    x, y = make_classification(n_samples=1200, n_features=8, flip_y=0.1, random_state=seed)
    x_train, y_train, x_test, y_test = x[:800], y[:800], x[800:], y[800:]
    champion = LogisticRegression(C=1.0).fit(x_train, y_train)
    close = LogisticRegression(C=0.5).fit(x_train, y_train)
    weak = LogisticRegression(C=1.0).fit(x_train[:, :2], y_train)
    return champion, close, weak, x_test, y_test


def test_a_win_inside_the_noise_does_not_clear_the_confidence_bound():
    from sklearn.metrics import roc_auc_score

    from airflow_ml_provider.ml.evaluation.evaluate import bootstrap_improvement
    from airflow_ml_provider.ml.evaluation.scoring import ResponsesByPosition

    champion, close, _, x_test, y_test = models_and_rows()
    gain = roc_auc_score(y_test, close.predict_proba(x_test)[:, 1]) - roc_auc_score(
        y_test, champion.predict_proba(x_test)[:, 1]
    )
    assert abs(gain) < 0.005  # nearly the same model
    result = bootstrap_improvement(
        ResponsesByPosition(close, x_test),
        ResponsesByPosition(champion, x_test),
        y_test,
        "roc_auc",
        samples=300,
        confidence=0.95,
        seed=1,
    )
    assert result["lower"] < 0 < result["lower"] + 0.05
    assert result["mean"] == pytest.approx(gain, abs=0.003)
    rule = confidence_rule(result, "roc_auc", 0.0)
    assert rule.rule == "improvement_lower_bound_95" and rule.passed is False


def test_a_clear_win_clears_the_confidence_bound():
    from airflow_ml_provider.ml.evaluation.evaluate import bootstrap_improvement
    from airflow_ml_provider.ml.evaluation.scoring import ResponsesByPosition

    champion, _, weak, x_test, y_test = models_and_rows()
    result = bootstrap_improvement(
        ResponsesByPosition(champion, x_test),  # the full model against the two-feature one
        ResponsesByPosition(weak, x_test[:, :2]),
        y_test,
        "roc_auc",
        samples=300,
        confidence=0.95,
        seed=1,
    )
    assert result["lower"] > 0.02
    assert confidence_rule(result, "roc_auc", 0.01).passed is True


def test_slices_gap_and_group_regression():
    from airflow_ml_provider.ml.evaluation.evaluate import group_scores
    from airflow_ml_provider.ml.evaluation.scoring import ResponsesByPosition

    champion, _, weak, x_test, y_test = models_and_rows()
    groups = np.where(x_test[:, 0] > 0, "high", "low")
    scores = {
        "challenger": group_scores(
            ResponsesByPosition(weak, x_test[:, :2]), groups, y_test, "accuracy"
        ),
        "champion": group_scores(ResponsesByPosition(champion, x_test), groups, y_test, "accuracy"),
    }
    found, table = slice_rules(
        "x0", scores, metric="accuracy", max_gap=0.0, max_regression=0.01, min_rows=30
    )
    by_rule = {rule.rule: rule for rule in found}
    values = {row["group"]: row["challenger"] for row in table}
    assert set(values) == {"high", "low"}
    assert by_rule["slice_gap"].value == pytest.approx(abs(values["high"] - values["low"]))
    assert by_rule["slice_gap"].passed is False  # any gap exceeds 0.0
    worst = min(row["challenger"] - row["champion"] for row in table)
    assert by_rule["slice_regression"].value == pytest.approx(worst)
    assert by_rule["slice_regression"].passed is (worst >= -0.01)
    assert by_rule["slice_gap"].metric == "accuracy by x0"


def test_min_improvement_can_be_relative_to_the_champion():
    higher = decide(
        {"roc_auc": 0.905},
        {"roc_auc": 0.90},
        primary_metric="roc_auc",
        thresholds={},
        min_improvement="1%",
    )
    assert rules(higher)["beats_champion"]["bound"] == pytest.approx(0.909)
    assert higher["promote"] is False
    lower = decide(
        {"rmse": 9.7},
        {"rmse": 10.0},
        primary_metric="rmse",
        thresholds={},
        min_improvement="2%",
    )
    assert rules(lower)["beats_champion"]["bound"] == pytest.approx(9.8)
    assert lower["promote"] is True


def test_relative_min_improvement_in_yaml(tmp_path):
    from airflow_ml_provider.pipeline_spec import load_pipeline
    from helpers.spec_files import GOOD, errors_of, write

    relative = GOOD.replace(
        "  thresholds: {roc_auc: 0.8}\n", "  thresholds: {roc_auc: 0.8}\n  min_improvement: 0.5%\n"
    )
    assert load_pipeline(write(tmp_path, relative)).spec.evaluation.min_improvement == "0.5%"
    message = errors_of(write(tmp_path, relative.replace("0.5%", "half a percent")))
    assert (
        ":22:20: evaluation.min_improvement: expected a number (absolute, e.g. 0.005) or a share"
        in message
    ), message


def test_sample_weights_count_rows_in_every_gate_metric():
    """Weights 0/1 must give exactly the metrics of the weighted rows alone — overall, per
    group and in the bootstrap."""
    from airflow_ml_provider.ml.evaluation.evaluate import bootstrap_improvement, group_scores
    from airflow_ml_provider.ml.evaluation.scoring import ResponsesByPosition, score

    champion, close, _, x_test, y_test = models_and_rows()
    weights = (np.arange(len(y_test)) % 3 != 0).astype(float)
    kept = weights == 1
    for metric in ("accuracy", "roc_auc", "log_loss"):
        weighted = score(close, x_test, y_test, [metric], weights)[metric]
        subset = score(close, x_test[kept], y_test[kept], [metric])[metric]
        assert weighted == pytest.approx(subset), metric
    groups = np.where(x_test[:, 1] > 0, "a", "b")
    view = ResponsesByPosition(close, x_test)
    by_group = group_scores(view, groups, y_test, "accuracy", weights)
    alone = group_scores(
        ResponsesByPosition(close, x_test[kept]), groups[kept], y_test[kept], "accuracy"
    )
    assert {k: v["value"] for k, v in by_group.items()} == pytest.approx(
        {k: v["value"] for k, v in alone.items()}
    )
    heavy = bootstrap_improvement(
        view,
        ResponsesByPosition(champion, x_test),
        y_test,
        "roc_auc",
        samples=200,
        confidence=0.9,
        seed=3,
        weights=weights,
    )
    assert heavy["samples"] == 200


def test_sample_weight_needs_listed_features(tmp_path):
    from helpers.spec_files import GOOD, errors_of, write

    weighted = GOOD.replace(
        "  thresholds: {roc_auc: 0.8}\n", "  thresholds: {roc_auc: 0.8}\n  sample_weight: w\n"
    )
    assert "sample_weight needs data.features listed" in errors_of(write(tmp_path, weighted))
    listed = weighted.replace("  target: churned\n", "  target: churned\n  features: [age, w]\n")
    assert "'w' is a feature or the target, not a weight" in errors_of(write(tmp_path, listed))

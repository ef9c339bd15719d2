"""The champion/challenger rules, including lower-is-better metrics."""

from __future__ import annotations

import pytest

from airflow_ml_provider.ml.evaluation.gate import decide
from helpers.gate import rules


def test_first_model_is_promoted_when_thresholds_hold():
    decision = decide(
        {"roc_auc": 0.95},
        None,
        primary_metric="roc_auc",
        thresholds={"roc_auc": 0.9},
        min_improvement=0.0,
    )
    assert decision["promote"] is True
    assert list(rules(decision)) == ["threshold_min"]


def test_first_model_below_a_floor_is_not_promoted():
    decision = decide(
        {"roc_auc": 0.85},
        None,
        primary_metric="roc_auc",
        thresholds={"roc_auc": 0.9},
        min_improvement=0.0,
    )
    assert decision["promote"] is False
    assert "threshold_min on roc_auc: 0.8500 vs bound 0.9000" in decision["reason"]


@pytest.mark.parametrize(
    ("challenger", "promote"), [(0.951, True), (0.9505, True), (0.9504, False), (0.94, False)]
)
def test_primary_metric_must_beat_champion_by_min_improvement(challenger, promote):
    decision = decide(
        {"roc_auc": challenger},
        {"roc_auc": 0.95},
        primary_metric="roc_auc",
        thresholds={},
        min_improvement=0.0005,
    )
    assert decision["promote"] is promote
    assert rules(decision)["beats_champion"]["bound"] == pytest.approx(0.9505)


def test_lower_is_better_metrics_use_ceilings_and_must_go_down():
    better = decide(
        {"rmse": 9.0},
        {"rmse": 10.0},
        primary_metric="rmse",
        thresholds={"rmse": 12.0},
        min_improvement=0.5,
    )
    assert better["promote"] is True
    assert rules(better)["threshold_max"]["passed"] is True
    assert rules(better)["beats_champion"]["bound"] == pytest.approx(9.5)
    worse = decide(
        {"rmse": 9.8},
        {"rmse": 10.0},
        primary_metric="rmse",
        thresholds={"rmse": 12.0},
        min_improvement=0.5,
    )
    assert worse["promote"] is False


def test_the_baseline_rule_judges_in_the_metrics_direction_with_a_relative_margin():
    """rmse (lower is better): a challenger must get 1 % below the baseline's rmse; roc_auc:
    1 % above; an absolute margin works too; a champion does not excuse losing to it."""

    def judged(challenger, baseline, metric, margin="1%", champion=None):
        decision = decide(
            {metric: challenger},
            None if champion is None else {metric: champion},
            primary_metric=metric,
            thresholds={},
            min_improvement=0.0,
            baseline={metric: baseline},
            baseline_min_improvement=margin,
        )
        return decision["promote"], rules(decision)["beats_baseline"]

    promoted, rule = judged(9.8, 10.0, "rmse")
    assert promoted is True and rule["bound"] == pytest.approx(9.9)
    promoted, rule = judged(9.95, 10.0, "rmse")
    assert promoted is False and rule["value"] == 9.95
    assert judged(0.504, 0.5, "roc_auc")[0] is False
    assert judged(0.506, 0.5, "roc_auc")[0] is True
    assert judged(0.55, 0.5, "roc_auc", margin=0.1)[0] is False
    assert judged(0.45, 0.5, "roc_auc", champion=0.40)[0] is False


def test_without_a_baseline_there_is_no_baseline_rule():
    decision = decide(
        {"roc_auc": 0.5}, None, primary_metric="roc_auc", thresholds={}, min_improvement=0.0
    )
    assert decision["promote"] is True and "beats_baseline" not in rules(decision)

"""The champion/challenger rules, including lower-is-better metrics."""

from __future__ import annotations

import pytest

from airflow_ml_provider.ml.gate import decide
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

"""The YAML contract of training.candidates: a good file builds train_candidates (mapped,
one task per candidate, training.max_parallel at a time) and select_model; bad ones are
refused at file:line:column."""

from __future__ import annotations

import pytest

from airflow_ml_provider.spec import load_pipeline
from helpers.spec_files import GOOD, assert_refused, write

OLD_TRAINING = """\
training:
  estimator: sklearn.ensemble.RandomForestClassifier
  params: {n_estimators: 10}
"""
CANDIDATES = """\
training:
  max_parallel: 3
  cv_folds: 4
  candidates:
    - name: linear
      estimator: sklearn.linear_model.LogisticRegression
      params: {C: 0.5}
    - name: forest
      estimator: sklearn.ensemble.RandomForestClassifier
      search: {method: grid, params: {max_depth: [3, 6]}}
"""


def with_training(text: str) -> str:
    return GOOD.replace(OLD_TRAINING, text)


def test_candidates_build_a_mapped_training_and_a_selection(tmp_path):
    from airflow_ml_provider.factory.builder import build_dag
    from airflow_ml_provider.operators.candidates import SelectModelOperator

    dag = build_dag(load_pipeline(write(tmp_path, with_training(CANDIDATES))))
    assert "train_model" not in dag.task_ids
    mapped = dag.get_task("train_candidates")
    assert mapped.max_active_tis_per_dagrun == 3
    kwargs = mapped.expand_input.value
    assert [k["candidate"] for k in kwargs] == [
        {"name": "linear", "folds": 4},
        {"name": "forest", "folds": 4},
    ]
    assert kwargs[0]["estimator_params"] == {"C": 0.5} and kwargs[0]["search"] is None
    assert kwargs[1]["search"]["scoring"] == "roc_auc"  # the primary metric by default
    select = dag.get_task("select_model")
    assert isinstance(select, SelectModelOperator)
    assert select.candidate_names == ["linear", "forest"]
    assert select.trigger_rule == "all_done"
    assert "select_model" in dag.get_task("evaluate_model").upstream_task_ids


BAD = {
    "duplicate names": (
        CANDIDATES.replace("name: forest", "name: linear"),
        ":22:13: training.candidates[1].name: candidate name 'linear' is already used by "
        "training.candidates[0]",
    ),
    "estimator and candidates": (
        CANDIDATES.replace("training:\n", "training:\n  estimator: sklearn.svm.SVC\n"),
        ":16:14: training.estimator: training.estimator and training.candidates exclude each other",
    ),
    "estimator outside the allowed modules": (
        CANDIDATES.replace("sklearn.linear_model.LogisticRegression", "os.system"),
        ":20:18: training.candidates[0].estimator: 'os.system' is not in an allowed module",
    ),
    "a regressor among classifiers": (
        CANDIDATES.replace("LogisticRegression", "LinearRegression"),
        ":19:5: training.candidates: the candidates mix classification and regression "
        "estimators; give them one task (or set training.task)",
    ),
    "a regressor in a classification pipeline": (
        CANDIDATES.replace("LogisticRegression", "LinearRegression").replace(
            "training:\n", "training:\n  task: classification\n"
        ),
        ":21:18: training.candidates[0].estimator: sklearn.linear_model.LinearRegression is "
        "a regression estimator but the pipeline is classification",
    ),
    "more successes needed than candidates": (
        CANDIDATES.replace("cv_folds: 4", "cv_folds: 4\n  min_candidates: 3"),
        ":18:19: training.min_candidates: min_candidates 3 is more than the 2 candidates",
    ),
    "neither estimator nor candidates": (
        "training:\n  runner: local\n",
        ":16:3: training: give training.estimator (one model) or training.candidates",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_candidates_are_refused(tmp_path, case):
    text, expected = BAD[case]
    assert_refused(write(tmp_path, with_training(text)), expected)


def test_the_leaderboard_ranks_by_mean_then_spread_then_fit_time():
    """Highest mean CV score first (lowest for an error metric), ties broken by the smaller
    standard deviation, then the cheaper fit; failed and silent candidates last."""
    from airflow_ml_provider.ml.candidates import leaderboard

    def row(name, mean, std=0.01, seconds=1.0, status="succeeded", metric="roc_auc"):
        cv = {metric: {"mean": mean, "std": std}} if status == "succeeded" else {}
        return {"name": name, "estimator": "e", "params": {}, "status": status, "cv": cv,
                "fit_seconds": seconds, "rows": 10, "rows_sha256": "x", "run_id": name,
                "experiment_id": "1"}  # fmt: skip

    results = [
        row("steady", 0.90, std=0.01, seconds=9),
        row("shaky", 0.90, std=0.05),
        row("cheap", 0.90, std=0.01, seconds=1),
        row("best", 0.93),
        {**row("broken", 0, status="failed"), "error": "ValueError: x"},
    ]
    board = leaderboard(results, "roc_auc", ["best", "steady", "shaky", "cheap", "broken", "lost"])
    assert [r["name"] for r in board] == ["best", "cheap", "steady", "shaky", "broken", "lost"]
    assert [r["rank"] for r in board] == [1, 2, 3, 4, 5, 6]
    assert "failed before reporting" in board[-1]["error"]
    errors = [row("a", 3.0, metric="rmse"), row("b", 2.0, metric="rmse")]
    assert [r["name"] for r in leaderboard(errors, "rmse", ["a", "b"])] == ["b", "a"]

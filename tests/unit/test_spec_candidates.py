"""The YAML contract of training.candidates: a good file builds train_candidates (mapped,
one task per candidate, training.max_parallel at a time) and select_model; bad ones are
refused at file:line:column."""

from __future__ import annotations

import pytest

from airflow_ml_provider.pipeline_spec import load_pipeline
from helpers.spec_files import GOOD, GOOD_TRAINING, assert_refused, write

OLD_TRAINING = GOOD_TRAINING
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
        {"name": "linear", "folds": 4, "worker": 0, "workers": 1},
        {"name": "forest", "folds": 4, "worker": 0, "workers": 1},
    ]
    assert kwargs[0]["estimator_params"] == {"C": 0.5} and kwargs[0]["search"] is None
    assert kwargs[1]["search"]["scoring"] == "roc_auc"  # the primary metric by default
    select = dag.get_task("select_model")
    assert isinstance(select, SelectModelOperator)
    assert select.candidate_names == ["linear", "forest"]
    assert select.trigger_rule == "all_done"
    assert "select_model" in dag.get_task("evaluate_model").upstream_task_ids


OPTUNA = """\
training:
  estimator: sklearn.ensemble.RandomForestClassifier
  params: {n_estimators: 10}
  max_parallel: 2
  search:
    method: optuna
    n_trials: 10
    workers: 3
    params:
      max_depth: {distribution: randint, low: 2, high: 8}
      max_features: [sqrt, log2]
"""
IN_PODS = """\
  runner: kubernetes
  kubernetes: {image: registry.example.com/ml/trainer:1}
"""


def test_an_optuna_search_runs_as_workers_of_one_candidate(tmp_path):
    """training.search.method optuna: the one estimator becomes the only candidate, its
    three workers three mapped tasks (labelled by worker) sharing a study, then select_model
    refits the study's best."""
    from airflow_ml_provider.factory.builder import build_dag

    dag = build_dag(load_pipeline(write(tmp_path, with_training(OPTUNA))))
    assert "train_model" not in dag.task_ids
    mapped = dag.get_task("train_candidates")
    kwargs = mapped.expand_input.value
    assert [k["candidate"]["worker"] for k in kwargs] == [0, 1, 2]
    assert {k["candidate"]["name"] for k in kwargs} == {"randomforestclassifier"}
    assert all(k["search"]["n_trials"] == 10 and k["search"]["pruner"] == "median" for k in kwargs)
    assert mapped.map_index_template == "{{ task.candidate_label }}"
    assert dag.get_task("select_model").candidate_names == ["randomforestclassifier"]


def test_the_workers_together_run_exactly_n_trials():
    from airflow_ml_provider.ml.search.optuna_study import worker_quota

    for n_trials in (1, 7, 10, 101):
        for workers in range(1, min(n_trials, 9) + 1):
            shares = [worker_quota(n_trials, workers, w) for w in range(workers)]
            assert sum(shares) == n_trials and max(shares) - min(shares) <= 1


BAD = {
    "optuna workers in pods without a study database": (
        OPTUNA + IN_PODS,
        ":22:14: training.search.workers: workers in pods need a study storage every pod "
        "reaches: set storage_conn_id",
    ),
    "optuna settings on a grid search": (
        CANDIDATES.replace("{method: grid,", "{method: grid, workers: 2,"),
        ":24:39: training.candidates[1].search.workers: workers applies to method: optuna only",
    ),
    "more workers than trials": (
        OPTUNA.replace("n_trials: 10", "n_trials: 2"),
        ":22:14: training.search.workers: 3 workers for 2 n_trials",
    ),
    "an unknown pruner": (
        OPTUNA.replace("workers: 3", "workers: 3\n    pruner: hyperband"),
        ":23:13: training.search.pruner: got 'hyperband'; input should be 'median', "
        "'successive_halving' or 'none'",
    ),
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
        ":16:3: training: give training.estimator (one model), training.candidates or "
        "training.entrypoint (a team's training function)",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_candidates_are_refused(tmp_path, case):
    text, expected = BAD[case]
    assert_refused(write(tmp_path, with_training(text)), expected)


def row(name, mean, std=0.01, seconds=1.0, status="succeeded", metric="roc_auc", run_id=None):
    """One candidate's result as train_candidates returns it."""
    cv = {metric: {"mean": mean, "std": std}} if status == "succeeded" else {}
    return {"name": name, "estimator": "e", "params": {}, "status": status, "cv": cv,
            "fit_seconds": seconds, "rows": 10, "rows_sha256": "x", "run_id": run_id or name,
            "experiment_id": "1"}  # fmt: skip


def test_the_leaderboard_ranks_by_mean_then_spread_then_fit_time():
    """Highest mean CV score first (lowest for an error metric), ties broken by the smaller
    standard deviation, then the cheaper fit; failed and silent candidates last."""
    from airflow_ml_provider.ml.training.candidates import leaderboard

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


def test_a_distributed_search_is_one_row_of_the_leaderboard():
    """Each worker of an Optuna search reports the best trial it saw of the shared study:
    the leaderboard keeps the best of them; a worker that failed does not fail a candidate
    another worker of which succeeded."""
    from airflow_ml_provider.ml.training.candidates import leaderboard

    results = [
        row("search", 0.91, run_id="w1"),
        row("search", 0.94, run_id="w2"),
        row("search", 0, status="failed", run_id="w3"),
        row("dummy", 0.5),
        row("broken", 0, status="failed", run_id="b1"),
        row("broken", 0, status="failed", run_id="b2"),
    ]
    board = leaderboard(results, "roc_auc", ["search", "dummy", "broken"])
    assert [(r["name"], r["run_id"]) for r in board] == [
        ("search", "w2"),
        ("dummy", "dummy"),
        ("broken", "b1"),
    ]

"""training.search.method: optuna through dag.test(): real Airflow (SQLite) with dynamic task
mapping, real Optuna (TPE, median pruner, a journal file shared by the workers), real MLflow
and scikit-learn on the breast cancer table that ships with scikit-learn, the local runner.

Two workers share one study of seven trials: the first runs four, the second three, and the
second's sampler sees the first's results because the study is one."""

from __future__ import annotations

import pytest

from helpers.pipelines import run_with_training

SEARCH = """\
training:
  estimator: sklearn.linear_model.LogisticRegression
  params: {max_iter: 2000}
  cv_folds: 3
  max_parallel: 2
  search:
    method: optuna
    n_trials: 7
    workers: 2
    params:
      C: {distribution: loguniform, low: 0.001, high: 10.0}
      class_weight: [null, balanced]
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory, airflow_db):
    return run_with_training(tmp_path_factory.mktemp("optuna"), "optuna_ct", SEARCH)


def test_two_workers_share_one_study_of_exactly_n_trials(run):
    """Seven trials between two mapped workers (4 + 3), one study; every trial is a child run
    of its worker's run, the workers are children of the refit; the study's best trial is
    the registered challenger's parameters."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.hooks.study import journal_file, study_name
    from airflow_ml_provider.ml.search.optuna_study import WORKER_ATTR

    path, result = run
    assert result["state"] == "success", result["tasks"]
    assert result["tasks"]["train_candidates"] == "success"
    assert result["winner"] == "logisticregression"
    assert [row["name"] for row in result["candidates"]] == ["logisticregression"]

    name = study_name("optuna_ct", result["run_id"], "logisticregression")
    storage = JournalStorage(JournalFileBackend(journal_file(name)))
    study = optuna.load_study(study_name=name, storage=storage)
    assert len(study.trials) == 7
    assert {t.state.name for t in study.trials} <= {"COMPLETE", "PRUNED"}
    by_worker = [t.user_attrs[WORKER_ATTR] for t in study.trials]
    assert (by_worker.count(0), by_worker.count(1)) == (4, 3)

    client = MlflowHook().get_conn()
    refit = client.get_run(result["mlflow_run_id"])
    best = study.best_trial
    assert float(refit.data.params["C"]) == pytest.approx(best.params["C"])
    assert refit.data.params["class_weight"] == str(best.params["class_weight"])
    experiment = [refit.info.experiment_id]
    workers = client.search_runs(experiment, f"tags.`mlflow.parentRunId` = '{refit.info.run_id}'")
    assert sorted(w.data.tags["airflow_ml.candidate"] for w in workers) == [
        "logisticregression-worker-1-of-2",
        "logisticregression-worker-2-of-2",
    ]
    trials = [
        t
        for w in workers
        for t in client.search_runs(experiment, f"tags.`mlflow.parentRunId` = '{w.info.run_id}'")
    ]
    assert sorted(int(t.data.tags["airflow_ml.trial"]) for t in trials) == list(range(7))
    complete = [t for t in trials if t.data.tags["airflow_ml.trial_state"] == "complete"]
    assert all("cv.roc_auc.mean" in t.data.metrics for t in complete)
    best_run = next(t for t in trials if t.data.tags["airflow_ml.trial"] == str(best.number))
    assert best_run.data.metrics["cv.roc_auc.mean"] == pytest.approx(best.value)
    assert result["candidates"][0]["cv"]["roc_auc"]["mean"] == pytest.approx(best.value)


def test_the_winner_refit_reproduces_with_equal_metrics(run):
    """airflow-ml reproduce on the refit (select_model's run) trains the winner again from
    its job.json and gets the same held-out metrics."""
    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.ml.reproduce import reproduce

    _, result = run
    report = reproduce(result["mlflow_run_id"], MlflowHook().tracking_uri)
    assert report["match"], report["metrics"]
    assert report["metrics"]["roc_auc"]["original"] == pytest.approx(
        result["metrics"]["challenger"]["roc_auc"]
    )

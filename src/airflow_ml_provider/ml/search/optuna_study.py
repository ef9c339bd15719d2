"""``search.method: optuna``: one Optuna study shared by ``search.workers`` training processes
(mapped tasks or pods) of one candidate, each running its share of ``n_trials``.

Every trial is cross-validated fold by fold on the TRAIN split (the same folds the candidates
are compared on), reports its running mean of the scored metric after each fold so the pruner
(median or successive halving) can stop a hopeless trial early, and is logged as a child
MLflow run of the worker's run. The study lives where every worker reaches it: a database
named by an Airflow connection (its URL arrives in ``STUDY_STORAGE_ENV``, never in the job), a
journal file on the local runner, or memory when there is a single worker.
No Airflow imports: this runs in the training process or pod.
"""

from __future__ import annotations

import os
import random
import time
from typing import Any

from airflow_ml_provider.core.metrics import METRICS
from airflow_ml_provider.core.training_job import TrainingJob
from airflow_ml_provider.ml.search.cross_validated import (
    SearchError,
    checked_bounds,
    model_param_names,
    natural,
)

STUDY_STORAGE_ENV = "AIRFLOW_ML_STUDY_STORAGE"
"""SQLAlchemy URL of the study's database (set by the operator from search.storage_conn_id)."""
TRIALS_ARTIFACT = "search/trials.csv"
WORKER_ATTR = "airflow_ml_worker"
CV_ATTR = "airflow_ml_cv"
TRIAL_TAG = "airflow_ml.trial"


def worker_quota(n_trials: int, workers: int, worker: int) -> int:
    """The trials worker ``worker`` (0-based) runs: n_trials split as evenly as possible, so
    the workers together run exactly n_trials."""
    return n_trials // workers + (1 if worker < n_trials % workers else 0)


def suggest(trial: Any, name: str, options: list[Any] | dict[str, Any]) -> Any:
    """One parameter value from the trial: a list is categorical, a distribution a range."""
    if isinstance(options, list):
        return trial.suggest_categorical(name, options)
    kind, low, high = checked_bounds(name, options)
    if kind == "randint":
        return trial.suggest_int(name, int(low), int(high))
    return trial.suggest_float(name, low, high, log=kind == "loguniform")


def _pruner(name: str | None):
    import optuna

    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    if name == "none":
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)


def _storage(study: dict[str, Any]):
    """The shared storage: the database URL from the environment, else the journal file,
    else None (in memory: one worker)."""
    url = os.environ.get(STUDY_STORAGE_ENV)
    if url:
        return _database(url)
    if study.get("journal"):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        return JournalStorage(JournalFileBackend(study["journal"]))
    return None


def _database(url: str, attempts: int = 5):
    """Optuna's RDBStorage on the study database. Workers starting at once against a new
    database race to create Optuna's tables; the losers retry and find them made."""
    import optuna
    import sqlalchemy.exc

    # SQLite (a stand-in, or one host) waits for a writer's lock instead of failing at 5 s.
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None
    for attempt in range(1, attempts + 1):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine)
        except sqlalchemy.exc.SQLAlchemyError:
            if attempt == attempts:
                raise
            time.sleep(attempt * random.uniform(0.2, 0.6))
    raise AssertionError("unreachable")


def open_study(job: TrainingJob, metric: str):
    """The candidate's study (created by whichever worker comes first)."""
    import optuna

    search, candidate = job.search_section, job.candidate_section
    study = job.study or {}
    if int(candidate.get("workers", 1)) > 1 and not (
        os.environ.get(STUDY_STORAGE_ENV) or study.get("journal")
    ):
        raise SearchError("search.workers > 1 needs a shared study storage (storage_conn_id)")
    seed = int(job.data.split.seed) + int(candidate.get("worker", 0))
    return optuna.create_study(
        study_name=study.get("name") or candidate["name"],
        storage=_storage(study),
        load_if_exists=True,
        direction="maximize" if METRICS[metric].higher_is_better else "minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=_pruner(search.get("pruner")),
    )


def run_study(
    job: TrainingJob, model: Any, x, y, splitter, positive: Any = None
) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """Run this worker's share of the trials; return the study's best (params as the
    estimator takes them, {metric: {mean, std}}) over every worker's finished trials
    (binary metrics of one class count ``positive``)."""
    import mlflow
    import optuna
    from optuna.trial import TrialState

    from airflow_ml_provider.ml.evaluation.scoring import cv_scorer, cv_summary

    search, candidate = job.search_section, job.candidate_section
    metric = search.get("scoring") or job.metrics[0]
    space = model_param_names(model, search, job.estimator_path)
    written = dict(zip(space, search["params"], strict=True))  # name in the model -> in YAML
    worker, workers = int(candidate.get("worker", 0)), int(candidate.get("workers", 1))
    study = open_study(job, metric)
    mine = [t for t in study.trials if t.user_attrs.get(WORKER_ATTR) == worker]
    for abandoned in (t for t in mine if t.state == TrialState.RUNNING):
        study.tell(abandoned.number, state=TrialState.FAIL, skip_if_finished=True)
    remaining = max(worker_quota(int(search["n_trials"]), workers, worker) - len(mine), 0)
    folds = list(splitter.split(x, y))

    def objective(trial) -> float:
        from sklearn.base import clone
        from sklearn.metrics import check_scoring

        trial.set_user_attr(WORKER_ATTR, worker)
        values = {name: suggest(trial, written[name], space[name]) for name in space}
        tags = {TRIAL_TAG: str(trial.number), "airflow_ml.worker": str(worker)}
        with mlflow.start_run(nested=True, run_name=f"trial-{trial.number}", tags=tags):
            mlflow.log_params({written[name]: value for name, value in values.items()})
            scores: dict[str, list[float]] = {m: [] for m in job.metrics}
            for step, (train_rows, test_rows) in enumerate(folds):
                fitted = clone(model).set_params(**values)
                fitted.fit(x.iloc[train_rows], y.iloc[train_rows])
                for m in job.metrics:
                    scorer = check_scoring(fitted, scoring=cv_scorer(m, positive))
                    raw = scorer(fitted, x.iloc[test_rows], y.iloc[test_rows])
                    scores[m].append(natural(float(raw), METRICS[m].scorer))
                trial.report(sum(scores[metric]) / len(scores[metric]), step)
                if trial.should_prune():
                    break
            cv = cv_summary(scores)
            pruned = len(scores[metric]) < len(folds)
            mlflow.log_metrics(
                {f"cv.{m}.{s}": v for m, stats in cv.items() for s, v in stats.items()}
            )
            mlflow.log_metric("folds", len(scores[metric]))
            mlflow.set_tag("airflow_ml.trial_state", "pruned" if pruned else "complete")
        if pruned:  # after its MLflow run ended normally: a pruned trial is not a failure
            raise optuna.TrialPruned()
        trial.set_user_attr(CV_ATTR, cv)
        return cv[metric]["mean"]

    if remaining:
        study.optimize(objective, n_trials=remaining, catch=(Exception,))
    return _best(study)


def _best(study) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """The best finished trial of the whole study, logged on the worker's run."""
    import mlflow
    from optuna.trial import TrialState

    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    states = [t.state.name.lower() for t in study.trials]
    counts = {state: states.count(state) for state in sorted(set(states))}
    mlflow.log_params(
        {"search.method": "optuna", **{f"search.trials.{k}": v for k, v in counts.items()}}
    )
    mlflow.log_text(study.trials_dataframe().to_csv(index=False), TRIALS_ARTIFACT)
    if not complete:
        raise SearchError(f"no trial of study {study.study_name!r} finished ({counts})")
    best = study.best_trial
    print(f"optuna study {study.study_name!r}: {counts}; best trial {best.number}: {best.params}")
    return dict(best.params), best.user_attrs[CV_ATTR]

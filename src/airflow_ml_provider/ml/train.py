"""Training entrypoint: ``python -m airflow_ml_provider.ml.train --job job.json``.

The same code runs as a local subprocess (local runner) and inside the training pod.
The job is JSON (never a pickle), read through its contract (core.training_job.TrainingJob);
the result is JSON written to the job's ``output``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from typing import Any

from airflow_ml_provider.core.contracts import CandidateResult, PartitionChunk, TrainingResult
from airflow_ml_provider.core.training_job import TrainingJob, check_job
from airflow_ml_provider.ml.data.snapshot_reads import load_split
from airflow_ml_provider.ml.evaluation.scoring import (
    POSITIVE_TAG,
    check_metrics_fit,
    job_positive_class,
    score,
)
from airflow_ml_provider.ml.features.estimators import EstimatorError
from airflow_ml_provider.ml.features.leakage import training_notes
from airflow_ml_provider.ml.features.preprocessing import build_model, model_columns
from airflow_ml_provider.ml.features.report import feature_table, log_feature_plan
from airflow_ml_provider.ml.integrity.allowed_code import check_job_code
from airflow_ml_provider.ml.integrity.model_files import record_digest
from airflow_ml_provider.ml.integrity.provenance import REPRODUCES_TAG
from airflow_ml_provider.ml.job_main import error_line, job_main, with_store_errors
from airflow_ml_provider.ml.training.class_weights import with_class_weight
from airflow_ml_provider.ml.training.model_logging import log_sklearn_model
from airflow_ml_provider.ml.training.runs import (
    RESULT_ARTIFACT,
    WARNINGS_TAG,
    fit_warnings,
    log_training_params,
    reused_result,
    training_result,
    training_run,
)


def train(raw: Mapping[str, Any]) -> TrainingResult | CandidateResult | PartitionChunk:
    """Fit the estimator on the train split, score it on the held-out rows, log to MLflow.

    With ``job.search`` the estimator is wrapped in GridSearchCV / RandomizedSearchCV
    (cross-validated on the train split only) and the refitted best estimator is the model.
    Every run carries reproducibility tags and the job itself as ``job.json``, which is
    what ``airflow-ml reproduce RUN_ID`` re-runs. Before anything the job names is imported,
    its import paths and parameters are checked against the allow-lists it carries — after
    the job itself against its contract (core.training_job).
    """
    job = checked_job(raw)
    if job.partitions:
        from airflow_ml_provider.ml.partitions.chunks import train_partitions

        return train_partitions(job)
    if job.candidate:
        from airflow_ml_provider.ml.training.candidates import cross_validate_candidate

        return cross_validate_candidate(job)
    return train_model(job)


def checked_job(raw: Mapping[str, Any]) -> TrainingJob:
    """The job, checked against its contract and then against the allow-lists it carries —
    before anything it names is imported."""
    check_job(raw)
    job = TrainingJob.model_validate(raw)
    check_job_code(job)
    return job


def train_model(job: TrainingJob) -> TrainingResult:
    """Train one model (the job's estimator, its search, or its entrypoint), log it and
    score it on the held-out rows."""
    if job.entrypoint:
        from airflow_ml_provider.ml.training.entrypoint import train_with_entrypoint

        return train_with_entrypoint(job)
    import mlflow

    earlier = reused_result(job)
    if earlier is not None:
        return earlier
    split = load_split(job.data, job.task)
    job = with_class_weight(job, split.y_train)
    model, plans = build_model(job, split.x_train)
    check_metrics_fit(job.metrics, split.y_train, job.task)
    positive = job_positive_class(job, split.y_train)
    columns = model_columns(plans)
    x_train, x_test = split.x_train[columns], split.x_test[columns]
    print("features:\n" + feature_table(plans))
    search_cv = None
    if job.search:
        search = job.search_section
        from airflow_ml_provider.ml.search.cross_validated import build_search

        search_cv = build_search(
            model,
            search,
            metrics=job.metrics,
            seed=int(job.data.split.seed),
            estimator_path=job.estimator_path,
            positive=positive,
        )
    with training_run(job) as (run, experiment_id):
        log_training_params(job, split)
        started = time.monotonic()
        search_result = None
        trouble = training_notes(job, split, plans, positive)
        with fit_warnings(trouble):
            if search_cv is not None:
                from airflow_ml_provider.ml.search.cross_validated import log_search, scoring_metric

                search_cv.fit(x_train, split.y_train)
                model = search_cv.best_estimator_
                metric = scoring_metric(search, job.metrics)
                search_result = log_search(search_cv, search, metric)
            else:
                model.fit(x_train, split.y_train)
        fit_seconds = time.monotonic() - started
        metrics = score(model, x_test, split.y_test, job.metrics, positive=positive)
        mlflow.log_metrics({**metrics, "fit_seconds": fit_seconds})
        log_feature_plan(plans)
        info = log_sklearn_model(model, x_train.head(5), job)
        record_digest(info.model_uri)
        print(f"trained {job.estimator} in {fit_seconds:.2f}s; held-out metrics: {metrics}")
        extra: dict[str, Any] = {"search": search_result} if search_result else {}
        if positive is not None:
            extra["positive_class"] = positive
            mlflow.set_tag(POSITIVE_TAG, json.dumps(positive))
        if trouble:
            mlflow.set_tag(WARNINGS_TAG, "; ".join(trouble)[:5000])
            extra["warnings"] = trouble
        refit = job.refit
        if refit and REPRODUCES_TAG not in job.tags:
            from airflow_ml_provider.ml.training.candidates import log_leaderboard

            log_leaderboard(refit, run.info.run_id)
            extra.update(candidates=refit["leaderboard"], winner=refit["winner"])
        result = training_result(run, experiment_id, info, metrics, split, **extra)
        mlflow.log_dict(result, RESULT_ARTIFACT)
        return result


INPUT_ERRORS = (EstimatorError, ValueError, KeyError, OSError)
"""A problem with the job's inputs or a full store: reported in one line, no traceback."""


def reported_errors() -> tuple[type[BaseException], ...]:
    """INPUT_ERRORS and MLflow's (a store that refuses a write, an unreachable server)."""
    return with_store_errors(*INPUT_ERRORS)


def main(argv: list[str] | None = None) -> int:
    return job_main("airflow_ml_provider.ml.train", train, reported_errors(), error_line, argv)


if __name__ == "__main__":
    sys.exit(main())

"""training.candidates: each candidate cross-validated on the train split in its own training
process (and MLflow run), the leaderboard they make, and how the winner is chosen.

Candidates are compared on k folds of the TRAIN split only — never on the held-out rows the
gate compares the challenger with the champion on — so the gate's comparison stays unbiased.
No Airflow imports: this runs in the training process or pod.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from airflow_ml_provider.core.contracts import CandidateResult
from airflow_ml_provider.core.metrics import METRICS
from airflow_ml_provider.core.training_job import TrainingJob

CANDIDATE_TAG = "airflow_ml.candidate"
CANDIDATE_ARTIFACT = "airflow_ml/candidate.json"
LEADERBOARD_ARTIFACT = "leaderboard.csv"
PARENT_TAG = "mlflow.parentRunId"  # MLflow's own nesting: the compare view shows children
SUCCEEDED, FAILED = "succeeded", "failed"


def rows_digest(index) -> str:
    """A digest of the row labels a candidate was cross-validated on (which rows, not their
    values): equal to the train split's, disjoint from the held-out rows'."""
    return hashlib.sha256(",".join(map(str, sorted(index))).encode()).hexdigest()


def cross_validate_candidate(job: TrainingJob) -> CandidateResult:
    """Cross-validate the job's estimator (after its search, if any) on the train split;
    a candidate that cannot be fitted or scored is reported as failed, not raised."""
    import mlflow

    from airflow_ml_provider.ml.data.snapshot_reads import load_split
    from airflow_ml_provider.ml.training.runs import log_training_params, training_run

    name, label = job.candidate_section["name"], worker_label(job.candidate_section)
    earlier = finished_candidate(job)
    if earlier is not None:
        print(f"candidate {label} already finished in this DAG run: run {earlier['run_id']}")
        return earlier
    split = load_split(job.data, job.task)
    job = job.model_copy(
        update={
            "tags": {**job.tags, CANDIDATE_TAG: label},
            "run_name": f"{job.run_name or 'training'}/{label}",
        }
    )
    result: CandidateResult = {
        "name": name,
        "estimator": job.estimator_path,
        "params": dict(job.params),
        "status": FAILED,
        "cv": {},
        "fit_seconds": 0.0,
        "rows": len(split.x_train),
        "rows_sha256": rows_digest(split.x_train.index),
        "run_id": "",
        "experiment_id": "",
    }
    with training_run(job) as (run, experiment_id):
        result["run_id"], result["experiment_id"] = run.info.run_id, experiment_id
        log_training_params(job, split, candidate=name, cv_folds=job.candidate_section["folds"])
        started = time.monotonic()
        try:
            params, cv = _cross_validate(job, split)
        except Exception as error:  # the candidate fails alone; the others go on
            result["error"] = f"{type(error).__name__}: {error}"[:500]
            print(f"candidate {name} failed: {result['error']}")
        else:
            result["status"], result["params"], result["cv"] = SUCCEEDED, params, cv
            mlflow.log_metrics(
                {f"cv.{m}.{stat}": v for m, stats in cv.items() for stat, v in stats.items()}
            )
        result["fit_seconds"] = time.monotonic() - started
        mlflow.log_metric("fit_seconds", result["fit_seconds"])
        mlflow.set_tag("airflow_ml.candidate_status", result["status"])
        mlflow.log_dict(dict(result), CANDIDATE_ARTIFACT)
    if result["status"] == FAILED:
        mlflow.MlflowClient().set_terminated(result["run_id"], status="FAILED")
    return result


def _cross_validate(job: TrainingJob, split) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the params it was scored with, {metric: {mean, std}}) over the job's folds."""
    from sklearn.base import clone
    from sklearn.model_selection import KFold, StratifiedKFold, cross_validate

    from airflow_ml_provider.ml.evaluation.scoring import cv_scorer, job_positive_class
    from airflow_ml_provider.ml.features.preprocessing import build_model, model_columns
    from airflow_ml_provider.ml.search.cross_validated import (
        build_search,
        log_search,
        natural,
        scoring_metric,
    )
    from airflow_ml_provider.ml.training.class_weights import with_class_weight

    job = with_class_weight(job, split.y_train)
    model, plans = build_model(job, split.x_train)
    x, y = split.x_train[model_columns(plans)], split.y_train
    seed = int(job.data.split.seed)
    params = dict(job.params)
    search = job.search
    folds = int(job.candidate_section["folds"])
    positive = job_positive_class(job, y)
    kind = StratifiedKFold if job.task == "classification" else KFold
    splitter = kind(n_splits=folds, shuffle=True, random_state=seed)
    if search and search.get("method") == "optuna":
        from airflow_ml_provider.ml.search.optuna_study import run_study

        best, cv = run_study(job, model, x, y, splitter, positive)
        return {**params, **best}, cv
    if search:
        search_cv = build_search(
            model,
            search,
            metrics=job.metrics,
            seed=seed,
            estimator_path=job.estimator_path,
            positive=positive,
        )
        search_cv.fit(x, y)
        best = log_search(search_cv, search, scoring_metric(search, job.metrics))
        params.update(best["best_params"])
        model = clone(search_cv.best_estimator_)
    scores = cross_validate(
        model,
        x,
        y,
        cv=splitter,
        scoring={metric: cv_scorer(metric, positive) for metric in job.metrics},
        error_score="raise",
    )
    from airflow_ml_provider.ml.evaluation.scoring import cv_summary

    return params, cv_summary(
        {
            metric: [natural(float(v), METRICS[metric].scorer) for v in scores[f"test_{metric}"]]
            for metric in job.metrics
        }
    )


def worker_label(candidate: dict[str, Any]) -> str:
    """The candidate's name, with the worker for one of a distributed search's workers (its
    map index label in Airflow and its MLflow run's name)."""
    workers = int(candidate.get("workers", 1))
    if workers == 1:
        return candidate["name"]
    return f"{candidate['name']}-worker-{int(candidate.get('worker', 0)) + 1}-of-{workers}"


def finished_candidate(job: TrainingJob) -> CandidateResult | None:
    """The result of this candidate's FINISHED run in the same DAG run, configuration and
    data (a cleared or retried task), or None."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from airflow_ml_provider.ml.training.runs import same_work_runs

    for run in same_work_runs(job, {CANDIDATE_TAG: worker_label(job.candidate_section)}):
        try:
            return mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/{CANDIDATE_ARTIFACT}")
        except (MlflowException, OSError):
            continue
    return None


def leaderboard(
    results: list[CandidateResult], metric: str, names: list[str]
) -> list[CandidateResult]:
    """The candidates best first: highest mean CV ``metric`` (lowest for error metrics), ties
    broken by the smaller standard deviation, then the cheaper fit; failed ones last, with a
    candidate whose task died before reporting among them."""
    sign = -1.0 if METRICS[metric].higher_is_better else 1.0
    reported = {r["name"] for r in results}
    lost: list[CandidateResult] = [
        {"name": name, "estimator": "", "params": {}, "status": FAILED, "cv": {},
         "fit_seconds": 0.0, "rows": 0, "rows_sha256": "", "run_id": "", "experiment_id": "",
         "error": "its task failed before reporting a result (see the task's log)"}
        for name in names if name not in reported
    ]  # fmt: skip
    scored = [r for r in results if r["status"] == SUCCEEDED and metric in r["cv"]]
    scored.sort(
        key=lambda r: (sign * r["cv"][metric]["mean"], r["cv"][metric]["std"], r["fit_seconds"])
    )
    # A distributed search's workers each report the study's best they saw: keep the best.
    scored = _first_of_each_name(scored)
    named = {r["name"] for r in scored}
    failed = sorted((r for r in results if r["name"] not in named), key=lambda r: r["name"])
    failed = _first_of_each_name(failed) + lost
    return [{**r, "rank": rank} for rank, r in enumerate(scored + failed, start=1)]


def _first_of_each_name(rows: list[CandidateResult]) -> list[CandidateResult]:
    """``rows`` in order, keeping only the first row of each candidate name."""
    seen: set[str] = set()
    kept = []
    for row in rows:
        if row["name"] not in seen:
            seen.add(row["name"])
            kept.append(row)
    return kept


def log_leaderboard(refit: dict[str, Any], run_id: str) -> None:
    """On the refit (parent) run: ``leaderboard.csv`` and the winner's name; every
    candidate's run becomes its child (MLflow's nested-run layout)."""
    import mlflow
    import pandas as pd

    board = refit["leaderboard"]
    rows = [
        {
            "rank": r["rank"],
            "name": r["name"],
            "estimator": r["estimator"],
            "status": r["status"],
            **{f"cv_{m}_{stat}": v for m, s in r["cv"].items() for stat, v in s.items()},
            "fit_seconds": round(r["fit_seconds"], 3),
            "error": r.get("error", ""),
            "run_id": r["run_id"],
        }
        for r in board
    ]
    mlflow.log_text(pd.DataFrame(rows).to_csv(index=False), LEADERBOARD_ARTIFACT)
    mlflow.set_tags({"airflow_ml.winner": refit["winner"], "airflow_ml.candidates": len(board)})
    client = mlflow.MlflowClient()
    for child in refit.get("child_runs") or [r["run_id"] for r in board]:
        if child:
            client.set_tag(child, PARENT_TAG, run_id)

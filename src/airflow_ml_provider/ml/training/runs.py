"""The MLflow run of a training job: started with the job's tags, its params and validation
record logged, what it returns; and finding the finished run of the same work (a retried or
cleared task returns it instead of training again). Shared by one-model training
(ml.train), candidates (ml.training.candidates) and partitioned models (ml.partitions.assembly).
No Airflow imports: this runs in the training process or pod.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from airflow_ml_provider.core.contracts import TrainingResult
from airflow_ml_provider.core.training_job import JobData, TrainingJob
from airflow_ml_provider.ml.integrity.provenance import (
    JOB_ARTIFACT,
    REPRODUCES_TAG,
    public_job,
    reproducibility_tags,
)
from airflow_ml_provider.ml.training.tracking import use_experiment

RESULT_ARTIFACT = "airflow_ml/result.json"
"""The result a finished training run returned; a re-run of the same task returns it."""
_SAME_WORK = ("airflow_ml.dag_run_id", "airflow_ml.config_hash", "airflow_ml.data_sha256")


def finished_result(job: TrainingJob) -> dict[str, Any] | None:
    """The result of a FINISHED run of the same DAG run, configuration and data (a cleared
    or retried train_model after training succeeded), or None: then it trains. Never for a
    reproduction (``airflow-ml reproduce`` exists to train again)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    for run in same_work_runs(job):
        try:
            return mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/{RESULT_ARTIFACT}")
        except (MlflowException, OSError):
            continue  # finished before results were recorded (or a candidate's): not reusable
    return None


def reused_result(job: TrainingJob) -> TrainingResult | None:
    """``finished_result``, said in the log when there is one (the task returns it)."""
    earlier = finished_result(job)
    if earlier is not None:
        print(f"this DAG run already trained this model on this data: run {earlier['run_id']}")
    return cast(TrainingResult | None, earlier)


def same_work_runs(job: TrainingJob, extra_tags: dict[str, str] | None = None) -> list:
    """FINISHED runs of the same DAG run, configuration and data (and ``extra_tags``), newest
    first; none for a reproduction or a job without those tags."""
    import mlflow

    tags = job.tags
    if REPRODUCES_TAG in tags or not all(tags.get(key) for key in _SAME_WORK):
        return []
    experiment_id = use_experiment(job.tracking_uri, job.experiment, job.artifact_location)
    wanted = {**{key: tags[key] for key in _SAME_WORK}, **(extra_tags or {})}
    same = " and ".join(f"tags.`{key}` = '{value}'" for key, value in wanted.items())
    return mlflow.search_runs(
        experiment_ids=[experiment_id],
        filter_string=f"{same} and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        output_format="list",
    )


WARNINGS_TAG = "airflow_ml.training_warnings"


@contextmanager
def fit_warnings(found: list[str], echo: bool = True) -> Iterator[None]:
    """Collect into ``found`` what scikit-learn warns about the fit that makes its model
    untrustworthy — a solver that stopped before converging — a line each, printed too (the
    task log; not with ``echo`` False: a partition's fit among thousands), instead of
    leaving it only in the log."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from airflow_ml_provider.core.errors import first_line

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        yield
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            line = f"the model did not converge: {first_line(str(warning.message))}"
            if line not in found:
                found.append(line)
                if echo:
                    print(f"warning: {line}")
        else:  # not ours to judge: as Python would have shown it
            warnings.showwarning(
                warning.message, warning.category, warning.filename, warning.lineno
            )


def log_training_params(job: TrainingJob, split, **extra: Any) -> None:
    """The estimator, its params, the data hash and split sizes as the run's params; the
    snapshot as the run's training dataset input."""
    import mlflow

    trainer = next(
        (
            {key: value}
            for key in ("estimator", "entrypoint", "image")
            if (value := getattr(job, key))
        ),
        {},
    )
    mlflow.log_params(
        {
            **trainer,
            **job.params,
            **extra,
            "data.rows_train": split.rows_train,
            "data.rows_test": len(split.x_test),
            **({"data.rows_validation": split.rows_validation} if split.rows_validation else {}),
            "data.sha256": job.data.sha256,
        }
    )
    log_snapshot_input(job.data, split)


DATASET_ATTEMPTS = 3


def log_snapshot_input(data: JobData, split) -> None:
    """The data snapshot as an MLflow dataset input of the active run (context training):
    its URI as the source, its sha256 as the digest, the model's input columns and the
    target as the schema — described, not loaded again."""
    import mlflow
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.exceptions import MlflowException
    from mlflow.models import infer_signature

    columns = split.x_test.assign(**{data.target: split.y_test.to_numpy()}).head(5)
    dataset = MetaDataset(
        source=resolve_dataset_source(data.uri),
        name=data.uri.rstrip("/").rsplit("/", 1)[-1],
        digest=data.sha256[:36] or None,
        schema=infer_signature(columns).inputs,
    )
    for attempt in range(DATASET_ATTEMPTS):
        try:
            mlflow.log_input(dataset, context="training")
            return
        except MlflowException as exc:
            # Two trainings of one DAG run (candidates, Optuna workers) log the same snapshot
            # at once: the store's unique (experiment, name, digest) row is created by one of
            # them; the other's next try finds it and only links it to its run.
            if "unique constraint" not in str(exc).lower() or attempt == DATASET_ATTEMPTS - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


def training_result(
    run, experiment_id: str, info, metrics: dict[str, float], split, **extra: Any
) -> TrainingResult:
    """What a training run returns to the DAG (the same shape for every kind of model);
    ``extra``: the optional keys of TrainingResult (search, candidates, winner...)."""
    result: dict[str, Any] = {
        "run_id": run.info.run_id,
        "experiment_id": experiment_id,
        "model_uri": info.model_uri,
        "metrics": metrics,
        "rows_train": split.rows_train,
        "rows_test": len(split.x_test),
        **extra,
    }
    return cast(TrainingResult, result)


@contextmanager
def training_run(job: TrainingJob) -> Iterator[tuple[Any, str]]:
    """The job's MLflow run, started with its tags and reproducibility tags, ``job.json``
    and the validation record logged; yields ``(run, experiment_id)``."""
    import mlflow

    experiment_id = use_experiment(job.tracking_uri, job.experiment, job.artifact_location)
    tags = {str(k): str(v) for k, v in job.tags.items()}
    tags.update(reproducibility_tags(job, tags))
    with mlflow.start_run(experiment_id=experiment_id, run_name=job.run_name, tags=tags) as run:
        mlflow.log_dict(public_job(job), JOB_ARTIFACT)
        log_validation(job.validation)
        yield run, experiment_id


def log_validation(validation: dict[str, Any] | None) -> None:
    """Attach validate_data's result (and the drift table) to the active MLflow run."""
    import mlflow

    if not validation:
        return
    mlflow.log_dict(validation, "validation/summary.json")
    drift = validation.get("drift")
    tags = {"airflow_ml.validation": "warned" if validation.get("warnings") else "passed"}
    if drift:
        from airflow_ml_provider.ml.drift.detection import format_drift_table

        mlflow.log_dict(drift, "validation/drift.json")
        mlflow.log_text(format_drift_table(drift), "validation/drift.txt")
        tags["airflow_ml.drift"] = "true" if drift.get("drift") else "false"
        mlflow.log_metric("drift.drifted_share", float(drift.get("drifted_share") or 0.0))
    if validation.get("retrain_reason"):
        tags["airflow_ml.retrain_reason"] = validation["retrain_reason"]
    if validation.get("data_docs_uri"):
        tags["airflow_ml.data_docs"] = validation["data_docs_uri"]
    mlflow.set_tags(tags)

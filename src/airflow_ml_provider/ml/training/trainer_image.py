"""Training in a team's trainer image (``training.kubernetes.command``): the worker's side.

Before the pod: the job's MLflow run is started with its tags and params, and the train
(and validation) rows — never the held-out ones — are logged to it as parquet; the job the
pod gets names them (``data.train_uri``, ``data.validation_uri``). The pod runs the team's
command, in any language, with the job in ``$AIRFLOW_ML_JOB`` and the run in
``$MLFLOW_RUN_ID``; it logs an MLflow model named ``model`` to that run, with the metadata
``airflow_ml_task`` (and ``airflow_ml_classes`` for a classifier). After the pod: that
model is found, verified (no pickle anywhere; its digest recorded) and scored through pyfunc
on the held-out rows, as every model is. No Airflow imports.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_ml_provider.core.contracts import TrainingResult
from airflow_ml_provider.core.errors import AirflowMlError
from airflow_ml_provider.core.training_job import TrainingJob, check_job
from airflow_ml_provider.ml.data.snapshot_reads import load_split
from airflow_ml_provider.ml.evaluation.pyfunc_view import CLASSES_KEY, TASK_KEY
from airflow_ml_provider.ml.evaluation.scoring import check_metrics_fit, job_positive_class
from airflow_ml_provider.ml.training.entrypoint import scored_result
from airflow_ml_provider.ml.training.runs import (
    log_training_params,
    reused_result,
    training_run,
)
from airflow_ml_provider.ml.training.tracking import use_experiment

DATA_FOLDER = "airflow_ml/data"
"""Where in the run the trainer's rows are logged (train.parquet, validation.parquet)."""
MODEL_NAME = "model"
"""The name the trainer logs its model under."""
CONTRACT = "docs: 'Your own training code', trainer images"


class TrainerImageError(AirflowMlError, ValueError):
    """The trainer image did not leave a model the contract asks for."""


@dataclass(frozen=True)
class ImageRun:
    """A prepared run: the job the pod gets (its rows named) and the MLflow run it logs to."""

    job: dict[str, Any]
    run_id: str


def prepare_image_run(raw_job: Mapping[str, Any]) -> ImageRun | TrainingResult:
    """Start the job's run and log its train and validation rows (see the module docstring);
    the earlier result instead when this DAG run already trained on this data."""
    import mlflow

    check_job(raw_job)
    job = TrainingJob.model_validate(raw_job)
    earlier = reused_result(job)
    if earlier is not None:
        return earlier
    split = load_split(job.data, job.task)
    check_metrics_fit(job.metrics, split.y_train, job.task)
    target = job.data.target
    parts = {"train": split.x_train.assign(**{target: split.y_train.to_numpy()})}
    if split.x_validation is not None:
        parts["validation"] = split.x_validation.assign(**{target: split.y_validation.to_numpy()})
    with training_run(job) as (run, _experiment_id):
        log_training_params(job, split)
        with tempfile.TemporaryDirectory(prefix="airflow-ml-rows-") as scratch:
            for name, rows in parts.items():
                path = Path(scratch) / f"{name}.parquet"
                rows.to_parquet(path, index=False)
                mlflow.log_artifact(str(path), DATA_FOLDER)
    run_id = run.info.run_id
    uris = {f"{n}_uri": f"runs:/{run_id}/{DATA_FOLDER}/{n}.parquet" for n in parts}
    named = job.model_copy(update={"data": job.data.model_copy(update=uris)})
    print(f"rows for {job.image}: {', '.join(f'{n} {len(r)}' for n, r in parts.items())}")
    return ImageRun(named.model_dump(mode="json"), run_id)


def finish_image_run(raw_job: Mapping[str, Any], run_id: str) -> TrainingResult:
    """The model the trainer image logged to ``run_id``, verified and scored on the
    held-out rows; TrainerImageError naming what the contract missed."""
    import mlflow

    job = TrainingJob.model_validate(raw_job)
    image = str(job.image)

    experiment_id = use_experiment(job.tracking_uri, job.experiment, job.artifact_location)
    model = _logged_model(experiment_id, run_id, image)
    _check_metadata(model.model_uri, job)
    split = load_split(job.data, job.task)
    positive = job_positive_class(job, split.y_train)
    with mlflow.start_run(run_id=run_id) as run:
        return scored_result(job, split, (run, experiment_id, model), positive, f"in {image}")


def _logged_model(experiment_id: str, run_id: str, image: str):
    import mlflow

    logged = mlflow.search_logged_models(
        experiment_ids=[experiment_id],
        filter_string=f"source_run_id = '{run_id}' AND name = '{MODEL_NAME}'",
        order_by=[{"field_name": "creation_timestamp", "ascending": False}],
        output_format="list",
    )
    if not logged:
        raise TrainerImageError(
            f"the trainer image {image} finished but logged no MLflow model named "
            f"'{MODEL_NAME}' to run {run_id}: log one with mlflow.<flavor>.log_model(..., "
            f"name='{MODEL_NAME}') inside mlflow.start_run(run_id=$MLFLOW_RUN_ID) ({CONTRACT})"
        )
    return logged[0]


def _check_metadata(model_uri: str, job: TrainingJob) -> None:
    """The model says what it answers, as the gate and serving read it: its task, and for a
    classifier the labels of its probability columns."""
    import mlflow

    metadata = mlflow.models.get_model_info(model_uri).metadata or {}
    task = metadata.get(TASK_KEY)
    if task != job.task:
        raise TrainerImageError(
            f"the model the trainer image logged has metadata {TASK_KEY}={task!r}; the "
            f"pipeline trains {job.task!r}: log it with metadata={{'{TASK_KEY}': "
            f"'{job.task}'}} ({CONTRACT})"
        )
    if task == "classification" and not isinstance(metadata.get(CLASSES_KEY), list):
        raise TrainerImageError(
            f"the classifier the trainer image logged has no metadata {CLASSES_KEY}: the "
            f"labels its answers stand for, e.g. {{'{CLASSES_KEY}': [0, 1]}} ({CONTRACT})"
        )

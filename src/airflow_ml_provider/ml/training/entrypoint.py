"""Training with a team's own function (``training.entrypoint``), in the training process.

The function is imported only here, only from a package the platform allowed
(``[ml_provider] allowed_training_modules``). It gets the typed job
(core.training_job.TrainingJob) and the train — and, with ``data.split.validation_size``,
validation — rows, and returns the fitted model and its MLflow flavor (TrainedModel). The
rest is what every model gets: logged in a flavor that loads without pickle, its digest
recorded, scored on the held-out rows through pyfunc (what the gate and serving ask), per-epoch
history as metric steps, the same result shape. No Airflow imports.
"""

from __future__ import annotations

import time
from typing import Any

from airflow_ml_provider.core.contracts import TrainingResult
from airflow_ml_provider.core.errors import AirflowMlError
from airflow_ml_provider.core.training_job import MODEL_FLAVORS, TrainedModel, TrainingJob
from airflow_ml_provider.ml.data.snapshot_reads import load_split
from airflow_ml_provider.ml.evaluation.pyfunc_view import CLASSES_KEY, TASK_KEY
from airflow_ml_provider.ml.evaluation.scoring import check_metrics_fit, job_positive_class, score
from airflow_ml_provider.ml.integrity.allowed_code import resolve_entrypoint
from airflow_ml_provider.ml.training.runs import (
    RESULT_ARTIFACT,
    log_training_params,
    reused_result,
    training_result,
    training_run,
)


class EntrypointError(AirflowMlError, ValueError):
    """The team's function returned something that cannot be logged as a model."""


def train_with_entrypoint(job: TrainingJob) -> TrainingResult:
    """Call the job's entrypoint on the train (and validation) rows; log, verify and score
    what it returns (see the module docstring)."""
    import mlflow

    fit = resolve_entrypoint(str(job.entrypoint), job.allowed_training_modules)
    earlier = reused_result(job)
    if earlier is not None:
        return earlier
    split = load_split(job.data, job.task)
    check_metrics_fit(job.metrics, split.y_train, job.task)
    positive = job_positive_class(job, split.y_train)
    target = job.data.target
    train = split.x_train.assign(**{target: split.y_train.to_numpy()})
    validation = None
    if split.x_validation is not None:
        validation = split.x_validation.assign(**{target: split.y_validation.to_numpy()})
    with training_run(job) as (run, experiment_id):
        log_training_params(job, split)
        started = time.monotonic()
        trained = as_trained_model(fit(job, train, validation), job.entrypoint)
        fit_seconds = time.monotonic() - started
        for step, values in enumerate(trained.history):
            mlflow.log_metrics({k: float(v) for k, v in values.items()}, step=step)
        if trained.params:
            mlflow.log_params({f"entrypoint.{k}": v for k, v in trained.params.items()})
        info = log_trained_model(trained, split, job)
        mlflow.log_metric("fit_seconds", fit_seconds)
        extra: dict[str, Any] = {"epochs": len(trained.history)} if trained.history else {}
        return scored_result(
            job,
            split,
            (run, experiment_id, info),
            positive,
            f"{job.entrypoint} ({trained.flavor}) in {fit_seconds:.2f}s",
            **extra,
        )


def scored_result(
    job: TrainingJob, split, logged: tuple[Any, str, Any], positive: Any, trained: str, **extra
) -> TrainingResult:
    """A team's logged model (``logged``: the active run, its experiment id and the model's
    info, anything with ``model_uri``) finished as every model is: its digest recorded,
    loaded verified through pyfunc — as the gate and serving will — and scored on the
    held-out rows; the result logged with the run (``trained`` says what, in the log)."""
    import mlflow

    from airflow_ml_provider.ml.evaluation.evaluate import load_model
    from airflow_ml_provider.ml.integrity.model_files import record_digest

    run, experiment_id, info = logged
    record_digest(info.model_uri)
    answering = load_model(info.model_uri)
    metrics = score(answering, split.x_test, split.y_test, job.metrics, positive=positive)
    mlflow.log_metrics(metrics)
    print(f"trained {trained}; held-out metrics: {metrics}")
    if positive is not None:
        extra["positive_class"] = positive
    result = training_result(run, experiment_id, info, metrics, split, **extra)
    mlflow.log_dict(dict(result), RESULT_ARTIFACT)
    return result


def as_trained_model(returned: Any, entrypoint: object) -> TrainedModel:
    """What the function returned as a TrainedModel: one as is, or a bare scikit-learn
    estimator; anything else is an EntrypointError naming the function."""
    if isinstance(returned, TrainedModel):
        trained = returned
    elif hasattr(returned, "fit") and hasattr(returned, "predict"):
        trained = TrainedModel(model=returned)
    else:
        raise EntrypointError(
            f"training.entrypoint {entrypoint} returned {type(returned).__name__}; expected a "
            "TrainedModel(model=..., flavor=...) (airflow_ml_provider.core.training_job) or a "
            "fitted scikit-learn estimator"
        )
    if trained.flavor not in MODEL_FLAVORS:
        raise EntrypointError(
            f"training.entrypoint {entrypoint}: flavor {trained.flavor!r} is not one of "
            f"{', '.join(MODEL_FLAVORS)}"
        )
    return trained


def log_trained_model(trained: TrainedModel, split, job: TrainingJob):
    """Log the model in its flavor, in a format that loads without pickle, with the raw-row
    signature serving checks and what the gate needs to read its answers (task, classes)."""
    import mlflow
    from mlflow.models import infer_signature

    example = split.x_train.head(5)
    metadata: dict[str, Any] = {TASK_KEY: job.task}
    if job.task == "classification":
        classes = trained.classes
        if classes is None:
            classes = sorted(split.y_train.unique().tolist())
        metadata[CLASSES_KEY] = [_plain(label) for label in classes]
    common = {"name": "model", "metadata": metadata}
    if trained.flavor == "sklearn":
        from airflow_ml_provider.ml.training.model_logging import log_sklearn_model

        return log_sklearn_model(trained.model, example, job, metadata=metadata)
    if trained.flavor == "pytorch":
        return _log_torch_rows_model(trained.model, example, metadata, job)
    flavor = getattr(mlflow, trained.flavor)
    signature = infer_signature(example, trained.model.predict(example))
    return flavor.log_model(trained.model, signature=signature, input_example=example, **common)


def _log_torch_rows_model(network, example, metadata: dict[str, Any], job: TrainingJob):
    """The network saved as pt2 (torch.export, no pickle) inside a models-from-code pyfunc
    (ml.torch_rows_model) that answers raw rows by column name, as every other model does."""
    import tempfile
    from pathlib import Path

    import mlflow
    import numpy as np
    import torch
    from mlflow.models import infer_signature

    from airflow_ml_provider.ml import torch_rows_model
    from airflow_ml_provider.ml.training.model_logging import MODEL_MODULES, raw_row_signature
    from airflow_ml_provider.ml.training.tracking import model_requirements, model_written_whole

    numbers = example.to_numpy(dtype=np.float32)
    with torch.no_grad():
        answers = network(torch.from_numpy(numbers)).numpy()
    with tempfile.TemporaryDirectory(prefix="airflow-ml-torch-") as scratch:
        saved = Path(scratch) / torch_rows_model.NETWORK
        mlflow.pytorch.save_model(
            network, str(saved), input_example=numbers, serialization_format="pt2"
        )
        with model_written_whole():
            return mlflow.pyfunc.log_model(
                name="model",
                python_model=torch_rows_model.__file__,
                artifacts={torch_rows_model.NETWORK: str(saved)},
                model_config={"columns": list(example.columns)},
                signature=raw_row_signature(infer_signature(example, answers)),
                input_example=example,
                metadata=metadata,
                pip_requirements=model_requirements(
                    [*MODEL_MODULES, "torch", "mlflow", str(job.entrypoint).partition(":")[0]],
                    with_provider=True,
                ),
            )


def _plain(label: Any) -> Any:
    """A label as JSON (numpy scalars to Python's)."""
    return label.item() if hasattr(label, "item") else label

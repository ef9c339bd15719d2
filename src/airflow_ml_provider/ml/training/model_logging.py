"""Logging a fitted model to the active MLflow run the way every load path can verify it:
scikit-learn models with skops and only the types they hold, a signature that takes raw rows,
the requirements serving installs. Shared by one-model training (ml.train), partitioned
models (ml.partitions.assembly) and training entrypoints (ml.training.entrypoint). No Airflow
imports.
"""

from __future__ import annotations

from typing import Any

from airflow_ml_provider.core.training_job import TrainingJob
from airflow_ml_provider.ml.features.preprocessing import extra_modules
from airflow_ml_provider.ml.integrity.model_files import check_trusted_types, job_trust
from airflow_ml_provider.ml.integrity.skops_io import skops_io
from airflow_ml_provider.ml.training.tracking import (
    installed_distributions,
    model_requirements,
    model_written_whole,
)


def read_once_per_process() -> None:
    """Read what logging a model reads once per process and keeps: skops' scan of every loaded
    module (~1 s) and the installed distributions, for the model's requirements (~0.7 s). A
    process that forks jobs calls it first, so every fork inherits both."""
    skops_io()
    installed_distributions()


def log_sklearn_model(model, example, job: TrainingJob, metadata: dict[str, Any] | None = None):
    """Log a fitted scikit-learn model with skops, trusting only the types it holds, with
    the raw-row signature and the requirements serving installs; returns MLflow's info."""
    import mlflow
    from mlflow.models import infer_signature

    signature = raw_row_signature(infer_signature(example, model.predict(example)))
    own = [job.estimator or str(job.entrypoint).partition(":")[0]]
    with model_written_whole():
        return mlflow.sklearn.log_model(
            model,
            name="model",
            signature=signature,
            input_example=example,
            metadata=metadata,
            skops_trusted_types=_types_we_created(model, job),
            pip_requirements=model_requirements(
                MODEL_MODULES + own + extra_modules(job), with_provider=True
            ),
        )


MODEL_MODULES = ["sklearn", "skops", "pandas", "numpy"]
"""What every logged model needs installed, besides its estimator's own package."""


def raw_row_signature(signature):
    """The signature with integer and datetime input columns typed ``any``: MLflow refuses
    a missing value (NaN) in a column typed long (and a column typed double refuses
    integers), and dates sent as JSON arrive as text, which a column typed datetime refuses.
    The model imputes missing values and parses dates itself. Every column stays required."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import AnyType, ColSpec, DataType, Schema

    lenient = (DataType.integer, DataType.long, DataType.datetime)
    columns = [
        ColSpec(AnyType(), column.name, required=column.required)
        if column.type in lenient
        else column
        for column in signature.inputs.inputs
    ]
    return ModelSignature(
        inputs=Schema(columns), outputs=signature.outputs, params=signature.params
    )


def _types_we_created(estimator: Any, job: TrainingJob) -> list[str]:
    """The skops types of the estimator this process just fitted.

    skops refuses to load types it does not know are safe; this model was built here from
    an allow-listed estimator, so its own types are trusted — nothing loaded from elsewhere.
    """
    skops = skops_io()
    types = skops.get_untrusted_types(data=skops.dumps(estimator))
    # What every load checks: refused here, before it is logged.
    check_trusted_types(types, job_trust(job))
    return types

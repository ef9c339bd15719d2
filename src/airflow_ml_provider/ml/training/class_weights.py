"""Class weights for imbalanced targets (``training.class_weight``): scikit-learn's
``class_weight="balanced"`` when the estimator takes it and the primary metric judges the
predicted classes of a rare class. No Airflow imports: this runs in the training process.
"""

from __future__ import annotations

from airflow_ml_provider.core.training_job import TrainingJob

BALANCED_METRICS = ("f1", "recall", "balanced_accuracy", "f1_macro")
"""Primary metrics that count how the rare classes are predicted: weighting helps them.
Ranking and probability metrics (roc_auc, average_precision, log_loss) and accuracy are
not helped, and weighting distorts predicted probabilities, so ``auto`` leaves them alone."""
IMBALANCE_RATIO = 0.5
"""Classes are imbalanced when the rarest has fewer rows than this share of the commonest."""


def class_weight_for(job: TrainingJob, y_train) -> str | None:
    """``"balanced"`` or None for a training job: ``training.class_weight`` ``balanced``;
    ``auto`` (default) when the classes of ``y_train`` are imbalanced and the primary metric
    is one of BALANCED_METRICS; never when the YAML's params set ``class_weight``."""
    import pandas as pd

    setting = job.class_weight or "auto"
    if job.task != "classification" or setting == "none":
        return None
    if "class_weight" in job.params:
        return None  # the YAML decided
    if setting == "balanced":
        return "balanced"
    counts = pd.Series(y_train).value_counts()
    imbalanced = len(counts) > 1 and counts.min() < IMBALANCE_RATIO * counts.max()
    return "balanced" if imbalanced and job.metrics[0] in BALANCED_METRICS else None


def with_class_weight(job: TrainingJob, y_train) -> TrainingJob:
    """The job with ``class_weight`` in its params when ``class_weight_for`` asks for it and
    the estimator has that parameter (printed to the task log: it changes the model)."""
    from airflow_ml_provider.ml.features.estimators import import_estimator

    weight = class_weight_for(job, y_train)
    if weight is None:
        return job
    import inspect

    estimator = import_estimator(job.estimator_path, tuple(job.allowed_estimator_modules))
    if "class_weight" not in inspect.signature(estimator).parameters:
        return job
    print(
        f"class_weight: {weight} (training.class_weight {job.class_weight or 'auto'}; "
        f"primary metric {job.metrics[0]})"
    )
    return job.model_copy(update={"params": {**job.params, "class_weight": weight}})

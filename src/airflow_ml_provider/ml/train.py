"""Training entrypoint: ``python -m airflow_ml_provider.ml.train --job job.json``.

The same code runs as a local subprocess (local runner) and inside the training pod.
The job is JSON (never a pickle); the result is JSON written to ``job["output"]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from airflow_ml_provider.core.contracts import TrainingResult
from airflow_ml_provider.ml.dataset import load_split
from airflow_ml_provider.ml.estimators import EstimatorError
from airflow_ml_provider.ml.feature_report import feature_table, log_feature_plan
from airflow_ml_provider.ml.integrity import record_digest
from airflow_ml_provider.ml.preprocessing import build_model, custom_modules, model_columns
from airflow_ml_provider.ml.provenance import (
    JOB_ARTIFACT,
    REPRODUCES_TAG,
    public_job,
    reproducibility_tags,
)
from airflow_ml_provider.ml.scoring import check_metrics_fit, score
from airflow_ml_provider.ml.tracking import model_requirements, model_written_whole, use_experiment


def train(job: dict[str, Any]) -> TrainingResult:
    """Fit the estimator on the train split, score it on the held-out rows, log to MLflow.

    With ``job["search"]`` the estimator is wrapped in GridSearchCV / RandomizedSearchCV
    (cross-validated on the train split only) and the refitted best estimator is the model.
    Every run carries reproducibility tags and the job itself as ``job.json``, which is
    what ``airflow-ml reproduce RUN_ID`` re-runs.
    """
    if job.get("partitions"):
        from airflow_ml_provider.ml.partitions import train_partitions

        return train_partitions(job)
    import mlflow
    from mlflow.models import infer_signature

    earlier = finished_result(job)
    if earlier is not None:
        print(f"this DAG run already trained this model on this data: run {earlier['run_id']}")
        return earlier
    split = load_split(job["data"], job["task"])
    model, plans = build_model(job, split.x_train)
    check_metrics_fit(job["metrics"], split.y_train, job["task"])
    columns = model_columns(plans)
    x_train, x_test = split.x_train[columns], split.x_test[columns]
    print("features:\n" + feature_table(plans))
    search = job.get("search")
    search_cv = None
    if search:
        from airflow_ml_provider.ml.search import build_search

        search_cv = build_search(
            model,
            search,
            metrics=job["metrics"],
            seed=int(job["data"]["split"]["seed"]),
            estimator_path=job["estimator"],
        )
    with training_run(job) as (run, experiment_id):
        log_training_params(job, split)
        started = time.monotonic()
        search_result = None
        if search_cv is not None:
            from airflow_ml_provider.ml.search import log_search, scoring_metric

            search_cv.fit(x_train, split.y_train)
            model = search_cv.best_estimator_
            search_result = log_search(search_cv, search, scoring_metric(search, job["metrics"]))
        else:
            model.fit(x_train, split.y_train)
        fit_seconds = time.monotonic() - started
        metrics = score(model, x_test, split.y_test, job["metrics"])
        mlflow.log_metrics({**metrics, "fit_seconds": fit_seconds})
        log_feature_plan(plans)
        example = x_train.head(5)
        signature = raw_row_signature(infer_signature(example, model.predict(example)))
        with model_written_whole():
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=signature,
                input_example=example,
                skops_trusted_types=_types_we_created(model),
                pip_requirements=model_requirements(
                    MODEL_MODULES + [job["estimator"], *custom_modules(job)], with_provider=True
                ),
            )
        record_digest(info.model_uri)
        print(f"trained {job['estimator']} in {fit_seconds:.2f}s; held-out metrics: {metrics}")
        extra = {"search": search_result} if search_result else {}
        result = training_result(run, experiment_id, info, metrics, split, **extra)
        mlflow.log_dict(result, RESULT_ARTIFACT)
        return result


RESULT_ARTIFACT = "airflow_ml/result.json"
"""The result a finished training run returned; a re-run of the same task returns it."""
_SAME_WORK = ("airflow_ml.dag_run_id", "airflow_ml.config_hash", "airflow_ml.data_sha256")


def finished_result(job: dict[str, Any]) -> dict[str, Any] | None:
    """The result of a FINISHED run of the same DAG run, configuration and data (a cleared
    or retried train_model after training succeeded), or None: then it trains. Never for a
    reproduction (``airflow-ml reproduce`` exists to train again)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    tags = job.get("tags") or {}
    if REPRODUCES_TAG in tags or not all(tags.get(key) for key in _SAME_WORK):
        return None
    experiment_id = use_experiment(
        job["tracking_uri"], job["experiment_name"], job.get("artifact_location")
    )
    same = " and ".join(f"tags.`{key}` = '{tags[key]}'" for key in _SAME_WORK)
    runs = mlflow.search_runs(
        experiment_ids=[experiment_id],
        filter_string=f"{same} and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        output_format="list",
    )
    for run in runs:
        try:
            return mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/{RESULT_ARTIFACT}")
        except (MlflowException, OSError):
            continue  # finished before results were recorded: not reusable
    return None


MODEL_MODULES = ["sklearn", "skops", "pandas", "numpy"]
"""What every logged model needs installed, besides its estimator's own package."""


def log_training_params(job: dict[str, Any], split, **extra: Any) -> None:
    """The estimator, its params, the data hash and split sizes as the run's params."""
    import mlflow

    mlflow.log_params(
        {
            "estimator": job["estimator"],
            **(job.get("params") or {}),
            **extra,
            "data.rows_train": len(split.x_train),
            "data.rows_test": len(split.x_test),
            "data.sha256": job["data"].get("sha256", ""),
        }
    )


def training_result(
    run, experiment_id: str, info, metrics: dict[str, float], split, **extra: Any
) -> TrainingResult:
    """What a training run returns to the DAG (the same shape for every kind of model)."""
    return {
        "run_id": run.info.run_id,
        "experiment_id": experiment_id,
        "model_uri": info.model_uri,
        "metrics": metrics,
        "rows_train": len(split.x_train),
        "rows_test": len(split.x_test),
        **extra,
    }


@contextmanager
def training_run(job: dict[str, Any]) -> Iterator[tuple[Any, str]]:
    """The job's MLflow run, started with its tags and reproducibility tags, ``job.json``
    and the validation record logged; yields ``(run, experiment_id)``."""
    import mlflow

    experiment_id = use_experiment(
        job["tracking_uri"], job["experiment_name"], job.get("artifact_location")
    )
    tags = {str(k): str(v) for k, v in (job.get("tags") or {}).items()}
    tags.update(reproducibility_tags(job, tags))
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=job.get("run_name"), tags=tags
    ) as run:
        mlflow.log_dict(public_job(job), JOB_ARTIFACT)
        log_validation(job.get("validation"))
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
        from airflow_ml_provider.ml.drift import format_drift_table

        mlflow.log_dict(drift, "validation/drift.json")
        mlflow.log_text(format_drift_table(drift), "validation/drift.txt")
        tags["airflow_ml.drift"] = "true" if drift.get("drift") else "false"
        mlflow.log_metric("drift.drifted_share", float(drift.get("drifted_share") or 0.0))
    if validation.get("retrain_reason"):
        tags["airflow_ml.retrain_reason"] = validation["retrain_reason"]
    if validation.get("data_docs_uri"):
        tags["airflow_ml.data_docs"] = validation["data_docs_uri"]
    mlflow.set_tags(tags)


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


def _types_we_created(estimator: Any) -> list[str]:
    """The skops types of the estimator this process just fitted.

    skops refuses to load types it does not know are safe; this model was built here from
    an allow-listed estimator, so its own types are trusted — nothing loaded from elsewhere.
    """
    import skops.io

    return skops.io.get_untrusted_types(data=skops.io.dumps(estimator))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airflow_ml_provider.ml.train")
    parser.add_argument("--job", required=True, help="path of the job JSON file")
    args = parser.parse_args(argv)
    job = json.loads(Path(args.job).read_text())
    try:
        result = train(job)
    except (EstimatorError, ValueError, KeyError, OSError) as exc:
        # A problem with the job's inputs or a full store: one readable line, no traceback.
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    output = job.get("output")
    if output:
        Path(output).write_text(json.dumps(result))
    else:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

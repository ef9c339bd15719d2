"""Assemble a partitioned training into ONE MLflow run and model (no Airflow imports).

The chunks' sub-model files and the fallback become the artifacts of a models-from-code
pyfunc (``ml/router_model.py``); the per-partition table is logged as
``partitions/metrics.csv``; the overall held-out metrics are the router's: the answers
its sub-models gave their held-out rows in training (``ml/partitions/answers.py``; the saved
files are those fitted models), each row answered by the model the router sends it to.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airflow_ml_provider.core.contracts import TrainingResult
from airflow_ml_provider.core.errors import AirflowMlError
from airflow_ml_provider.core.training_job import TrainingJob
from airflow_ml_provider.ml.data.tables import records_csv
from airflow_ml_provider.ml.integrity.model_files import record_digest
from airflow_ml_provider.ml.partitioned import PARTITION_INDEX
from airflow_ml_provider.ml.partitions.chunks import FAILED, FALLBACK, SKIPPED, TRAINED, model_files

METRICS_TABLE = "partitions/metrics.csv"
ROUTER_CODE = Path(__file__).parent.parent / "router_model.py"


class PartitionTrainingFailed(AirflowMlError, RuntimeError):
    """Too few partitions trained (min_success_ratio), or the fallback model is missing."""


def partition_table(plan: dict[str, Any], results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per partition of the plan: trained, skipped (with the reason) or failed.

    Partitions of a chunk whose task produced no result (its pod or process died after all
    retries) are failed with that reason.
    """
    reported = {
        record["partition"]: record
        for result in results
        if result.get("chunk") != FALLBACK
        for record in result["partitions"]
    }
    table = list(plan["skipped"])
    for index, keys in enumerate(plan["chunks"]):
        for key in keys:
            table.append(
                reported.get(key)
                or {
                    "partition": key,
                    "status": FAILED,
                    "reason": f"the training task of chunk {index} failed",
                }
            )
    return sorted(table, key=lambda record: record["partition"])


def check_success(table: list[dict[str, Any]], min_success_ratio: float) -> dict[str, float | int]:
    """Counts and the success ratio (trained / trainable); raise when below the minimum."""
    counts = {status: 0 for status in (TRAINED, SKIPPED, FAILED)}
    for record in table:
        counts[record["status"]] += 1
    attempted = counts[TRAINED] + counts[FAILED]
    ratio = counts[TRAINED] / attempted if attempted else 0.0
    if counts[TRAINED] == 0 or ratio < min_success_ratio:
        failed = [r for r in table if r["status"] == FAILED]
        lines = [f"  {r['partition']}: {r.get('reason', '')}" for r in failed[:20]]
        more = f"\n  ... and {len(failed) - 20} more" if len(failed) > 20 else ""
        raise PartitionTrainingFailed(
            f"{counts[TRAINED]} of {attempted} trainable partitions trained "
            f"(success ratio {ratio:.3f} < min_success_ratio {min_success_ratio}); "
            f"{counts[SKIPPED]} skipped. Failed partitions:\n" + "\n".join(lines) + more
        )
    return {**counts, "success_ratio": ratio}


def _csv(table: list[dict[str, Any]], metrics: list[str]) -> str:
    fields = [
        "partition",
        "status",
        "reason",
        "rows_train",
        "rows_test",
        "fit_seconds",
        *metrics,
        "warning",
    ]
    return records_csv([{**r, **(r.get("metrics") or {})} for r in table], fields)


def _router_responses(model_uri: str, fallback, results, split):
    """The router's answers for the held-out rows: those its sub-models gave in training
    (recorded beside their files, the same fitted models that were saved), else — results
    of an older release — the logged router loaded and asked once."""
    import mlflow

    from airflow_ml_provider.ml.evaluation.scoring import ResponsesByPosition
    from airflow_ml_provider.ml.partitions.answers import router_answers

    chunks = [r for r in results if r.get("chunk") != FALLBACK]
    recorded = router_answers(fallback, chunks, split.test_positions)
    if recorded is not None:
        return ResponsesByPosition.recorded(*recorded)
    router = mlflow.pyfunc.load_model(model_uri).unwrap_python_model().router
    return ResponsesByPosition(router, split.x_test)  # one routed pass, every metric


def _example_positions(partition_values, rows: int = 5):
    """Positions of ``rows`` held-out rows, taken partition by partition (in the order the
    partitions first appear): MLflow's check of the input example when the model is logged,
    the deploy smoke test and a model server's first answer to it then parse the model
    files of one or two partitions, not of every partition five random rows fall in."""
    import numpy as np
    import pandas as pd

    codes, _ = pd.factorize(partition_values, use_na_sentinel=False)
    return np.argsort(codes, kind="stable")[:rows]


def _artifacts(results: list[dict[str, Any]], folder: Path) -> dict[str, str]:
    """The router's model files by artifact name: ``fallback``, and ``chunk-NNNNN`` (with
    ``-K`` for the K-th file when a chunk's processes wrote one each) — and, when every chunk
    said which partitions each of its files holds, the index (``PARTITION_INDEX``, written
    in ``folder``) that lets the router load a file only when its partitions are asked for."""
    artifacts: dict[str, str] = {}
    index: dict[str, list[str]] | None = {}
    for result in results:
        files = model_files(result)
        if result.get("chunk") == FALLBACK:
            artifacts.update({FALLBACK: files[0]} if files else {})
            continue
        name = f"chunk-{result['chunk']:05d}"
        held = result.get("file_partitions")
        if held is None or len(held) != len(files):
            index = None  # a result of an older release: the router loads every file
        for position, uri in enumerate(files):
            artifact = name if len(files) == 1 else f"{name}-{position}"
            artifacts[artifact] = uri
            if index is not None and held is not None:
                index[artifact] = list(held[position])
    if index is not None:
        path = folder / f"{PARTITION_INDEX}.json"
        path.write_text(json.dumps(index), encoding="utf-8")
        artifacts[PARTITION_INDEX] = str(path)
    return artifacts


def partition_warnings(table: list[dict[str, Any]]) -> list[str]:
    """One run warning for the partition models whose fit did not converge: how many, and
    the first one's partition and message (each is in the metrics table's warning column)."""
    warned = [r for r in table if r.get("warning")]
    if not warned:
        return []
    trained = sum(1 for r in table if r["status"] == TRAINED)
    first = warned[0]
    line = (
        f"{len(warned)} of {trained} partition models: {first['warning']} "
        f"(e.g. partition {first['partition']!r}; see the warning column of {METRICS_TABLE})"
    )
    print(f"warning: {line}")
    return [line]


def checked_results(
    plan: dict[str, Any], results: list[dict[str, Any]], min_success_ratio: float | None
) -> tuple[list[dict[str, Any]], dict[str, float | int], dict[str, Any]]:
    """The partition table, its counts and the fallback's result — or PartitionTrainingFailed
    when too few partitions trained or the fallback model is missing."""
    table = partition_table(plan, results)
    counts = check_success(table, 1.0 if min_success_ratio is None else min_success_ratio)
    fallback = next((r for r in results if r.get("chunk") == FALLBACK), None)
    if fallback is None or not fallback.get("models_uri"):
        raise PartitionTrainingFailed(
            "the fallback model was not trained (its task failed); rows of unseen, skipped "
            "or failed partitions could not be predicted"
        )
    return table, counts, fallback


def assemble(
    raw_job: Mapping[str, Any], plan: dict[str, Any], results: list[dict[str, Any]]
) -> TrainingResult:
    """Log the partitioned model as one MLflow run; return what train_model would return
    (``raw_job``: the job as the operator builds it, read through its contract)."""
    import mlflow
    from mlflow.models import infer_signature

    from airflow_ml_provider.ml.data.snapshot_reads import load_split
    from airflow_ml_provider.ml.evaluation.scoring import POSITIVE_TAG, job_positive_class, score
    from airflow_ml_provider.ml.features.preprocessing import extra_modules
    from airflow_ml_provider.ml.partitions.answers import log_answers
    from airflow_ml_provider.ml.training.model_logging import MODEL_MODULES, raw_row_signature
    from airflow_ml_provider.ml.training.runs import (
        WARNINGS_TAG,
        log_training_params,
        training_result,
        training_run,
    )
    from airflow_ml_provider.ml.training.tracking import model_requirements, model_written_whole

    job = TrainingJob.model_validate(raw_job)
    table, counts, fallback = checked_results(plan, results, job.min_success_ratio)
    trusted = sorted({t for r in results for t in r.get("trusted_types") or []})
    config = {
        "partition_by": plan["partition_by"],
        "features": plan["features"],
        "task": job.task,
        "trusted_types": trusted,
    }
    split = load_split(job.data, job.task, with_train=False)  # scored on held-out rows
    fit_seconds = sum(r.get("fit_seconds") or 0.0 for r in results)
    with training_run(job) as (run, experiment_id):
        log_training_params(job, split, partition_by=plan["partition_by"])
        mlflow.log_text(_csv(table, job.metrics), METRICS_TABLE)
        example_positions = _example_positions(split.x_test[plan["partition_by"]])
        example = split.x_test.iloc[example_positions]
        with model_written_whole(), tempfile.TemporaryDirectory() as folder:
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(ROUTER_CODE),
                artifacts=_artifacts(results, Path(folder)),
                model_config=config,
                input_example=example,
                # Outputs typed like the labels (what the router predicts): model servers
                # such as MLServer's MLflow runtime refuse a signature without outputs.
                signature=raw_row_signature(
                    infer_signature(example, split.y_test.iloc[example_positions].to_numpy())
                ),
                pip_requirements=model_requirements(
                    MODEL_MODULES + [job.estimator_path, *extra_modules(job)], with_provider=True
                ),
            )
        record_digest(info.model_uri)
        answers = _router_responses(info.model_uri, fallback, results, split)
        positive = job_positive_class(job, split.y_train)
        if positive is not None:
            mlflow.set_tag(POSITIVE_TAG, json.dumps(positive))
        labels = split.y_test.to_numpy()
        metrics = score(answers, answers.all_rows(), labels, job.metrics, positive=positive)
        recorded = log_answers(
            answers.answers, getattr(answers, "classes_", None), job.data.model_dump(mode="json")
        )
        mlflow.log_metrics(
            {
                **metrics,
                "fit_seconds": fit_seconds,
                "partitions.trained": counts[TRAINED],
                "partitions.skipped": counts[SKIPPED],
                "partitions.failed": counts[FAILED],
                "partitions.success_ratio": counts["success_ratio"],
            }
        )
        mlflow.set_tag("airflow_ml.partition_by", plan["partition_by"])
        print(
            f"partitioned model: {counts[TRAINED]} trained, {counts[SKIPPED]} skipped, "
            f"{counts[FAILED]} failed; held-out metrics {metrics}"
        )
        trouble = partition_warnings(table)
        if trouble:
            mlflow.set_tag(WARNINGS_TAG, "; ".join(trouble)[:5000])
        partitions = {
            **counts,
            "fit_seconds": fit_seconds,
            "table": METRICS_TABLE,
            "failed_partitions": [r for r in table if r["status"] == FAILED][:50],
        }
        return training_result(
            run,
            experiment_id,
            info,
            metrics,
            split,
            partitions=partitions,
            heldout_answers=recorded,
            **({"warnings": trouble} if trouble else {}),
        )

"""Step entrypoint: ``python -m airflow_ml_provider.ml.step --job job.json``.

A heavy step's work in a process of its own (a pod with its own resources, see
core.step_job): the job is JSON, read through its step's contract; the result is JSON
written to the job's ``output`` (or printed). No Airflow imports.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from airflow_ml_provider.core.contracts import GateDecision, TrainingResult
from airflow_ml_provider.core.errors import AirflowMlError
from airflow_ml_provider.core.step_job import (
    AssembleModelJob,
    EvaluateModelJob,
    ValidateDataJob,
    read_step_job,
)
from airflow_ml_provider.ml.job_main import error_line, job_main, with_store_errors


def run_step(raw: Any) -> dict[str, Any]:
    """Do the work ``raw`` (a step job) names; its small JSON result."""
    job = read_step_job(raw)
    if isinstance(job, AssembleModelJob):
        return dict(assemble_model(job))
    if isinstance(job, EvaluateModelJob):
        return dict(evaluate_model(job))
    if isinstance(job, ValidateDataJob):
        from airflow_ml_provider.ml.data.validate_step import validate_snapshot

        return validate_snapshot(job)
    from airflow_ml_provider.ml.partitions.plan_files import write_plan

    plan = write_plan(job)
    return {
        "plan_file": job.plan_file,
        "partitions": plan["partitions"],
        "trainable": plan["trainable"],
        "chunks": len(plan["chunks"]),
    }


def assemble_model(job: AssembleModelJob) -> TrainingResult:
    """The chunks' results assembled into one run and router model (ml.partitions.assembly),
    the plan and results read from the job's inputs file."""
    import fsspec

    from airflow_ml_provider.ml.partitions.assembly import assemble

    with fsspec.open(job.inputs, "r") as stream:
        inputs = json.load(stream)
    return assemble(job.training.model_dump(mode="json"), inputs["plan"], inputs["results"])


def evaluate_model(job: EvaluateModelJob) -> GateDecision:
    """The gate (ml.judge), logged to the MLflow server of the environment."""
    from mlflow import MlflowClient

    from airflow_ml_provider.ml.judge import judge

    return judge(job, MlflowClient())


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    return job_main(
        "airflow_ml_provider.ml.step",
        run_step,
        # the job's inputs, too few partitions trained, an unreachable store
        with_store_errors(AirflowMlError, ValueError, KeyError, OSError),
        error_line,
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())

"""Step entrypoint: ``python -m airflow_ml_provider.ml.step --job job.json``.

A heavy step's work in a process of its own (a pod with its own resources, see
core.step_job): the job is JSON, read through its step's contract; the result is JSON
written to the job's ``output`` (or printed). No Airflow imports.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from airflow_ml_provider.core.step_job import read_step_job
from airflow_ml_provider.ml.job_main import job_main


def run_step(raw: Any) -> dict[str, Any]:
    """Do the work ``raw`` (a step job) names; its small JSON result."""
    job = read_step_job(raw)
    from airflow_ml_provider.ml.partitions.plan_files import write_plan

    plan = write_plan(job)
    return {
        "plan_file": job.plan_file,
        "partitions": plan["partitions"],
        "trainable": plan["trainable"],
        "chunks": len(plan["chunks"]),
    }


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    return job_main(
        "airflow_ml_provider.ml.step",
        run_step,
        (ValueError, KeyError, OSError),  # the job's inputs, an unreachable store
        lambda exc: f"{type(exc).__name__}: {exc}",
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())

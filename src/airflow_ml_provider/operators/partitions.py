"""Partitioned training around the training runners: plan the fan-out, assemble the result.

plan_partitions → train_partitions (the training runner, mapped over chunks) → assemble_model.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from airflow.sdk import BaseOperator, ObjectStoragePath
from airflow.sdk.exceptions import AirflowException

from airflow_ml_provider.core.contracts import Snapshot, TrainingResult
from airflow_ml_provider.core.defaults import DEFAULT_SPLIT
from airflow_ml_provider.core.step_job import PlanPartitionsJob, chunk_file_name
from airflow_ml_provider.core.training_job import JobPartitions
from airflow_ml_provider.operators.training import TrainingJobOperator

PLAN_XCOM = "plan"


def _plan_key(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


class PlanPartitionsOperator(BaseOperator):
    """List the partitions of a snapshot and cut the trainable ones into chunks.

    Splits the snapshot into the same train/held-out rows every step uses, skips partitions
    with fewer than ``min_partition_rows`` training rows (or a single class) with a reason,
    and writes each chunk of ``partitions_per_task`` partitions to
    ``<snapshot folder>/partitions/<plan key>/chunk-NNNNN.parquet``. The plan key hashes the
    data and every setting, so a retry or a later run on the same data reuses the files.

    Returns the list the training task maps over: one item per chunk plus one for the
    fallback model, each ``{chunk, uri, partition_by, features, output, processes}`` (the
    fallback's with ``max_rows``). The plan itself (partitions, skipped ones with reasons,
    chunks) is XCom ``plan``.

    :param snapshot: snapshot_data's result (a Snapshot; templated, usually an XComArg).
    :param target: the label column.
    :param partition_by: the column whose values are the partitions.
    :param task: ``classification`` or ``regression``.
    :param features: the input columns (every column but the target when None).
    :param split: ``test_size``, ``seed``, ``stratify`` (the same split as the gate's).
    :param min_partition_rows: partitions with fewer training rows are skipped.
    :param partitions_per_task: partitions per chunk, i.e. per training task.
    :param processes_per_task: processes a training task fits its partitions with.
    :param fallback_rows: the most training rows the fallback model is fitted on (a seeded
        sample; None: all).
    """

    template_fields: tuple[str, ...] = ("snapshot",)
    ui_color = "#eef7e6"

    def __init__(
        self,
        *,
        snapshot: Snapshot | Any,
        target: str,
        partition_by: str,
        task: str,
        features: list[str] | None = None,
        split: dict[str, Any] | None = None,
        min_partition_rows: int = 50,
        partitions_per_task: int = 50,
        processes_per_task: int = 1,
        fallback_rows: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.snapshot = snapshot
        self.target = target
        self.partition_by = partition_by
        self.task = task
        self.features = features
        self.split = split or dict(DEFAULT_SPLIT)
        self.min_partition_rows = min_partition_rows
        self.partitions_per_task = partitions_per_task
        self.processes_per_task = processes_per_task
        self.fallback_rows = fallback_rows

    def plan_job(self) -> PlanPartitionsJob:
        """This task's work as a step job; its folder is keyed by the data and every setting,
        so a retry or a later run on the same data reuses the files."""
        if self.snapshot.get("format", "parquet") != "parquet":
            raise AirflowException(
                f"plan_partitions reads a parquet snapshot (snapshot_data writes one), got "
                f"format {self.snapshot['format']!r}"
            )
        settings = {
            "sha256": self.snapshot.get("sha256") or self.snapshot["uri"],
            "target": self.target,
            "partition_by": self.partition_by,
            "task": self.task,
            "features": self.features,
            "split": self.split,
            "min_partition_rows": self.min_partition_rows,
            "partitions_per_task": self.partitions_per_task,
        }
        folder = ObjectStoragePath(self.snapshot["uri"]).parent / "partitions" / _plan_key(settings)
        arguments = {k: v for k, v in settings.items() if k != "sha256"}
        return PlanPartitionsJob(snapshot=self.snapshot["uri"], folder=str(folder), **arguments)

    def execute(self, context) -> list[dict[str, Any]]:
        from airflow_ml_provider.ml.partitions.plan_files import write_plan

        job = self.plan_job()
        return self.conclude(context, job, write_plan(job))

    def conclude(
        self, context, job: PlanPartitionsJob, plan: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Log the plan, push it as XCom ``plan`` and return one item per chunk plus one
        for the fallback model: what the training task maps over."""
        self.log.info(
            "%d partitions of %s: %d trainable in %d chunks, %d skipped",
            plan["partitions"],
            self.partition_by,
            plan["trainable"],
            len(plan["chunks"]),
            len(plan["skipped"]),
        )
        for record in plan["skipped"][:20]:
            self.log.info("skipped %s: %s", record["partition"], record["reason"])
        context["ti"].xcom_push(key=PLAN_XCOM, value=plan)
        folder = ObjectStoragePath(job.folder)
        models = folder / "models" / re.sub(r"[^A-Za-z0-9_.-]+", "_", context["run_id"])
        chunks = [
            JobPartitions(
                chunk=index,
                uri=str(folder / chunk_file_name(index)),
                output=str(models / f"chunk-{index:05d}.skops"),
                partition_by=self.partition_by,
                features=plan["features"],
                processes=self.processes_per_task,
            )
            for index in range(len(plan["chunks"]))
        ]
        fallback = JobPartitions(
            chunk="fallback",
            fallback=True,
            max_rows=self.fallback_rows,
            output=str(models / "fallback.skops"),
            partition_by=self.partition_by,
            features=plan["features"],
            processes=self.processes_per_task,
        )
        # XCom JSON: each mapped train_partitions task reads one back into the job.
        return [item.model_dump(mode="json", exclude_defaults=True) for item in [*chunks, fallback]]


class AssemblePartitionedModelOperator(TrainingJobOperator):
    """Register-ready result of a partitioned training: ONE MLflow run and model.

    Takes the plan (XCom ``plan`` of plan_partitions) and the results of the mapped training
    tasks, marks partitions of chunks whose task failed as failed, fails when fewer than
    ``min_success_ratio`` of the trainable partitions trained, and logs one run with a pyfunc
    model routing each row to its partition's sub-model (the fallback model for the others)
    and the per-partition table ``partitions/metrics.csv``. Returns what a training task
    returns (``run_id``, ``model_uri``, held-out ``metrics``, ...) plus ``partitions`` counts.

    Runs when the training tasks are done, failed or not (``trigger_rule="all_done"``):
    whether a few failed partitions fail the run is min_success_ratio's call.

    Takes TrainingJobOperator's parameters, and:

    :param plan: plan_partitions' XCom ``plan`` (templated).
    :param results: the mapped training tasks' results (templated).
    :param min_success_ratio: the share of trainable partitions that must train.
    """

    template_fields: tuple[str, ...] = (*TrainingJobOperator.template_fields, "plan", "results")
    ui_color = "#e6f2e6"

    def __init__(
        self,
        *,
        plan: dict[str, Any] | Any,
        results: list[dict[str, Any]] | Any,
        min_success_ratio: float = 1.0,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(**kwargs)
        self.plan = plan
        self.results = results
        self.min_success_ratio = min_success_ratio

    def execute(self, context) -> TrainingResult:
        from airflow_ml_provider.hooks.mlflow import MlflowHook
        from airflow_ml_provider.ml.partitions.assembly import PartitionTrainingFailed, assemble

        hook = MlflowHook(self.mlflow_conn_id)
        hook.get_conn()  # MLflow credentials into this process: the run is logged from here
        self.end_abandoned_runs(context, hook)
        results = self.checked_results()
        try:
            result = assemble(self.assembly_job(context, hook), self.plan, results)
        except PartitionTrainingFailed as exc:
            raise AirflowException(str(exc)) from None
        self.push_run_link(context, hook, result)
        return result

    def checked_results(self) -> list[dict[str, Any]]:
        """The training tasks' results, once the plan is there and enough partitions and the
        fallback trained (AirflowException saying what is missing otherwise)."""
        from airflow_ml_provider.ml.partitions.assembly import (
            PartitionTrainingFailed,
            checked_results,
        )

        if not self.plan:
            raise AirflowException("plan_partitions did not produce a plan; see its log")
        if not self.partition_by:
            raise AirflowException("assembling a partitioned model needs partition_by")
        results = [result for result in (self.results or []) if result]
        try:
            checked_results(self.plan, results, self.min_success_ratio)
        except PartitionTrainingFailed as exc:
            raise AirflowException(str(exc)) from None
        return results

    def assembly_job(self, context, hook) -> dict[str, Any]:
        """The training job the chunks were trained with, and the success ratio to check."""
        return {**self.build_job(context, hook), "min_success_ratio": self.min_success_ratio}

"""Partitioned training around the training runners: plan the fan-out, assemble the result.

plan_partitions → train_partitions (the training runner, mapped over chunks) → assemble_model.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Any

from airflow.sdk import BaseOperator, ObjectStoragePath
from airflow.sdk.exceptions import AirflowException

from airflow_ml_provider.core.contracts import Snapshot, TrainingResult
from airflow_ml_provider.core.defaults import DEFAULT_SPLIT
from airflow_ml_provider.core.training_job import JobPartitions
from airflow_ml_provider.operators.training import TrainingJobOperator
from airflow_ml_provider.storage.frames import is_local

PLAN_FILE = "plan.json"
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

    template_fields = ("snapshot",)
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

    def execute(self, context) -> list[dict[str, Any]]:
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
        plan_file = folder / PLAN_FILE
        if plan_file.exists():
            plan = json.loads(plan_file.read_text())
            self.log.info("reusing the plan at %s", plan_file)
        else:
            plan = self._write_plan(folder)
            # Written last: its presence means every chunk file is complete.
            plan_file.write_text(json.dumps(plan, indent=1))
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
        models = folder / "models" / re.sub(r"[^A-Za-z0-9_.-]+", "_", context["run_id"])
        chunks = [
            JobPartitions(
                chunk=index,
                uri=str(folder / _chunk_name(index)),
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

    def _write_plan(self, folder: ObjectStoragePath) -> dict[str, Any]:
        """Plan from the partition and target columns alone, then stream the snapshot into
        the chunk files: the whole table is never in memory."""
        import pyarrow.parquet as pq

        from airflow_ml_provider.ml.partitions.plan import plan_chunks, write_chunk_files

        if self.snapshot.get("format", "parquet") != "parquet":
            raise AirflowException(
                f"plan_partitions reads a parquet snapshot (snapshot_data writes one), got "
                f"format {self.snapshot['format']!r}"
            )
        started = time.monotonic()
        with ObjectStoragePath(self.snapshot["uri"]).open("rb") as stream:
            # pre_buffer off: it keeps every row group read so far (3 GiB of 20 M rows)
            source = pq.ParquetFile(stream, pre_buffer=False)
            names = source.schema_arrow.names
            keys = _key_columns(source, [c for c in (self.partition_by, self.target) if c in names])
            self.log.info(
                "read %d rows' partition and target in %.1f s",
                len(keys),
                time.monotonic() - started,
            )
            plan, rows = plan_chunks(
                keys,
                names,
                target=self.target,
                features=self.features,
                partition_by=self.partition_by,
                split=self.split,
                task=self.task,
                min_partition_rows=self.min_partition_rows,
                partitions_per_task=self.partitions_per_task,
            )
            self.log.info(
                "planned %d partitions: %d trainable in %d chunks, %d skipped (%.1f s so far)",
                plan["partitions"],
                plan["trainable"],
                rows.chunks,
                len(plan["skipped"]),
                time.monotonic() - started,
            )
            if is_local(folder):
                folder.mkdir(parents=True, exist_ok=True)
            write_chunk_files(
                source,
                rows,
                lambda index: (folder / _chunk_name(index)).open("wb"),
                progress=lambda done, total: self.log.info(
                    "wrote chunk files %d of %d (%.1f s so far)",
                    done,
                    total,
                    time.monotonic() - started,
                ),
            )
        return plan


def _key_columns(source: Any, columns: list[str]) -> Any:
    """``columns`` of a parquet file as a DataFrame, text as pandas Categoricals (20 M
    partition names as Python strings would cost gigabytes; codes cost 80 MB)."""
    import pyarrow as pa

    table = source.read(columns=columns)
    text = [
        f.name
        for f in table.schema
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]
    return table.to_pandas(categories=text)


def _chunk_name(index: int) -> str:
    return f"chunk-{index:05d}.parquet"


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

        if not self.plan:
            raise AirflowException("plan_partitions did not produce a plan; see its log")
        if not self.partition_by:
            raise AirflowException("assembling a partitioned model needs partition_by")
        hook = MlflowHook(self.mlflow_conn_id)
        hook.get_conn()  # MLflow credentials into this process: the run is logged from here
        self.end_abandoned_runs(context, hook)
        job = self.build_job(context, hook)
        job["min_success_ratio"] = self.min_success_ratio
        results = [result for result in (self.results or []) if result]
        try:
            result = assemble(job, self.plan, results)
        except PartitionTrainingFailed as exc:
            raise AirflowException(str(exc)) from None
        self.push_run_link(context, hook, result)
        return result

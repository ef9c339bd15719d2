"""plan_partitions' work, wherever it runs (the Airflow worker, or a pod of its own): read
the snapshot's partition and target columns, plan, stream the snapshot into chunk files and
write ``plan.json`` last. No Airflow imports: files are reached through fsspec, with the
credentials of the process (the worker's, or the pod's workload identity).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from airflow_ml_provider.core.step_job import PLAN_FILE, PlanPartitionsJob, chunk_file_name

log = logging.getLogger(__name__)


def write_plan(job: PlanPartitionsJob) -> dict[str, Any]:
    """The plan of ``job`` (partitions, skipped ones with their reason, chunks, row counts):
    read from ``plan.json`` when an earlier try wrote it, else made from the partition and
    target columns alone and written after every chunk file — the whole table is never in
    memory."""
    import fsspec
    from fsspec.implementations.local import LocalFileSystem

    from airflow_ml_provider.ml.data.snapshot_reads import opened_parquet
    from airflow_ml_provider.ml.partitions.plan import plan_chunks, write_chunk_files

    filesystem, folder = fsspec.core.url_to_fs(job.folder)
    plan_file = f"{folder.rstrip('/')}/{PLAN_FILE}"
    if filesystem.exists(plan_file):
        log.info("reusing the plan at %s", job.plan_file)
        return dict(json.loads(filesystem.cat_file(plan_file)))
    started = time.monotonic()
    with opened_parquet(job.snapshot) as source:
        names = source.schema_arrow.names
        keys = _key_columns(source, [c for c in (job.partition_by, job.target) if c in names])
        log.info("read %d rows' partition and target in %.1f s", len(keys), _since(started))
        plan, rows = plan_chunks(
            keys,
            names,
            target=job.target,
            features=job.features,
            partition_by=job.partition_by,
            split=job.split.model_dump(),
            task=job.task,
            min_partition_rows=job.min_partition_rows,
            partitions_per_task=job.partitions_per_task,
        )
        del keys
        log.info(
            "planned %d partitions: %d trainable in %d chunks, %d skipped (%.1f s so far)",
            plan["partitions"],
            plan["trainable"],
            rows.chunks,
            len(plan["skipped"]),
            _since(started),
        )
        if isinstance(filesystem, LocalFileSystem):  # object stores have no folders
            filesystem.makedirs(folder, exist_ok=True)
        write_chunk_files(
            source,
            rows,
            lambda index: filesystem.open(f"{folder}/{chunk_file_name(index)}", "wb"),
            progress=lambda done, total: log.info(
                "wrote chunk files %d of %d (%.1f s so far)", done, total, _since(started)
            ),
        )
    # Written last: its presence means every chunk file is complete.
    with filesystem.open(plan_file, "w") as stream:
        stream.write(json.dumps(plan, indent=1))
    return plan


def _since(started: float) -> float:
    return time.monotonic() - started


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

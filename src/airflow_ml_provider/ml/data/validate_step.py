"""validate_data's checks where the data is: a ValidateDataJob run by ``python -m
airflow_ml_provider.ml.step`` in a pod (or any process), reading the snapshot and the drift
baseline through fsspec and writing Data Docs and the drift profile beside the snapshot.

The same ``check_frame`` as the worker runs, over the same column-at-a-time table; the
answer is its summary, which the task turns into a decision. No Airflow imports.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_ml_provider.core.step_job import ValidateDataJob
from airflow_ml_provider.ml.data.dataset import write_bytes

if TYPE_CHECKING:
    from airflow_ml_provider.ml.data.checks import CheckOptions

log = logging.getLogger(__name__)


def validate_snapshot(job: ValidateDataJob) -> dict[str, Any]:
    """Every check of ``job`` on its snapshot; the summary, with ``data_docs_uri``."""
    from airflow_ml_provider.ml.data.checks import check_frame

    baseline = _drift_baseline(job)
    with (
        tempfile.TemporaryDirectory(prefix="airflow-ml-docs-") as docs_dir,
        _columns(job.snapshot["uri"], job.snapshot.get("format", "parquet")) as table,
    ):
        summary = check_frame(
            table,
            check_options(job, docs_dir),
            schema_baseline=job.schema_baseline,
            drift_baseline=baseline,
        )
        index = summary.pop("data_docs_index")
        summary["data_docs_uri"] = _publish(docs_dir, job.docs_folder) if index else None
    profile = summary.pop("profile")
    if profile is not None and job.profile_file:
        write_bytes(job.profile_file, json.dumps(profile, allow_nan=False).encode())
    summary["baselines"] = {
        "schema_version": job.schema_version,
        "schema_uri": job.schema_uri,
        "drift_baseline_uri": job.drift_baseline_uri if baseline is not None else None,
    }
    return summary


def check_options(job: ValidateDataJob, docs_dir: str) -> CheckOptions:
    """The checks ``job`` asks for; Data Docs rendered into ``docs_dir`` when it wants them."""
    from airflow_ml_provider.ml.data.checks import CheckOptions

    return CheckOptions(
        target=job.target,
        task=job.task,
        expectations=job.expectations,
        max_duplicate_share=job.max_duplicate_share,
        freshness=job.freshness,
        max_null_rate_increase=job.max_null_rate_increase,
        drift=job.drift,
        docs_dir=docs_dir if job.docs_folder else None,
        keep_profile=job.profile_file is not None,
    )


@contextmanager
def _columns(uri: str, data_format: str) -> Iterator[Any]:
    """The snapshot as a table the checks read a column at a time (a csv is read whole)."""
    import fsspec

    from airflow_ml_provider.ml.data.column_tables import FrameColumns, ParquetColumns
    from airflow_ml_provider.ml.data.dataset import local_path_or_uri, read_frame

    location = local_path_or_uri(uri)
    if data_format != "parquet":
        yield FrameColumns(read_frame(location, data_format))
    elif "://" not in location:
        yield ParquetColumns(location)
    else:
        with fsspec.open(location, "rb") as stream:
            yield ParquetColumns(stream)


def _drift_baseline(job: ValidateDataJob) -> Any:
    """The baseline's profile (beside its data, or the file itself), else its data; None when
    there is nothing to compare with."""
    import fsspec

    from airflow_ml_provider.ml.data.dataset import read_frame
    from airflow_ml_provider.ml.drift.profile import profile_uri

    uri = job.drift_baseline_uri
    if job.drift is None or uri is None:
        return None
    profile = fsspec.open(profile_uri(uri), "r")
    if profile.fs.exists(profile.path):
        with profile as stream:
            return json.load(stream)
    data = fsspec.open(uri, "rb")
    if not data.fs.exists(data.path):
        log.warning("the drift baseline %s no longer exists; drift skipped", uri)
        return None
    return read_frame(uri, job.drift_baseline_format)


def _publish(docs_dir: str, folder: str | None) -> str | None:
    """Copy the rendered Data Docs to ``folder``; the URI of its index.html."""
    if folder is None:
        return None
    folder = folder.rstrip("/")
    for file in Path(docs_dir).rglob("*"):
        if file.is_file():
            write_bytes(f"{folder}/{file.relative_to(docs_dir).as_posix()}", file.read_bytes())
    return f"{folder}/index.html"

"""Reading data from the artifact store through Airflow's ObjectStoragePath (worker side)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from airflow.sdk import ObjectStoragePath

if TYPE_CHECKING:
    import pandas as pd

    from airflow_ml_provider.ml.data.column_tables import ColumnTable

_LOCAL = ("", "file", "local")


def is_local(path: ObjectStoragePath) -> bool:
    """Whether ``path`` is on the local file system (where folders must exist before writes)."""
    return (path.protocol or "") in _LOCAL


def read_stored_frame(uri: str, data_format: str) -> pd.DataFrame:
    """A csv/parquet file as a DataFrame; remote files are read through ObjectStoragePath,
    so the store's Airflow connection (``gs://<conn_id>@bucket/...`` or the provider's
    default connection) applies, not whatever credentials pandas would find."""
    from airflow_ml_provider.ml.data.dataset import read_frame

    path = ObjectStoragePath(uri)
    if is_local(path):
        return read_frame(uri, data_format)
    with path.open("rb") as stream:
        return read_frame(stream, data_format)


@contextmanager
def stored_columns(uri: str, data_format: str) -> Iterator[ColumnTable]:
    """A stored csv/parquet file as a table the checks read a column at a time: parquet is
    read column by column (a remote file through its ObjectStoragePath connection, as
    ``read_stored_frame``), csv has no columns to read apart and is read whole."""
    from airflow_ml_provider.ml.data.column_tables import FrameColumns, ParquetColumns
    from airflow_ml_provider.ml.data.dataset import local_path_or_uri

    if data_format != "parquet":
        yield FrameColumns(read_stored_frame(uri, data_format))
        return
    path = ObjectStoragePath(uri)
    if is_local(path):
        yield ParquetColumns(local_path_or_uri(uri))
        return
    with path.open("rb") as stream:
        yield ParquetColumns(stream)


def publish(partial: ObjectStoragePath, target: ObjectStoragePath) -> None:
    """Move a finished file into place: an atomic rename locally, a server-side copy elsewhere.

    Object stores create an object atomically when its upload or copy completes, and a rename
    there is a copy plus delete anyway.
    """
    if is_local(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        partial.fs.mv(partial.path, target.path)
    else:
        partial.fs.copy(partial.path, target.path)
        partial.fs.rm(partial.path)

"""Data sources a pipeline snapshots: files (local, gs://, s3://), BigQuery, any SQL database.

A source is a dict (``spec.loader.resolved_source`` makes one from the YAML, or write it by hand
in a DAG). A plain string means ``{"kind": "files", "uri": <string>}``::

    {"kind": "files", "uri": "gs://bucket/events/*.csv", "format": "csv",
     "conn_id": "google_cloud_default", "file_name_column": "source_file"}
    {"kind": "bigquery", "table": "proj.ds.t"}
    {"kind": "bigquery", "query": "SELECT ...", "location": "EU", "conn_id": "..."}
    {"kind": "sql", "conn_id": "warehouse", "query": "SELECT ...",
     "change_query": "SELECT max(updated_at) FROM t"}

Credentials only ever come from Airflow connections (``conn_id``). Everything is streamed:
files batch by batch through pyarrow, BigQuery through ``to_arrow_iterable``, SQL through a
DB-API cursor's ``fetchmany`` — into one parquet file, never a whole dataset in pandas.

Only ``airflow.sdk`` is imported at module level: pyarrow and the Google/SQL clients load when
data is actually read (this module may be imported while Airflow parses DAG files).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Protocol

from airflow.sdk import BaseHook, ObjectStoragePath

from airflow_ml_provider.core.formats import FORMAT_SUFFIXES, format_of
from airflow_ml_provider.core.locations import resolve_path
from airflow_ml_provider.hooks.sources.common import (  # noqa: F401 (public names)
    BATCH_ROWS,
    DataSourceError,
    shorten,
    to_epoch,
)

READERS = {
    "files": "airflow_ml_provider.hooks.sources.files.FilesSource",
    "bigquery": "airflow_ml_provider.hooks.sources.bigquery.BigQuerySource",
    "sql": "airflow_ml_provider.hooks.sources.sql.SqlSource",
}
"""The reader of each source kind; a new kind is one module with a SourceReader and one
entry here (and its rule in normalize_source). Imported when a source is read."""
SOURCE_KINDS = tuple(READERS)


def normalize_source(source: dict[str, Any] | str) -> dict[str, Any]:
    """Check a source dict (or a files URI string) and return a copy with defaults filled in."""
    if isinstance(source, str):
        source = {"kind": "files", "uri": source}
    if not isinstance(source, dict):
        raise DataSourceError(f"a data source is a dict or a URI string, got {source!r}")
    result = {key: value for key, value in source.items() if value is not None}
    kind = result.setdefault("kind", "files")
    if kind not in SOURCE_KINDS:
        raise DataSourceError(f"unknown source kind {kind!r}; expected one of {SOURCE_KINDS}")
    if kind == "files":
        if not result.get("uri"):
            raise DataSourceError("a files source needs a uri")
        # a bare local path becomes a file:// URI (glob characters and a trailing / kept)
        result["uri"] = resolve_path(result["uri"], Path.cwd())
        fmt = result.get("format") or format_of(result["uri"])
        if fmt is not None and fmt not in FORMAT_SUFFIXES:
            raise DataSourceError(f"unknown format {fmt!r}; expected csv or parquet")
        if fmt is not None:
            result["format"] = fmt
    elif kind == "bigquery":
        if bool(result.get("table")) == bool(result.get("query")):
            raise DataSourceError("a bigquery source needs exactly one of table or query")
    elif not (result.get("conn_id") and result.get("query")):
        raise DataSourceError("a sql source needs conn_id (an Airflow connection) and query")
    return result


class SourceReader(Protocol):
    """What the hook needs of one source kind."""

    def describe(self) -> str:
        """A short human description, e.g. ``gs://bucket/events/*.csv (3 files)``."""

    def latest_change(self) -> float | None:
        """Epoch seconds of the newest change in the source; None when it has no data yet."""

    def read(self, sink: Any, files: list[str]) -> None:
        """Write every row into ``sink`` (a sources.sink.ParquetSink); append what was read
        (file URIs) to ``files``."""


class DataSourceHook(BaseHook):
    """Reads one data source (files, BigQuery or SQL) into parquet and tells when it changed.

    :param source: a source dict (see the module doc) or a files URI string.
    """

    def __init__(self, source: dict[str, Any] | str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = normalize_source(source)
        self.kind: str = self.source["kind"]
        module, _, name = READERS[self.kind].rpartition(".")
        self.reader: SourceReader = getattr(importlib.import_module(module), name)(self.source)

    def describe(self) -> str:
        """A short human description, e.g. ``gs://bucket/events/*.csv (3 files)``."""
        return self.reader.describe()

    def latest_change(self) -> float | None:
        """Epoch seconds of the newest change in the source; None when it has no data yet.

        - files: the newest modification time of the matched non-empty files (GCS: the
          object's ``updated`` time);
        - bigquery table: the table's ``modified`` time (None while it has no rows);
        - bigquery query: the newest ``modified`` time of the tables the query reads, found
          with a free dry run (None when the dry run names no table);
        - sql: the single value of ``change_query`` (timestamp, date, number or ISO string),
          None without a change_query or when it returns NULL.
        """
        return self.reader.latest_change()

    def write_parquet(self, target: ObjectStoragePath | str) -> dict[str, Any]:
        """Stream the whole source into one parquet file at ``target``.

        Returns ``{"rows", "columns", "files", "bytes", "sha256"}`` (``files``: what was read,
        ``sha256``: of the parquet bytes written). Raises DataSourceError, naming the source,
        for no matching file, a 0-byte file, 0 rows or parts with incompatible columns.
        Writing the same input twice gives byte-identical files.
        """
        from airflow_ml_provider.hooks.sources.sink import HashingStream, ParquetSink

        target = target if isinstance(target, ObjectStoragePath) else ObjectStoragePath(target)
        files: list[str] = []
        try:
            with target.open("wb") as raw:
                stream = HashingStream(raw)
                sink = ParquetSink(stream)
                try:
                    self.reader.read(sink, files)
                    sink.close(self.describe())
                except BaseException:
                    sink.abort()
                    raise
        except BaseException:
            if target.exists():
                target.unlink()
            raise
        self.log.info("read %d rows from %s", sink.rows, self.describe())
        return {
            "rows": sink.rows,
            "columns": list(sink.schema.names),
            "files": files,
            "bytes": stream.size,
            "sha256": stream.digest.hexdigest(),
        }

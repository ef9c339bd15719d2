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

import contextlib
import datetime as dt
import hashlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from airflow.sdk import BaseHook, ObjectStoragePath

from airflow_ml_provider.core.errors import AirflowMlError
from airflow_ml_provider.spec.formats import FORMAT_SUFFIXES, format_of
from airflow_ml_provider.spec.loader import resolve_path

SOURCE_KINDS = ("files", "bigquery", "sql")
_GLOB_CHARS = frozenset("*?[")
_BATCH_ROWS = 64 * 1024  # rows per batch read from parquet files and SQL cursors
_CSV_BLOCK = 8 * 1024 * 1024  # bytes per CSV block (column types are inferred from the first)
_MAX_PENDING_BYTES = 256 * 1024 * 1024  # how much the sink buffers to type all-null columns
_DESCRIBE_QUERY_CHARS = 60


class DataSourceError(AirflowMlError, ValueError):
    """A source that cannot be snapshotted: nothing matched, an empty file, 0 rows, bad schema."""


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


def to_epoch(value: Any) -> float | None:
    """A timestamp-ish value as epoch seconds: datetime (naive = UTC), date, number, ISO string."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"expected a timestamp or a number, got {value!r}")
    if isinstance(value, int | float | Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.timestamp()
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp()
    if hasattr(value, "to_pydatetime"):  # pandas / numpy timestamps
        return to_epoch(value.to_pydatetime())
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            return to_epoch(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError:
            raise ValueError(f"{value!r} is neither a timestamp nor a number") from None
    raise TypeError(f"expected a timestamp or a number, got {type(value).__name__} {value!r}")


def _modified(info: dict[str, Any]) -> float | None:
    """Modification time from an fsspec info dict (local mtime, GCS updated, S3 LastModified)."""
    for key in ("mtime", "updated", "LastModified", "last_modified"):
        if info.get(key) is not None:
            return to_epoch(info[key])
    return None


class _HashingStream:
    """A write-only file wrapper that hashes and counts the bytes passing through."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.digest = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self.digest.update(view)
        self.size += len(view)
        self._stream.write(view)
        return len(view)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._stream.flush()

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


class _ParquetSink:
    """Streams arrow tables into one parquet file with one schema.

    The schema is the first table's. A column that is all-null there takes its type from the
    first later table that has values (tables are held back until then, up to a memory bound).
    Later tables are reordered and cast to the schema; a missing, extra or uncastable column
    raises a DataSourceError naming where the rows came from and the column.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._writer: Any = None
        self.schema: Any = None
        self._pending: list[tuple[Any, str]] = []
        self._pending_bytes = 0
        self.rows = 0

    def known_types(self) -> dict[str, Any]:
        """Column types fixed so far (for readers that can parse straight into them)."""
        import pyarrow as pa

        tables = [table for table, _ in self._pending]
        schema = self.schema or (tables[0].schema if tables else None)
        if schema is None:
            return {}
        return {f.name: f.type for f in schema if not pa.types.is_null(f.type)}

    def write(self, table: Any, origin: str) -> None:
        if table.num_rows == 0 and (self._writer is not None or self._pending):
            return
        if self._writer is not None:
            self._writer.write_table(self._conform(table, origin))
            self.rows += table.num_rows
            return
        self._pending.append((table, origin))
        self._pending_bytes += table.nbytes
        if not self._untyped() or self._pending_bytes > _MAX_PENDING_BYTES:
            self._open()

    def _resolved_fields(self) -> list[Any]:
        """The first pending table's fields, all-null ones typed from later tables if any."""
        import pyarrow as pa

        types: dict[str, Any] = {}
        for table, _ in self._pending:
            for field in table.schema:
                if not pa.types.is_null(field.type):
                    types.setdefault(field.name, field.type)
        return [
            field.with_type(types.get(field.name, field.type)).with_nullable(True)
            for field in self._pending[0][0].schema
        ]

    def _untyped(self) -> bool:
        import pyarrow as pa

        return any(pa.types.is_null(field.type) for field in self._resolved_fields())

    def _open(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.schema = pa.schema(self._resolved_fields())
        self._writer = pq.ParquetWriter(self._stream, self.schema)
        pending, self._pending = self._pending, []
        for table, origin in pending:
            if table.num_rows:
                self._writer.write_table(self._conform(table, origin))
                self.rows += table.num_rows

    def _conform(self, table: Any, origin: str) -> Any:
        import pyarrow as pa

        names = table.schema.names
        missing = [name for name in self.schema.names if name not in names]
        if missing:
            raise DataSourceError(
                f"{origin}: column {missing[0]!r} is missing (expected the columns of the "
                f"first part: {', '.join(self.schema.names)})"
            )
        extra = [name for name in names if name not in self.schema.names]
        if extra:
            raise DataSourceError(
                f"{origin}: unexpected column {extra[0]!r} (expected the columns of the "
                f"first part: {', '.join(self.schema.names)})"
            )
        if table.schema.equals(self.schema):
            return table
        columns = []
        for field in self.schema:
            column = table.column(field.name)
            if not column.type.equals(field.type):
                try:
                    column = column.cast(field.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
                    raise DataSourceError(
                        f"{origin}: column {field.name!r} is {column.type} and cannot be read "
                        f"as {field.type} like in the first part ({exc})"
                    ) from None
            columns.append(column)
        return pa.Table.from_arrays(columns, schema=self.schema)

    def abort(self) -> None:
        """Release the writer after a failure (the half-written file is removed by the caller)."""
        if self._writer is not None:
            with contextlib.suppress(Exception):  # the original error is the one that matters
                self._writer.close()
            self._writer = None

    def close(self, description: str) -> None:
        if self._writer is None and self._pending:
            self._open()
        if self._writer is None or self.rows == 0:
            raise DataSourceError(f"{description} has 0 rows; refusing to snapshot empty data")
        self._writer.close()


class DataSourceHook(BaseHook):
    """Reads one data source (files, BigQuery or SQL) into parquet and tells when it changed.

    :param source: a source dict (see the module doc) or a files URI string.
    """

    def __init__(self, source: dict[str, Any] | str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = normalize_source(source)
        self.kind: str = self.source["kind"]
        self._listing: list[tuple[str, dict[str, Any]]] | None = None

    # ----------------------------------------------------------------- public API

    def describe(self) -> str:
        """A short human description, e.g. ``gs://bucket/events/*.csv (3 files)``."""
        source = self.source
        if self.kind == "files":
            if self._listing is None:
                return source["uri"]
            count = len(self._listing)
            return f"{source['uri']} ({count} file{'' if count == 1 else 's'})"
        if self.kind == "bigquery":
            return (
                f"bigquery {source['table']}"
                if source.get("table")
                else (f"bigquery: {_shorten(source['query'])}")
            )
        return f"sql {source['conn_id']}: {_shorten(source['query'])}"

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
        if self.kind == "files":
            times = [_modified(info) for _, info in self._list_files(refresh=True) if info["size"]]
            known = [t for t in times if t is not None]
            return max(known) if known else None
        if self.kind == "bigquery":
            return self._bigquery_latest_change()
        return self._sql_latest_change()

    def write_parquet(self, target: ObjectStoragePath | str) -> dict[str, Any]:
        """Stream the whole source into one parquet file at ``target``.

        Returns ``{"rows", "columns", "files", "bytes", "sha256"}`` (``files``: what was read,
        ``sha256``: of the parquet bytes written). Raises DataSourceError, naming the source,
        for no matching file, a 0-byte file, 0 rows or parts with incompatible columns.
        Writing the same input twice gives byte-identical files.
        """
        target = target if isinstance(target, ObjectStoragePath) else ObjectStoragePath(target)
        if self.kind == "files":
            self._list_files(refresh=True)
        read = {"files": self._read_files, "bigquery": self._read_bigquery, "sql": self._read_sql}
        files: list[str] = []
        try:
            with target.open("wb") as raw:
                stream = _HashingStream(raw)
                sink = _ParquetSink(stream)
                try:
                    read[self.kind](sink, files)
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

    # ----------------------------------------------------------------- files

    def _root(self) -> ObjectStoragePath:
        return ObjectStoragePath(self.source["uri"], conn_id=self.source.get("conn_id"))

    def _list_files(self, refresh: bool = False) -> list[tuple[str, dict[str, Any]]]:
        """The matched files as (uri, fsspec info) sorted by name; refuses no match / 0 bytes."""
        if self._listing is not None and not refresh:
            return self._listing
        root = self._root()
        fs, path, uri = root.fs, root.path, self.source["uri"]
        if refresh:
            fs.invalidate_cache()  # object stores cache listings; a poll must see new objects
        protocol = uri.split("://", 1)[0]
        if uri.endswith("/"):
            found = {
                name: info
                for name, info in (fs.find(path, detail=True) if fs.exists(path) else {}).items()
                if not _hidden(name, path)
            }
            fmt = self.source.get("format") or (_single_format(found) if found else "csv")
            endings = FORMAT_SUFFIXES[fmt]
            infos = [info for name, info in found.items() if name.lower().endswith(endings)]
            if found:
                self.source.setdefault("format", fmt)
        elif _GLOB_CHARS & set(path):
            infos = list(fs.glob(path, detail=True).values())
        else:
            infos = [fs.info(path)] if fs.exists(path) else []
        listing = sorted(
            (
                (f"{protocol}://{_strip_protocol(info['name'], protocol)}", info)
                for info in infos
                if info.get("type", "file") == "file"
            ),
            key=lambda item: item[0],
        )
        self._listing = listing
        return listing

    def _matched_files(self) -> list[tuple[str, dict[str, Any]]]:
        listing = self._list_files()
        if not listing:
            raise DataSourceError(f"data source {self.source['uri']} matches no file")
        empty = [uri for uri, info in listing if not info.get("size")]
        if empty:
            raise DataSourceError(
                f"data source {self.source['uri']}: {empty[0]} is empty (0 bytes); "
                "refusing to snapshot"
            )
        return listing

    def _read_files(self, sink: _ParquetSink, files: list[str]) -> None:
        import pyarrow as pa

        listing = self._matched_files()
        fmt = self.source.get("format") or format_of(listing[0][0])
        if fmt is None:
            raise DataSourceError(
                f"data source {self.source['uri']}: cannot tell the format of "
                f"{listing[0][0]}; set format: csv or parquet"
            )
        name_column = self.source.get("file_name_column")
        base = _static_prefix(self.source["uri"])
        for uri, _ in listing:
            files.append(uri)
            path = ObjectStoragePath(uri, conn_id=self.source.get("conn_id"))
            label = uri.removeprefix(base)
            batches = _csv_batches if fmt == "csv" else _parquet_batches
            for table in batches(path, uri, sink):
                if name_column:
                    if name_column in table.schema.names:
                        raise DataSourceError(
                            f"{uri}: file_name_column {name_column!r} is already a column"
                        )
                    table = table.append_column(
                        name_column, pa.array([label] * table.num_rows, pa.string())
                    )
                sink.write(table, uri)

    # ----------------------------------------------------------------- bigquery

    def _bigquery_client(self) -> Any:
        from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook

        hook = BigQueryHook(
            gcp_conn_id=self.source.get("conn_id") or "google_cloud_default",
            location=self.source.get("location"),
            use_legacy_sql=False,
        )
        return hook.get_client(project_id=hook.project_id, location=self.source.get("location"))

    def _read_bigquery(self, sink: _ParquetSink, files: list[str]) -> None:
        import pyarrow as pa

        client = self._bigquery_client()
        if self.source.get("table"):
            rows = client.list_rows(client.get_table(self.source["table"]))
        else:
            from google.cloud.bigquery import QueryJobConfig

            job = client.query(
                self.source["query"],
                job_config=QueryJobConfig(use_legacy_sql=False),
                location=self.source.get("location"),
            )
            rows = job.result()
        for index, batch in enumerate(rows.to_arrow_iterable()):
            table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
            sink.write(table, f"{self.describe()} (batch {index + 1})")

    def _bigquery_latest_change(self) -> float | None:
        client = self._bigquery_client()
        if self.source.get("table"):
            table = client.get_table(self.source["table"])
            if not table.num_rows and not table.streaming_buffer:
                return None
            return to_epoch(table.modified)
        from google.cloud.bigquery import QueryJobConfig

        job = client.query(
            self.source["query"],
            job_config=QueryJobConfig(dry_run=True, use_query_cache=False, use_legacy_sql=False),
            location=self.source.get("location"),
        )
        times = [to_epoch(client.get_table(ref).modified) for ref in job.referenced_tables or []]
        known = [t for t in times if t is not None]
        return max(known) if known else None

    # ----------------------------------------------------------------- sql

    def _sql_hook(self) -> Any:
        return BaseHook.get_connection(self.source["conn_id"]).get_hook()

    def _read_sql(self, sink: _ParquetSink, files: list[str]) -> None:
        from contextlib import closing

        import pyarrow as pa

        hook = self._sql_hook()
        with closing(hook.get_conn()) as conn, closing(conn.cursor()) as cursor:
            cursor.execute(self.source["query"])
            names = [column[0] for column in cursor.description or ()]
            if not names:
                raise DataSourceError(f"{self.describe()} returned no columns")
            start = 0
            while rows := cursor.fetchmany(_BATCH_ROWS):
                origin = f"{self.describe()} (rows {start + 1}-{start + len(rows)})"
                arrays = []
                for name, values in zip(names, zip(*rows, strict=True), strict=True):
                    try:
                        arrays.append(pa.array(values))
                    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError) as exc:
                        raise DataSourceError(f"{origin}: column {name!r}: {exc}") from None
                sink.write(pa.Table.from_arrays(arrays, names=names), origin)
                start += len(rows)

    def _sql_latest_change(self) -> float | None:
        if not self.source.get("change_query"):
            return None
        row = self._sql_hook().get_first(self.source["change_query"])
        if not row:
            return None
        try:
            return to_epoch(row[0])
        except (TypeError, ValueError) as exc:
            raise DataSourceError(
                f"change_query of {self.describe()} must return a timestamp or a number: {exc}"
            ) from None


def _csv_batches(path: ObjectStoragePath, uri: str, sink: _ParquetSink) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.csv as pv

    compression = "gzip" if uri.lower().endswith(".gz") else None
    names: list[str] = []
    with path.open("rb", compression=compression) as stream:
        try:
            reader = pv.open_csv(
                stream,
                read_options=pv.ReadOptions(block_size=_CSV_BLOCK),
                convert_options=pv.ConvertOptions(
                    column_types=sink.known_types(), strings_can_be_null=True
                ),
            )
            names = reader.schema.names
            for batch in reader:
                yield pa.Table.from_batches([batch])
        except pa.ArrowInvalid as exc:
            names = names or _csv_header(path, compression)
            raise DataSourceError(f"{uri}: {_name_csv_column(str(exc), names)}") from None


def _csv_header(path: ObjectStoragePath, compression: str | None) -> list[str]:
    import csv
    import io

    with path.open("rb", compression=compression) as stream:
        line = io.TextIOWrapper(stream, encoding="utf-8", errors="replace").readline()
    return next(csv.reader([line]), [])


def _name_csv_column(message: str, names: list[str]) -> str:
    """Replace pyarrow's 'In CSV column #3:' by the column's name when it is known."""
    import re

    match = re.search(r"In CSV column #(\d+)", message)
    if match and int(match.group(1)) < len(names):
        return message.replace(match.group(0), f"column {names[int(match.group(1))]!r}")
    return message


def _parquet_batches(path: ObjectStoragePath, uri: str, sink: _ParquetSink) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with path.open("rb") as stream:
        try:
            parquet = pq.ParquetFile(stream)
        except pa.ArrowInvalid as exc:
            raise DataSourceError(f"{uri} is not a readable parquet file: {exc}") from None
        if parquet.metadata.num_rows == 0:
            yield parquet.schema_arrow.empty_table()
            return
        for batch in parquet.iter_batches(batch_size=_BATCH_ROWS):
            yield pa.Table.from_batches([batch])


def _single_format(found: dict[str, Any]) -> str:
    formats = {format_of(name) for name in found} - {None}
    if len(formats) != 1:
        raise DataSourceError(
            "a prefix source needs format: csv or parquet "
            f"(found {', '.join(sorted(formats)) or 'no csv or parquet files'})"
        )
    return formats.pop()


def _hidden(name: str, prefix: str) -> bool:
    """Files such as _SUCCESS or .partial-* under a prefix are markers, not data."""
    relative = name.removeprefix(prefix.rstrip("/"))
    return any(part.startswith((".", "_")) for part in relative.split("/"))


def _strip_protocol(name: str, protocol: str) -> str:
    """fsspec names come without protocol ('bucket/key', '/abs/path'); some keep it."""
    name = name.split("://", 1)[1] if "://" in name else name
    return "/" + name if protocol == "file" and not name.startswith("/") else name


def _static_prefix(uri: str) -> str:
    """The part of a URI before its first glob character, up to the last '/'."""
    cut = min((uri.index(c) for c in _GLOB_CHARS if c in uri), default=len(uri))
    head = uri[:cut]
    return head if head.endswith("/") else head.rsplit("/", 1)[0] + "/"


def _shorten(query: str) -> str:
    flat = " ".join(query.split())
    return flat if len(flat) <= _DESCRIBE_QUERY_CHARS else flat[: _DESCRIBE_QUERY_CHARS - 3] + "..."

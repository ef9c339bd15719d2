"""Files as a source: one file, a glob or a prefix — local, gs://, s3:// (any fsspec
filesystem through Airflow's ObjectStoragePath), CSV (also .gz) or parquet, streamed batch
by batch through pyarrow."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from airflow.sdk import ObjectStoragePath

from airflow_ml_provider.core.formats import (
    FORMAT_SUFFIXES,
    GLOB_CHARS,
    before_glob,
    csv_parse_options,
    format_of,
)
from airflow_ml_provider.hooks.sources.common import BATCH_ROWS, DataSourceError, to_epoch
from airflow_ml_provider.hooks.sources.sink import ParquetSink

CSV_BLOCK = 8 * 1024 * 1024  # bytes per CSV block (column types are inferred from the first)


class FilesSource:
    """``{"kind": "files", "uri": ..., "format": ..., "conn_id": ..., "file_name_column": ...}``"""

    def __init__(self, source: dict[str, Any]) -> None:
        self.source = source
        self._listing: list[tuple[str, dict[str, Any]]] | None = None

    def describe(self) -> str:
        if self._listing is None:
            return self.source["uri"]
        count = len(self._listing)
        return f"{self.source['uri']} ({count} file{'' if count == 1 else 's'})"

    def latest_change(self) -> float | None:
        """The newest modification time of the matched non-empty files (GCS: ``updated``)."""
        times = [_modified(info) for _, info in self._list_files(refresh=True) if info["size"]]
        known = [t for t in times if t is not None]
        return max(known) if known else None

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
        elif GLOB_CHARS & set(path):
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

    def read(self, sink: ParquetSink, files: list[str]) -> None:
        """Every matched file, batch by batch (the listing refreshed first)."""
        import pyarrow as pa

        self._list_files(refresh=True)
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


def _modified(info: dict[str, Any]) -> float | None:
    """Modification time from an fsspec info dict (local mtime, GCS updated, S3 LastModified)."""
    for key in ("mtime", "updated", "LastModified", "last_modified"):
        if info.get(key) is not None:
            return to_epoch(info[key])
    return None


def _csv_batches(path: ObjectStoragePath, uri: str, sink: ParquetSink) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.csv as pv

    compression = "gzip" if uri.lower().endswith(".gz") else None
    names: list[str] = []
    with path.open("rb", compression=compression) as stream:
        try:
            reader = pv.open_csv(
                stream,
                read_options=pv.ReadOptions(block_size=CSV_BLOCK),
                parse_options=csv_parse_options(),
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


def _parquet_batches(path: ObjectStoragePath, uri: str, sink: ParquetSink) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with path.open("rb") as stream:
        try:
            parquet = pq.ParquetFile(stream, pre_buffer=False)
        except pa.ArrowInvalid as exc:
            raise DataSourceError(f"{uri} is not a readable parquet file: {exc}") from None
        if parquet.metadata.num_rows == 0:
            yield parquet.schema_arrow.empty_table()
            return
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
            yield pa.Table.from_batches([batch])


def _single_format(found: dict[str, Any]) -> str:
    formats = {kind for name in found if (kind := format_of(name)) is not None}
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
    head = before_glob(uri)
    return head if head.endswith("/") else head.rsplit("/", 1)[0] + "/"

"""Where every source's rows go: one parquet file with one schema, hashed as it is written."""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

from airflow_ml_provider.core.formats import dictionary_columns
from airflow_ml_provider.hooks.sources.common import DataSourceError

MAX_PENDING_BYTES = 256 * 1024 * 1024  # how much the sink buffers to type all-null columns


class HashingStream:
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


class ParquetSink:
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
        if not self._untyped() or self._pending_bytes > MAX_PENDING_BYTES:
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
        self._writer = pq.ParquetWriter(
            self._stream, self.schema, use_dictionary=dictionary_columns(self.schema)
        )
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

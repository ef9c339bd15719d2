"""Any SQL database with an Airflow connection as a source: the query streamed through a
DB-API cursor's ``fetchmany``; ``change_query`` says when the data last changed."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook

from airflow_ml_provider.hooks.sources.common import BATCH_ROWS, DataSourceError, shorten, to_epoch
from airflow_ml_provider.hooks.sources.sink import ParquetSink


class SqlSource:
    """``{"kind": "sql", "conn_id": ..., "query": ..., "change_query": ...}``"""

    def __init__(self, source: dict[str, Any]) -> None:
        self.source = source

    def describe(self) -> str:
        return f"sql {self.source['conn_id']}: {shorten(self.source['query'])}"

    def _sql_hook(self) -> Any:
        return BaseHook.get_connection(self.source["conn_id"]).get_hook()

    def read(self, sink: ParquetSink, files: list[str]) -> None:
        from contextlib import closing

        import pyarrow as pa

        hook = self._sql_hook()
        with closing(hook.get_conn()) as conn, closing(conn.cursor()) as cursor:
            cursor.execute(self.source["query"])
            names = [column[0] for column in cursor.description or ()]
            if not names:
                raise DataSourceError(f"{self.describe()} returned no columns")
            start = 0
            while rows := cursor.fetchmany(BATCH_ROWS):
                origin = f"{self.describe()} (rows {start + 1}-{start + len(rows)})"
                arrays = []
                for name, values in zip(names, zip(*rows, strict=True), strict=True):
                    try:
                        arrays.append(pa.array(values))
                    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError) as exc:
                        raise DataSourceError(f"{origin}: column {name!r}: {exc}") from None
                sink.write(pa.Table.from_arrays(arrays, names=names), origin)
                start += len(rows)

    def latest_change(self) -> float | None:
        """The single value of ``change_query`` (timestamp, date, number or ISO string); None
        without a change_query or when it returns NULL."""
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

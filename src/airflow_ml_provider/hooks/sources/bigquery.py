"""A BigQuery table or query as a source, streamed through ``to_arrow_iterable``; credentials
from the Google Cloud connection (``conn_id``, default google_cloud_default)."""

from __future__ import annotations

from typing import Any

from airflow_ml_provider.core.connections import GCP_CONN_ID
from airflow_ml_provider.hooks.sources.common import shorten, to_epoch
from airflow_ml_provider.hooks.sources.sink import ParquetSink


class BigQuerySource:
    """``{"kind": "bigquery", "table": ...}`` or ``{"kind": "bigquery", "query": ...,
    "location": ..., "conn_id": ...}``"""

    def __init__(self, source: dict[str, Any]) -> None:
        self.source = source

    def describe(self) -> str:
        if self.source.get("table"):
            return f"bigquery {self.source['table']}"
        return f"bigquery: {shorten(self.source['query'])}"

    def _bigquery_client(self) -> Any:
        from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook

        hook = BigQueryHook(
            gcp_conn_id=self.source.get("conn_id") or GCP_CONN_ID,
            location=self.source.get("location"),
            use_legacy_sql=False,
        )
        return hook.get_client(project_id=hook.project_id, location=self.source.get("location"))

    def read(self, sink: ParquetSink, files: list[str]) -> None:
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

    def latest_change(self) -> float | None:
        """The table's ``modified`` time (None while it has no rows); for a query, the newest
        ``modified`` time of the tables a free dry run says it reads."""
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

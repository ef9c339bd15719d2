"""snapshot_data: read the source into one parquet file in the artifact store, named by its hash."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from airflow.sdk import BaseOperator, ObjectStoragePath

from airflow_ml_provider.core.contracts import Snapshot
from airflow_ml_provider.storage.frames import is_local, publish
from airflow_ml_provider.storage.snapshots import (  # noqa: F401 (public names)
    LAST_SNAPSHOT,
    last_snapshot,
    snapshots_folder,
)


def _write_record(folder: ObjectStoragePath, record: Mapping[str, Any]) -> None:
    data = json.dumps(record, indent=2, sort_keys=True).encode()
    target = folder / LAST_SNAPSHOT
    if not is_local(target):
        target.write_bytes(data)
        return
    partial = folder / f".partial-{uuid.uuid4().hex}.json"
    partial.write_bytes(data)
    partial.fs.mv(partial.path, target.path)


class SnapshotDataOperator(BaseOperator):
    """Snapshot ``source`` to ``<artifact_store>/snapshots/<pipeline>/<sha256[:16]>/data.parquet``.

    ``source`` is a source dict (files, bigquery or sql; see
    :mod:`airflow_ml_provider.hooks.data`) or a plain URI/glob/prefix of files. The snapshot is
    always parquet. The same data gives byte-identical parquet, hence the same path, and an
    existing snapshot is never overwritten, so re-running the task is idempotent. An empty
    source (no file, a 0-byte file, 0 rows) fails the task.

    Returns ``{uri, sha256, format, bytes, rows, columns, reused, source, source_changed_at}``
    and records it in ``snapshots/<pipeline>/last_snapshot.json`` (read by NewDataSensor).

    :param source: a source dict or a files URI, glob or prefix (templated).
    :param pipeline: the pipeline id: snapshots go under ``snapshots/<pipeline>/``.
    :param data_format: ``csv`` or ``parquet`` for a files source whose format the URI does
        not tell.
    :param artifact_store: where snapshots go (templated); ``[ml_provider] artifact_store``
        when None.
    :param source_conn_id: the connection of a files source on an object store (gs://, s3://).
    """

    template_fields = ("source", "artifact_store")
    ui_color = "#e8f4fa"

    def __init__(
        self,
        *,
        source: dict[str, Any] | str,
        pipeline: str,
        data_format: str | None = None,
        artifact_store: str | None = None,
        source_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.pipeline = pipeline
        self.data_format = data_format
        self.artifact_store = artifact_store
        self.source_conn_id = source_conn_id

    def source_config(self) -> dict[str, Any]:
        """The source dict, with data_format and source_conn_id applied to a files source."""
        source = (
            {"kind": "files", "uri": self.source}
            if isinstance(self.source, str)
            else {**self.source}
        )
        if source.get("kind", "files") == "files":
            if self.data_format and not source.get("format"):
                source["format"] = self.data_format
            if self.source_conn_id and not source.get("conn_id"):
                source["conn_id"] = self.source_conn_id
        return source

    def execute(self, context) -> Snapshot:
        from airflow_ml_provider.hooks.data import DataSourceHook

        hook = DataSourceHook(self.source_config())
        # Read before the data: a change landing while we copy triggers the next run.
        changed_at = hook.latest_change()
        folder = snapshots_folder(self.artifact_store, self.pipeline)
        if is_local(folder):
            folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".partial-{uuid.uuid4().hex}.parquet"
        try:
            written = hook.write_parquet(partial)
            target = folder / written["sha256"][:16] / "data.parquet"
            reused = target.exists()
            if reused:
                partial.unlink()
            else:
                publish(partial, target)
        except BaseException:
            if partial.exists():
                partial.unlink()
            raise
        result: Snapshot = {
            "uri": str(target),
            "sha256": written["sha256"],
            "format": "parquet",
            "bytes": written["bytes"],
            "rows": written["rows"],
            "columns": written["columns"],
            "reused": reused,
            "source": hook.describe(),
            "source_changed_at": changed_at,
        }
        _write_record(folder, result)
        self.log.info(
            "snapshot %s: %s, %d rows, %d bytes, sha256 %s",
            "reused" if reused else "written",
            result["source"],
            result["rows"],
            result["bytes"],
            result["sha256"],
        )
        self.lineage_result = result
        return result

    def get_openlineage_facets_on_complete(self, task_instance):
        """OpenLineage: the source's files or table in, the snapshot (schema, rows) out."""
        from airflow_ml_provider.operators import lineage

        snapshot, _ = lineage.kept(self)
        return lineage.operator_lineage(
            lineage.source_datasets(self.source_config()),
            [lineage.snapshot_dataset(snapshot, with_statistics=True)],
        )

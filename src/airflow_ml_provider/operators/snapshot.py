"""snapshot_data: copy the source into the artifact store under its content hash."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from airflow.sdk import BaseOperator, ObjectStoragePath

from airflow_ml_provider import settings

_CHUNK = 4 * 1024 * 1024


def _hash_of(path: ObjectStoragePath) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class SnapshotDataOperator(BaseOperator):
    """Copy ``source`` into ``<artifact_store>/snapshots/<pipeline>/<sha256[:16]>/data.<fmt>``.

    Same content gives the same path, and an existing snapshot is never overwritten, so
    re-running the task is idempotent. Returns ``{uri, sha256, format, bytes, reused}``.
    """

    template_fields = ("source", "artifact_store")
    ui_color = "#e8f4fa"

    def __init__(
        self,
        *,
        source: str,
        pipeline: str,
        data_format: str,
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

    def execute(self, context) -> dict[str, Any]:
        source = ObjectStoragePath(self.source, conn_id=self.source_conn_id)
        if not source.exists():
            raise FileNotFoundError(f"data source {self.source} does not exist")
        sha256, size = _hash_of(source)
        if size == 0:
            raise ValueError(f"data source {self.source} is empty (0 bytes); refusing to snapshot")
        root = ObjectStoragePath(self.artifact_store or settings.artifact_store())
        target = root / "snapshots" / self.pipeline / sha256[:16] / f"data.{self.data_format}"
        reused = target.exists()
        if not reused:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.parent / f".partial-{uuid.uuid4().hex}"
            with source.open("rb") as reader, partial.open("wb") as writer:
                while chunk := reader.read(_CHUNK):
                    writer.write(chunk)
            partial.rename(target)
        self.log.info(
            "snapshot %s of %s (%d bytes, sha256 %s)",
            "reused" if reused else "written",
            self.source,
            size,
            sha256,
        )
        return {
            "uri": str(target),
            "sha256": sha256,
            "format": self.data_format,
            "bytes": size,
            "reused": reused,
        }

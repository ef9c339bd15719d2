"""Where a pipeline's snapshots live in the artifact store, and the record of its last one
(what snapshot_data returned), which the new-data sensor compares with."""

from __future__ import annotations

import json
from typing import Any

from airflow.sdk import ObjectStoragePath

from airflow_ml_provider import settings

LAST_SNAPSHOT = "last_snapshot.json"


def snapshots_folder(artifact_store: str | None, pipeline: str) -> ObjectStoragePath:
    """``<artifact_store>/snapshots/<pipeline>`` (the configured store when None)."""
    return ObjectStoragePath(artifact_store or settings.artifact_store()) / "snapshots" / pipeline


def last_snapshot(artifact_store: str | None, pipeline: str) -> dict[str, Any] | None:
    """The pipeline's last successful snapshot (what snapshot_data returned), or None."""
    record = snapshots_folder(artifact_store, pipeline) / LAST_SNAPSHOT
    if not record.exists():
        return None
    return json.loads(record.read_text())

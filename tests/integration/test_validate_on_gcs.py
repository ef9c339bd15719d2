"""validate_data with everything on gs://, as in a cluster: the snapshot, the champion's
data, the inferred schema versions, the drift profile and the Data Docs all live in a real
GCS endpoint (gcp-storage-emulator on 127.0.0.1) and go through ObjectStoragePath."""

from __future__ import annotations

import io

import pandas as pd

from helpers.gcs_emulator import gcs  # noqa: F401  (fixture)
from helpers.paths import EXAMPLE_CSV
from helpers.validation import run_validation


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    return buffer.getvalue()


def test_validation_reads_and_writes_the_artifact_store_on_gcs(gcs, airflow_db):  # noqa: F811
    original = pd.read_csv(EXAMPLE_CSV)
    shifted = original.assign(**{"mean radius": original["mean radius"] + 5})
    gcs.upload("store/snapshots/p/old/data.parquet", parquet_bytes(original))
    gcs.upload("store/snapshots/p/new/data.parquet", parquet_bytes(shifted))

    state, validation = run_validation(
        "validate_on_gcs",
        snapshot={"uri": gcs.uri("store/snapshots/p/new/data.parquet"), "format": "parquet"},
        target="target",
        pipeline="p",
        artifact_store=gcs.uri("store"),
        drift={"method": "psi", "action": "warn"},
        drift_baseline_uri=gcs.uri("store/snapshots/p/old/data.parquet"),
    )
    assert state == "success"
    assert validation["rows"] == 569
    assert validation["drift"]["drifted_columns"] == ["mean radius"]
    assert validation["warnings"][0].startswith("drift: ")
    assert validation["schema"]["stored_version"] == 1
    assert validation["data_docs_uri"] == gcs.uri(
        f"store/snapshots/p/new/data_docs/{validation['report_uri'].rsplit('/', 1)[1][:-5]}"
        "/index.html"
    )
    stored = {blob.name for blob in gcs.client.list_blobs(gcs.bucket, prefix="store/")}
    assert "store/schemas/p/schema-v1.json" in stored
    assert "store/snapshots/p/new/profile.json" in stored
    assert validation["data_docs_uri"].removeprefix(f"gs://{gcs.bucket}/") in stored
    assert validation["report_uri"].removeprefix(f"gs://{gcs.bucket}/") in stored

"""ValidateDataOperator on its own in a hand-written DAG (no YAML, no MLflow): a pinned,
reviewed schema and an explicit drift baseline, through dag.test() on a real Airflow DB."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers.paths import EXAMPLE_CSV
from helpers.validation import run_validation


@pytest.fixture
def reviewed(tmp_path: Path) -> tuple[Path, Path]:
    """A reviewed schema file (the inferred format, edited by a person) and a data copy."""
    from airflow_ml_provider.ml.data.schema import infer_schema

    frame = pd.read_csv(EXAMPLE_CSV)
    schema = infer_schema(frame)
    schema["columns"]["target"]["domain"] = None  # reviewed: target is numeric 0/1
    schema_path = tmp_path / "reviewed.yaml"
    schema_path.write_text(yaml.safe_dump(schema))
    return schema_path, tmp_path


def test_pinned_schema_and_explicit_drift_baseline_fail_by_name(reviewed, airflow_db):
    schema_path, folder = reviewed
    frame = pd.read_csv(EXAMPLE_CSV)
    changed = frame.drop(columns="mean smoothness").assign(**{"mean area": frame["mean area"] * 3})
    changed.to_csv(folder / "today.csv", index=False)
    state, validation = run_validation(
        "standalone_validate_fail",
        snapshot={"uri": f"file://{folder}/today.csv", "format": "csv"},
        target="target",
        schema=f"file://{schema_path}",
        pipeline="standalone",
        artifact_store=f"file://{folder}/artifacts",
        drift={"method": "wasserstein", "threshold": 0.5, "action": "fail"},
        drift_baseline_uri=str(EXAMPLE_CSV),
    )
    assert state == "failed"
    assert validation["success"] is False
    assert validation["schema"]["mode"] == "pinned"
    assert [(f["check"], f["column"]) for f in validation["schema"]["findings"]] == [
        ("missing_column", "mean smoothness")
    ]
    assert validation["drift"]["drifted_columns"] == ["mean area"]
    assert validation["drift"]["baseline_uri"] == str(EXAMPLE_CSV)
    report = json.loads(Path(validation["report_uri"].removeprefix("file://")).read_text())
    assert report["success"] is False  # the result is recorded even though the task failed
    assert not (folder / "artifacts" / "schemas").exists()  # a pinned schema is never rewritten


def test_on_failure_warn_goes_on_and_keeps_the_pinned_schema(reviewed, airflow_db):
    schema_path, folder = reviewed
    frame = pd.read_csv(EXAMPLE_CSV)
    frame.drop(columns="mean smoothness").to_csv(folder / "today.csv", index=False)
    state, validation = run_validation(
        "standalone_validate_warn",
        snapshot={"uri": f"file://{folder}/today.csv", "format": "csv"},
        target="target",
        schema=f"file://{schema_path}",
        on_failure="warn",
        drift=None,
    )
    assert state == "success"
    assert validation["success"] is True
    assert validation["warnings"] == ["schema missing_column: column 'mean smoothness' is missing"]
    assert validation["drift"] is None


def test_the_frame_is_hashed_once_and_data_docs_can_be_skipped(tmp_path, airflow_db, monkeypatch):
    """Real Great Expectations on the example data: each column is hashed once per validation
    (by the duplicate-row guard's row hashes; GX's own batch fingerprint is skipped), GX's
    threshold is put back afterwards, and ``data_docs=False`` validates the same without
    rendering Data Docs. ``hash_pandas_object`` is wrapped to count calls; it still does
    the hashing."""
    import great_expectations.execution_engine.pandas_execution_engine as engine

    calls: list[int] = []
    real_hash = pd.util.hash_pandas_object

    def counting(frame, *args, **kwargs):
        calls.append(len(frame))
        return real_hash(frame, *args, **kwargs)

    monkeypatch.setattr(pd.util, "hash_pandas_object", counting)
    saved_threshold = engine.HASH_THRESHOLD
    data = tmp_path / "snapshot.csv"  # results and Data Docs are written beside the snapshot
    data.write_bytes(EXAMPLE_CSV.read_bytes())
    common = {
        "snapshot": {"uri": data.as_uri(), "format": "csv"},
        "expectations": [{"expect_column_values_to_not_be_null": {"column": "mean radius"}}],
        "target": "target",
        "schema": None,
        "artifact_store": f"file://{tmp_path}/artifacts",
    }
    state, with_docs = run_validation("hash_once_docs", **common)
    example = pd.read_csv(EXAMPLE_CSV)
    once_each = [len(example)] * example.shape[1]
    assert state == "success" and calls == once_each
    assert saved_threshold == engine.HASH_THRESHOLD
    assert with_docs["data_docs_uri"].endswith("index.html")

    calls.clear()
    state, without_docs = run_validation("hash_once_no_docs", data_docs=False, **common)
    assert state == "success" and calls == once_each
    assert without_docs["data_docs_uri"] is None
    assert without_docs["results"] == with_docs["results"]

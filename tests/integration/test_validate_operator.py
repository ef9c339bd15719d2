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
    from airflow_ml_provider.ml.schema import infer_schema

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

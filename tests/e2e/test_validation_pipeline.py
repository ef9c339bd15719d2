"""Bad data never reaches the registry: whole pipelines through dag.test() with real Airflow
(SQLite), real MLflow, real Great Expectations and real scikit-learn models."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from helpers.paths import EXAMPLE_CSV
from helpers.pipelines import edit, run, tracking_tags, versions_of, write_pipeline

TRAINING_TASKS = ("train_model", "evaluate_model", "register_model", "deploy_model")


def set_data(folder: Path, frame: pd.DataFrame) -> None:
    frame.to_csv(folder / "data" / EXAMPLE_CSV.name, index=False)


def assert_stopped_before_training(result: dict, failed_task: str) -> None:
    assert result["state"] == "failed", result
    assert result["tasks"][failed_task] == "failed"
    for task in TRAINING_TASKS:
        assert result["tasks"][task] == "upstream_failed", result["tasks"]
    assert result["model"]["aliases"] == {}


def test_drift_schema_and_data_docs_across_runs(tmp_path, airflow_db):
    """Run 1 promotes and stores the schema; run 2 has one shifted feature (drift is the
    reason to retrain: it goes on, and the table reaches MLflow); run 3 renames a column."""
    original = pd.read_csv(EXAMPLE_CSV)
    path = write_pipeline(tmp_path, "e2e_validation")

    first = run(path)
    assert first["state"] == "success", first
    assert first["validation"]["drift"] is None  # no champion yet: nothing to compare with
    docs = first["validation"]["data_docs_uri"]
    assert docs.startswith("file://") and docs.endswith("/index.html")
    index = Path(docs.removeprefix("file://"))
    assert index.is_file() and "Great Expectations" in index.read_text()
    assert Path(first["snapshot"]["uri"].removeprefix("file://")).parent in index.parents
    # The "Data Docs" extra link's stored URL: the local store's file, served by the plugin.
    from airflow_ml_provider.settings import data_docs_url

    link = first["links"]["data_docs"]
    assert link == data_docs_url(docs) and link.startswith("http")
    assert link.endswith(docs.split("/snapshots/", 1)[1])
    report = json.loads(Path(first["validation"]["report_uri"].removeprefix("file://")).read_text())
    assert report["schema"]["stored_version"] == 1
    # the compact drift profile later runs compare with, instead of re-reading this data
    profile = Path(first["snapshot"]["uri"].removeprefix("file://")).parent / "profile.json"
    assert json.loads(profile.read_text())["columns"]["mean radius"]["kind"] == "numeric"

    shifted = original.copy()
    shifted["mean radius"] += 2 * original["mean radius"].std()
    set_data(tmp_path, shifted)
    second = run(path)
    assert second["state"] == "success", second
    drift = second["validation"]["drift"]
    assert drift["drift"] is True and drift["action"] == "retrain"
    assert drift["drifted_columns"] == ["mean radius"]
    assert drift["baseline_uri"] == first["snapshot"]["uri"]
    tags = tracking_tags(second["mlflow_run_id"])
    assert tags["airflow_ml.drift"] == "true"
    assert tags["airflow_ml.retrain_reason"] == "drift"
    assert second["summary"]["validation"]["retrain_reason"] == "drift"
    assert "mean radius" in second["summary"]["validation"]["drift"]
    from airflow_ml_provider.hooks.mlflow import MlflowHook

    client = MlflowHook().get_conn()
    logged = {a.path for a in client.list_artifacts(second["mlflow_run_id"], "validation")}
    assert {"validation/drift.json", "validation/summary.json", "validation/drift.txt"} <= logged

    renamed = original.rename(columns={"worst area": "area_worst"})
    set_data(tmp_path, renamed)
    versions_before = versions_of("e2e_validation_model")
    third = run(path)
    assert third["state"] == "failed"
    assert third["tasks"]["validate_data"] == "failed"
    assert third["tasks"]["register_model"] == "upstream_failed"
    messages = [f["message"] for f in third["validation"]["schema_findings"]]
    assert "column 'worst area' is missing (renamed to 'area_worst'?)" in messages
    assert "column 'area_worst' is new" in messages
    assert versions_of("e2e_validation_model") == versions_before


def test_drift_action_fail_and_schema_warn(tmp_path, airflow_db):
    """action: fail stops a drifted run; on_failure: warn lets a schema change through."""
    original = pd.read_csv(EXAMPLE_CSV)
    path = write_pipeline(tmp_path, "e2e_drift_fail")
    edit(path, "validation:\n", "validation:\n  drift: {action: fail, method: ks}\n")
    assert run(path)["state"] == "success"

    shifted = original.assign(**{"mean texture": original["mean texture"] * 1.5})
    set_data(tmp_path, shifted)
    blocked = run(path)
    assert_stopped_before_training_but_kept_champion(blocked)
    assert blocked["validation"]["drift"]["drifted_columns"] == ["mean texture"]

    set_data(tmp_path, original.assign(extra_flag=1))
    edit(path, "drift: {action: fail, method: ks}", "drift: {action: fail}\n  on_failure: warn")
    warned = run(path)
    assert warned["state"] == "success", warned
    assert warned["validation"]["warnings"] == ["schema new_column: column 'extra_flag' is new"]
    assert warned["summary"]["validation"]["warnings"] == warned["validation"]["warnings"]


def assert_stopped_before_training_but_kept_champion(result: dict) -> None:
    assert result["state"] == "failed", result
    assert result["tasks"]["validate_data"] == "failed"
    for task in TRAINING_TASKS:
        assert result["tasks"][task] == "upstream_failed"
    assert result["model"]["aliases"] == {"challenger": 1, "champion": 1}


def test_stale_data_fails_the_run_and_registers_nothing(tmp_path, airflow_db):
    path = write_pipeline(tmp_path, "e2e_stale")
    frame = pd.read_csv(EXAMPLE_CSV)
    old = datetime.now(UTC) - timedelta(days=3)
    frame["event_time"] = [(old - timedelta(minutes=i)).isoformat() for i in range(len(frame))]
    set_data(tmp_path, frame)
    edit(
        path,
        "  target: target\n",
        "  target: target\n  freshness: {column: event_time, max_age: 2d}\n",
    )
    edit(path, "  features: null\n", f"  features: {json.dumps(list(frame.columns[:-2]))}\n")

    result = run(path)
    assert_stopped_before_training(result, "validate_data")
    [guard] = result["validation"]["guards"]
    assert guard["check"] == "freshness" and "data is stale" in guard["message"]
    assert versions_of("e2e_stale_model") == []


def test_header_only_file_fails_the_run_and_registers_nothing(tmp_path, airflow_db):
    """gokart's failure mode: yesterday's file exists but is empty."""
    path = write_pipeline(tmp_path, "e2e_empty")
    (tmp_path / "data" / EXAMPLE_CSV.name).write_text(
        EXAMPLE_CSV.read_text().splitlines()[0] + "\n"
    )
    result = run(path)
    assert result["state"] == "failed"
    assert "success" not in {result["tasks"][t] for t in ("snapshot_data", "validate_data")}
    for task in TRAINING_TASKS:
        assert result["tasks"][task] == "upstream_failed"
    assert versions_of("e2e_empty_model") == []


def test_sql_source_trains_from_a_query(tmp_path, airflow_db, monkeypatch):
    """data.source {kind: sql} through a real SQLite database behind an Airflow connection."""
    import sqlite3

    db = tmp_path / "warehouse.db"
    with sqlite3.connect(db) as conn:
        pd.read_csv(EXAMPLE_CSV).to_sql("cancer", conn, index=False)
    monkeypatch.setenv(
        "AIRFLOW_CONN_WAREHOUSE_E2E", json.dumps({"conn_type": "sqlite", "host": str(db)})
    )
    path = write_pipeline(tmp_path, "e2e_sql")
    edit(
        path,
        "  source: data/breast_cancer.csv\n  format: csv\n",
        "  source: {kind: sql, conn_id: warehouse_e2e, query: SELECT * FROM cancer}\n",
    )
    result = run(path)
    assert result["state"] == "success", result
    assert result["snapshot"]["rows"] == 569
    assert result["snapshot"]["uri"].endswith("/data.parquet")
    assert result["snapshot"]["source"].startswith("sql warehouse_e2e: SELECT * FROM cancer")
    assert result["validation"]["success"] is True
    assert result["model"]["aliases"] == {"challenger": 1, "champion": 1}

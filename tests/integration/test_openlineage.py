"""OpenLineage events of one pipeline run: the real OpenLineage provider's listener with its
file transport, around `airflow-ml run` (real Airflow, MLflow, Great Expectations)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from helpers.paths import EXAMPLE_CSV, EXAMPLE_YAML

BIN = Path(sys.executable).parent


def _completed_events(events_file: Path) -> dict[str, dict]:
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line]
    return {
        e["job"]["name"].split(".", 1)[1]: e
        for e in events
        if e["eventType"] == "COMPLETE" and "." in e["job"]["name"]
    }


def _names(datasets: list[dict]) -> list[tuple[str, str]]:
    return [(d["namespace"], d["name"]) for d in datasets]


def test_one_run_is_a_connected_graph_from_the_source_file_to_the_served_model(tmp_path):
    (tmp_path / "data").mkdir()
    shutil.copy(EXAMPLE_CSV, tmp_path / "data" / EXAMPLE_CSV.name)
    pipeline = tmp_path / "lineage.yaml"
    pipeline.write_text(
        EXAMPLE_YAML.read_text()
        .replace("pipeline: breast_cancer_ct", "pipeline: lineage")
        .replace("n_estimators: 200", "n_estimators: 20")
    )
    events_file = tmp_path / "events.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env["AIRFLOW__OPENLINEAGE__TRANSPORT"] = json.dumps(
        {"type": "file", "log_file_path": str(events_file), "append": True}
    )
    done = subprocess.run(
        [str(BIN / "airflow-ml"), "run", "--json", str(pipeline)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    tracking = f"sqlite:///{tmp_path / '.airflow-ml' / 'mlflow.db'}"
    events = _completed_events(events_file)

    snapshot = events["snapshot_data"]
    assert _names(snapshot["inputs"]) == [("file", str(tmp_path / "data" / EXAMPLE_CSV.name))]
    ((out_namespace, out_name),) = _names(snapshot["outputs"])
    assert (out_namespace, out_name) == ("file", summary["snapshot"]["uri"].removeprefix("file://"))
    assert ".partial" not in out_name  # the published snapshot, not its temporary name
    fields = snapshot["outputs"][0]["facets"]["schema"]["fields"]
    assert len(fields) == 31
    assert {"name": "target", "type": "int64"} in [
        {k: f[k] for k in ("name", "type")} for f in fields
    ]
    statistics = snapshot["outputs"][0]["outputFacets"]["outputStatistics"]
    assert statistics["rowCount"] == 569 and statistics["size"] == summary["snapshot"]["bytes"]

    validate = events["validate_data"]
    assert _names(validate["inputs"]) == [(out_namespace, out_name)]
    assertions = validate["inputs"][0]["inputFacets"]["dataQualityAssertions"]["assertions"]
    report = json.loads(
        Path(summary["validation"]["report_uri"].removeprefix("file://")).read_text()
    )
    assert len(assertions) == len(report["results"]) > 0
    assert all(a["success"] for a in assertions)
    assert {"assertion": "expect_column_values_to_not_be_null", "success": True} in [
        {k: a[k] for k in ("assertion", "success")} for a in assertions
    ]

    train = events["train_model"]
    assert _names(train["inputs"]) == [(out_namespace, out_name)]
    ((model_namespace, run_model),) = _names(train["outputs"])
    assert model_namespace == tracking
    metrics = train["run"]["facets"]["airflowMlMetrics"]["challenger"]
    assert set(metrics) >= {"roc_auc", "f1", "accuracy"}

    register = events["register_model"]
    version = f"models:/{summary['model']['name']}/{summary['model']['version']}"
    assert _names(register["inputs"]) == [(tracking, run_model)]  # train's output, same name
    assert _names(register["outputs"]) == [(tracking, version)]
    gate = register["run"]["facets"]["airflowMlGate"]
    assert gate["promoted"] is True and gate["primaryMetric"] == "roc_auc"
    assert {r["rule"] for r in gate["rules"]} >= {"beats_baseline"}
    assert (
        register["run"]["facets"]["airflowMlMetrics"]["challenger"]["roc_auc"]
        == (summary["metrics"]["challenger"]["roc_auc"])
    )

    deploy = events["deploy_model"]
    assert _names(deploy["inputs"]) == [(tracking, version)]
    assert _names(deploy["outputs"]) == [(tracking, f"models:/{summary['model']['name']}@champion")]
    deployment = deploy["run"]["facets"]["airflowMlDeployment"]
    assert (deployment["strategy"], deployment["version"]) == ("alias", 1)

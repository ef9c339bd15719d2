"""validate_data and evaluate_model in pods of their own (validation.runner and
evaluation.runner: kubernetes).

The runs talk over real HTTP to tests/helpers/kube_standin.py: a Kubernetes API server
stand-in on 127.0.0.1 plus a test "kubelet" that runs the pod's command as a local
subprocess (see that module's docstring for exactly what is stood in for). The pods' command
is the real ``python -m airflow_ml_provider.ml.step`` on the real snapshot, with real Great
Expectations; MLflow is a real SQLite tracking store; the DAG is built by the real factory
and run with dag.test().
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from test_kubernetes_steps import IMAGE, TRAINING_PODS

from helpers.kube_standin import FAST, job_of, training_cluster
from helpers.partitioned import region_rules
from helpers.pipelines import task_outcome


@pytest.fixture
def cluster(monkeypatch):
    """tests/helpers/kube_standin.py on 127.0.0.1 and the pipeline's cluster connection to it."""
    yield from training_cluster(monkeypatch)


GATE_PIPELINE = f"""\
pipeline: k8s_gate
data: {{source: data/regions.csv, target: label}}
validation:
  expectations: [{{expect_column_values_to_not_be_null: {{column: label}}}}]
  runner: kubernetes
  kubernetes: {{resources: {{requests: {{cpu: "1", memory: 12Gi}}}}}}
{TRAINING_PODS}evaluation:
  primary_metric: accuracy
  thresholds: {{accuracy: 0.6}}
  runner: kubernetes
  kubernetes: {{resources: {{requests: {{cpu: "2", memory: 24Gi}}, limits: {{memory: 32Gi}}}}}}
"""


def test_validation_and_the_gate_run_in_their_own_pods_and_decide_the_run(
    tmp_path, airflow_db, cluster
):
    """Built by the DAG factory from YAML: validate_data and evaluate_model run the step
    entrypoint in pods with their sections' resources. The validation pod runs Great
    Expectations on the snapshot and writes the Data Docs and drift profile beside it; the
    gate pod scores the challenger on the held-out rows against the baseline and logs
    gate/decision.json on the challenger's run; the summary and the decision they answer
    with are what the tasks return and register_model acts on."""
    import mlflow

    from airflow_ml_provider.cli.local_run import collect_result, run_dag
    from airflow_ml_provider.factory.builder import build_dag
    from airflow_ml_provider.pipeline_spec.loader import load_pipeline

    (tmp_path / "data").mkdir()
    region_rules().to_csv(tmp_path / "data" / "regions.csv", index=False)
    path = tmp_path / "k8s_gate.yaml"
    path.write_text(GATE_PIPELINE)
    loaded = load_pipeline(path)
    dag = build_dag(loaded)
    pod_tasks = [dag.get_task(t) for t in ("validate_data", "train_model", "evaluate_model")]
    assert [type(task).__name__ for task in pod_tasks] == [
        "KubernetesValidateDataOperator",
        "KubernetesTrainingOperator",
        "KubernetesEvaluateModelOperator",
    ]
    for task in pod_tasks:
        for setting, value in FAST.items():
            setattr(task, setting, value)
    dag_run = run_dag(dag)
    result = collect_result(dag, dag_run, loaded.spec.model_name, "mlflow_default")
    assert result["state"] == "success", (result["tasks"], cluster.requests[-5:])
    state, gate_xcom = task_outcome(dag_run, "evaluate_model")
    decision = gate_xcom["return_value"]
    assert state == "success" and decision["promote"] is True
    assert {rule["rule"] for rule in decision["rules"]} >= {"threshold_min", "beats_baseline"}
    assert decision["champion_version"] is None and decision["rows"] > 0
    assert result["model"]["aliases"]["champion"] == 1

    validate_pod, train_pod, gate_pod = cluster.created
    checks = job_of(validate_pod)
    assert checks["step"] == "validate_data" and checks["target"] == "label"
    assert validate_pod["spec"]["containers"][0]["resources"]["requests"]["memory"] == "12Gi"
    assert validate_pod["metadata"]["name"].startswith("k8s-gate-validate")
    _, validation = task_outcome(dag_run, "validate_data")
    summary = validation["return_value"]
    assert summary["success"] is True and summary["rows"] == 720
    assert summary["evaluated"] >= 1 and summary["failed_expectations"] == []
    assert summary["schema"]["mode"] == "infer" and summary["schema"]["stored_version"] == 1
    assert summary["drift_skipped"] == "no champion training data to compare with yet"
    docs = Path(summary["data_docs_uri"].removeprefix("file://"))
    assert docs.name == "index.html" and "<html" in docs.read_text().lower()
    assert checks["profile_file"] and Path(checks["profile_file"].removeprefix("file://")).exists()
    job = job_of(gate_pod)
    assert job["step"] == "evaluate_model" and job["thresholds"] == {"accuracy": 0.6}
    container = gate_pod["spec"]["containers"][0]
    assert "airflow_ml_provider.ml.step" in " ".join(container["command"])
    assert container["resources"]["requests"] == {"cpu": "2", "memory": "24Gi"}
    assert train_pod["spec"]["containers"][0]["resources"]["requests"]["memory"] == "2Gi"
    assert gate_pod["metadata"]["name"].startswith("k8s-gate-gate")
    run_id = job["training"]["run_id"]
    logged = mlflow.artifacts.load_dict(f"runs:/{run_id}/gate/decision.json")
    assert logged["promote"] is True and logged["rules"] == decision["rules"]
    assert mlflow.get_run(run_id).data.tags["airflow_ml.gate"] == "promote"
    assert cluster.pods == {}


def test_a_failed_expectation_in_the_validation_pod_fails_the_task_naming_it(
    tmp_path, airflow_db, cluster
):
    """The pod only checks; the task decides: a failed expectation in the pod's summary fails
    validate_data with the expectation named, as on the worker."""
    from airflow.sdk import DAG

    from airflow_ml_provider.cli.local_run import run_dag
    from airflow_ml_provider.operators.kubernetes_steps import KubernetesValidateDataOperator

    snapshot = tmp_path / "snapshot" / "data.parquet"
    snapshot.parent.mkdir()
    region_rules().to_parquet(snapshot)
    errors: list[BaseException] = []
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with DAG("k8s_validate_fails", schedule=None, start_date=start) as dag:
        KubernetesValidateDataOperator(
            task_id="validate_data",
            pipeline="k8s_validate_fails",
            snapshot={"uri": str(snapshot), "format": "parquet", "sha256": "cd" * 32},
            target="label",
            expectations=[{"expect_column_values_to_be_in_set": {"column": "region",
                                                                 "value_set": ["north"]}}],
            schema=None,
            drift=None,
            image=IMAGE,
            kubernetes_conn_id="kubernetes_test",
            on_failure_callback=lambda context: errors.append(context["exception"]),
            **FAST,
        )  # fmt: skip
    state, _ = task_outcome(run_dag(dag), "validate_data")
    assert state == "failed"
    (error,) = errors
    first_line = str(error).splitlines()[0]
    assert first_line.startswith("data validation failed (1 problem(s)): ")
    assert "expect_column_values_to_be_in_set" in first_line and "region" in first_line
    assert len(cluster.created) == 1 and cluster.pods == {}
    reports = list((snapshot.parent / "validation").glob("*.json"))
    assert len(reports) == 1 and '"success": false' in reports[0].read_text()

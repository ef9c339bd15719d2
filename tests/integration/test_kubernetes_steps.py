"""plan_partitions and assemble_model in pods of their own (training.partitioning.runner:
kubernetes).

The runs talk over real HTTP to tests/helpers/kube_standin.py: a Kubernetes API server
stand-in on 127.0.0.1 plus a test "kubelet" that runs the pod's command as a local
subprocess (see that module's docstring for exactly what is stood in for). The pod's command
is the real ``python -m airflow_ml_provider.ml.step`` on the real snapshot; MLflow is a real
SQLite tracking store; the DAG is built by the real factory and run with dag.test().
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from helpers.kube_standin import FAST, training_cluster
from helpers.partitioned import region_rules
from helpers.pipelines import task_outcome

IMAGE = "registry.example.com/ml/trainer:1.4.2"
TRAINING_PODS = f"""\
training:
  estimator: sklearn.linear_model.LogisticRegression
  runner: kubernetes
  kubernetes:
    image: {IMAGE}
    resources: {{requests: {{cpu: "1", memory: 2Gi}}, limits: {{memory: 2Gi}}}}
    kubernetes_conn_id: kubernetes_test
"""
PIPELINE = f"""\
data: {{source: data/regions.csv, target: label, partition_by: region}}
{TRAINING_PODS}  partitioning:
    partitions_per_task: 2
    min_partition_rows: 20
    runner: kubernetes
    kubernetes: {{resources: {{requests: {{cpu: "4", memory: 48Gi}}, limits: {{memory: 64Gi}}}}}}
evaluation: {{primary_metric: accuracy}}
"""


@pytest.fixture
def cluster(monkeypatch):
    """tests/helpers/kube_standin.py on 127.0.0.1 and the pipeline's cluster connection to it."""
    yield from training_cluster(monkeypatch)


def job_of(pod) -> dict:
    env = pod["spec"]["containers"][0]["env"]
    return json.loads(next(e["value"] for e in env if e["name"] == "AIRFLOW_ML_JOB"))


def test_plan_and_assembly_run_in_their_own_pods_around_the_training_pods(
    tmp_path, airflow_db, cluster
):
    """Built by the DAG factory from YAML: plan_partitions and assemble_model run the step
    entrypoint in pods with partitioning.kubernetes' resources (the training pods keep
    training.kubernetes'), the chunk files and plan.json are where the training pods read
    them, and the router model the assembly pod logs is the one registered."""
    from airflow_ml_provider.cli.local_run import collect_result, run_dag
    from airflow_ml_provider.factory.builder import build_dag
    from airflow_ml_provider.pipeline_spec.loader import load_pipeline

    (tmp_path / "data").mkdir()
    region_rules().to_csv(tmp_path / "data" / "regions.csv", index=False)
    path = tmp_path / "k8s_plan.yaml"
    path.write_text("pipeline: k8s_plan\n" + PIPELINE)
    loaded = load_pipeline(path)
    dag = build_dag(loaded)
    step_tasks = [dag.get_task("plan_partitions"), dag.get_task("assemble_model")]
    assert [type(task).__name__ for task in step_tasks] == [
        "KubernetesPlanPartitionsOperator",
        "KubernetesAssembleModelOperator",
    ]
    for task in step_tasks:
        for setting, value in FAST.items():
            setattr(task, setting, value)
    dag.get_task("train_partitions").partial_kwargs.update(FAST)
    dag_run = run_dag(dag)
    result = collect_result(dag, dag_run, loaded.spec.model_name, "mlflow_default")
    assert result["state"] == "success", (result["tasks"], cluster.requests[-5:])
    assert result["partitions"]["trained"] == 6
    assert result["model"]["aliases"]["champion"] == 1

    plan_pod, *training_pods, assemble_pod = cluster.created
    assert len(training_pods) == 4  # 3 chunks of 2 partitions + the fallback
    job = job_of(plan_pod)
    assert job["step"] == "plan_partitions" and job["version"] == 1
    for step_pod, name in ((plan_pod, "k8s-plan-plan"), (assemble_pod, "k8s-plan-assemble")):
        container = step_pod["spec"]["containers"][0]
        assert "airflow_ml_provider.ml.step" in " ".join(container["command"])
        assert container["resources"]["requests"] == {"cpu": "4", "memory": "48Gi"}
        assert container["resources"]["limits"] == {"memory": "64Gi"}
        assert step_pod["metadata"]["name"].startswith(name)
        assert step_pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assembly = job_of(assemble_pod)
    assert assembly["step"] == "assemble_model"
    assert assembly["training"]["min_success_ratio"] == 1.0
    inputs = json.loads(Path(assembly["inputs"].removeprefix("file:")).read_text())
    assert inputs["plan"]["trainable"] == 6 and len(inputs["results"]) == 4
    import mlflow

    version = mlflow.MlflowClient().get_model_version(loaded.spec.model_name, "1")
    run = mlflow.get_run(version.run_id)
    assert run.data.metrics["partitions.trained"] == 6
    for pod in training_pods:
        assert pod["spec"]["containers"][0]["resources"]["requests"]["memory"] == "2Gi"
    plan = json.loads((Path(job["folder"].removeprefix("file:")) / "plan.json").read_text())
    assert plan["trainable"] == 6 and len(plan["chunks"]) == 3
    uris = sorted(job_of(pod)["partitions"].get("uri") or "" for pod in training_pods)
    assert [u.rsplit("/", 1)[-1] for u in uris if u] == [
        f"chunk-{index:05d}.parquet" for index in range(3)
    ]
    assert all(u.startswith(job["folder"]) for u in uris if u)
    assert cluster.pods == {}  # every pod deleted when it finished


def plan_dag(tmp_path, name: str, image: str = IMAGE):
    """A one-task DAG: KubernetesPlanPartitionsOperator over a parquet snapshot."""
    from airflow.sdk import DAG

    from airflow_ml_provider.operators.kubernetes_steps import KubernetesPlanPartitionsOperator

    snapshot = tmp_path / "snapshot" / "data.parquet"
    snapshot.parent.mkdir()
    region_rules().to_parquet(snapshot)
    errors: list[BaseException] = []
    with DAG(name, schedule=None, start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)) as dag:
        KubernetesPlanPartitionsOperator(
            task_id="plan_partitions",
            pipeline=name,
            snapshot={"uri": str(snapshot), "format": "parquet", "sha256": "ab" * 32},
            target="label",
            partition_by="region",
            task="classification",
            min_partition_rows=20,
            partitions_per_task=4,
            image=image,
            resources={"limits": {"memory": "3Gi"}},
            kubernetes_conn_id="kubernetes_test",
            on_failure_callback=lambda context: errors.append(context["exception"]),
            **FAST,
        )
    return dag, errors


def test_a_second_run_on_the_same_data_reuses_the_plan_without_a_pod(tmp_path, airflow_db, cluster):
    from airflow_ml_provider.cli.local_run import run_dag

    dag, _ = plan_dag(tmp_path, "k8s_plan_reuse")
    first_state, first = task_outcome(run_dag(dag), "plan_partitions")
    assert first_state == "success", cluster.requests[-5:]
    assert len(cluster.created) == 1
    assert [item["chunk"] for item in first["return_value"]] == [0, 1, "fallback"]
    assert first["plan"]["trainable"] == 6

    second_state, second = task_outcome(run_dag(dag), "plan_partitions")
    assert second_state == "success"
    assert len(cluster.created) == 1  # the plan.json of the first run: no second pod
    assert second["plan"] == first["plan"]
    assert cluster.pods == {}


def test_an_oom_killed_plan_pod_says_which_setting_to_raise(tmp_path, airflow_db, cluster):
    from airflow_ml_provider.cli.local_run import run_dag

    image = "registry.example.com/ml/trainer:oom"
    cluster.behaviours[image] = "oom"
    dag, errors = plan_dag(tmp_path, "k8s_plan_oom", image=image)
    state, _ = task_outcome(run_dag(dag), "plan_partitions")
    assert state == "failed"
    (error,) = errors
    first_line = str(error).splitlines()[0]
    assert first_line.startswith("plan_partitions pod ")
    assert "was OOMKilled: it used more than its memory limit (3Gi)" in first_line
    assert "raise training.partitioning.kubernetes.resources.limits.memory" in first_line
    assert cluster.pods == {}


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

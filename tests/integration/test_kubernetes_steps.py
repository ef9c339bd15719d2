"""plan_partitions and assemble_model in pods of their own (training.partitioning.runner:
kubernetes); validate_data and evaluate_model are in test_kubernetes_checks.py.

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

from helpers.kube_standin import FAST, job_of, training_cluster
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

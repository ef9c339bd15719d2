"""KubernetesTrainingOperator: the pod it asks for, and the real operator code path.

Pod rendering needs no cluster (KPO's ``build_pod_request_obj``). The runs talk over real
HTTP to tests/helpers/kube_standin.py: a Kubernetes API server stand-in on 127.0.0.1 plus a test
"kubelet" that runs the pod's command as a local subprocess (see that module's docstring
for exactly what is stood in for). MLflow is a real SQLite tracking store.
"""

from __future__ import annotations

import json
import types

import pytest

from helpers.kube_standin import FAST, training_cluster
from helpers.partitioned import region_rules
from helpers.paths import EXAMPLE_CSV, EXAMPLE_YAML
from helpers.pipelines import task_outcome

KUBERNETES = """\
  runner: kubernetes
  kubernetes:
    image: registry.example.com/ml/trainer:1.4.2
    namespace: ml-training
    service_account: ml-trainer
    resources: {requests: {cpu: "2", memory: 4Gi}, limits: {memory: 8Gi, nvidia.com/gpu: 1}}
    node_selector: {pool: training}
    tolerations:
      - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule, tolerationSeconds: 60}
    priority_class: ml-batch
    env_from_secrets: [mlflow-auth, storage-credentials]
    kubernetes_conn_id: kubernetes_test
    startup_timeout: 3m
"""
MLFLOW_PASSWORD = "s3cret-not-for-the-job"


def write_pipeline(tmp_path, name: str, kubernetes: str = KUBERNETES):
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / EXAMPLE_CSV.name).write_bytes(EXAMPLE_CSV.read_bytes())
    text = (
        EXAMPLE_YAML.read_text()
        .replace("pipeline: breast_cancer_ct", f"pipeline: {name}")
        .replace("n_estimators: 200", "n_estimators: 20")
        .replace("  runner: local\n", kubernetes)
    )
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def training_operator(loaded, snapshot, **overrides):
    """KubernetesTrainingOperator wired from a LoadedPipeline the way the factory does."""
    from airflow_ml_provider.operators.kubernetes_training import (
        KubernetesTrainingOperator,
        pod_arguments,
    )

    spec = loaded.spec
    arguments = {
        "task_id": "train_model",
        "snapshot": snapshot,
        "pipeline": spec.pipeline,
        "target": spec.data.target,
        "features": spec.data.features,
        "estimator": spec.training.estimator,
        "estimator_params": dict(spec.training.params),
        "task": spec.training.task_type,
        "metrics": spec.evaluation.all_metrics,
        "split": spec.data.split.model_dump(),
        "experiment_name": spec.experiment_name,
        "config_hash": loaded.config_hash,
        "mlflow_conn_id": spec.registry.mlflow_conn_id,
        "execution_timeout": spec.training.timeout,
        **pod_arguments(loaded),
    }
    arguments.update(overrides)
    return KubernetesTrainingOperator(**arguments)


def fake_context(run_id: str = "scheduled__2026-03-01T00:00:00+00:00", try_number: int = 2):
    ti = types.SimpleNamespace(
        dag_id="k8s_render", task_id="train_model", try_number=try_number, map_index=-1
    )
    return {"ti": ti, "run_id": run_id, "dag": types.SimpleNamespace(dag_id="k8s_render")}


@pytest.fixture
def kubernetes_conn(monkeypatch):
    """The pipeline's cluster connection (no cluster behind it: rendering needs none)."""
    monkeypatch.setenv("AIRFLOW_CONN_KUBERNETES_TEST", json.dumps({"conn_type": "kubernetes"}))


def test_pod_spec_renders_from_yaml_without_a_cluster(tmp_path, monkeypatch, kubernetes_conn):
    from airflow_ml_provider.pipeline_spec.loader import load_pipeline

    monkeypatch.setenv(
        "AIRFLOW_CONN_MLFLOW_REMOTE",
        json.dumps(
            {
                "conn_type": "mlflow",
                "host": "https://mlflow.example.com",
                "login": "trainer",
                "password": MLFLOW_PASSWORD,
            }
        ),
    )
    path = write_pipeline(tmp_path, "k8s_render")
    path.write_text(
        path.read_text().replace("mlflow_conn_id: mlflow_default", "mlflow_conn_id: mlflow_remote")
    )
    loaded = load_pipeline(path)
    snapshot = {"uri": f"file://{EXAMPLE_CSV}", "format": "csv", "sha256": "abc123"}
    operator = training_operator(loaded, snapshot)
    assert operator.deferrable is True
    assert operator.on_finish_action.value == "delete_pod"
    assert operator.get_logs is True

    pod = operator.build_pod_request_obj(fake_context(), dry_run=True)
    spec = pod.spec
    base, sidecar = spec.containers
    assert (base.name, sidecar.name) == ("base", "airflow-xcom-sidecar")
    assert base.image == "registry.example.com/ml/trainer:1.4.2"
    assert pod.metadata.namespace == "ml-training"
    assert "-m airflow_ml_provider.ml.train --job" in base.command[-1]

    # Resources, GPU, scheduling.
    assert base.resources.requests == {"cpu": "2", "memory": "4Gi"}
    assert base.resources.limits == {"memory": "8Gi", "nvidia.com/gpu": "1"}
    assert spec.node_selector == {"pool": "training"}
    (toleration,) = spec.tolerations
    assert (toleration.key, toleration.operator, toleration.effect) == (
        "nvidia.com/gpu",
        "Exists",
        "NoSchedule",
    )
    assert toleration.toleration_seconds == 60
    assert spec.priority_class_name == "ml-batch"
    assert spec.restart_policy == "Never"

    # Secure by default.
    assert spec.service_account_name == "ml-trainer"
    assert spec.automount_service_account_token is False
    assert spec.security_context.run_as_non_root is True
    assert spec.security_context.run_as_user == 10001
    assert spec.security_context.seccomp_profile.type == "RuntimeDefault"
    for container in (base, sidecar):
        context = container.security_context
        assert context.run_as_non_root is True
        assert context.allow_privilege_escalation is False
        assert context.read_only_root_filesystem is True
        assert context.capabilities.drop == ["ALL"]
    volumes = {v.name: v for v in spec.volumes}
    assert volumes["scratch"].empty_dir is not None
    assert volumes["xcom"].empty_dir is not None
    mounts = {m.mount_path: m.name for m in base.volume_mounts}
    assert mounts == {"/tmp": "scratch", "/airflow/xcom": "xcom"}

    # Labels: pipeline, DAG run id sanitised to a label value, try number.
    labels = pod.metadata.labels
    assert labels["airflow-ml/pipeline"] == "k8s_render"
    assert labels["airflow-ml/try-number"] == "2"
    run_label = labels["airflow-ml/dag-run-id"]
    assert run_label.startswith("scheduled__2026-03-01T") and len(run_label) <= 63
    assert ":" not in run_label and "+" not in run_label

    # Secrets as envFrom; MLflow from the connection as env, never in the job.
    assert [e.secret_ref.name for e in base.env_from] == ["mlflow-auth", "storage-credentials"]
    env = {e.name: e.value for e in base.env}
    assert env["MLFLOW_TRACKING_URI"] == "https://mlflow.example.com"
    assert env["MLFLOW_TRACKING_USERNAME"] == "trainer"
    assert env["MLFLOW_TRACKING_PASSWORD"] == MLFLOW_PASSWORD
    assert env["HOME"] == "/tmp"
    raw_job = env["AIRFLOW_ML_JOB"]
    assert MLFLOW_PASSWORD not in raw_job and "mlflow.example.com" not in raw_job
    job = json.loads(raw_job)
    assert job["tracking_uri"] is None
    assert job["output"] == "/airflow/xcom/return.json"
    assert job["estimator"] == "sklearn.ensemble.RandomForestClassifier"
    assert job["data"]["uri"] == snapshot["uri"]
    assert job["tags"]["airflow_ml.try_number"] == 2


def test_pod_template_file_resolves_next_to_the_yaml(tmp_path, kubernetes_conn):
    from airflow_ml_provider.pipeline_spec.loader import load_pipeline

    (tmp_path / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: t}\n"
        "spec:\n  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
        "{nodeSelectorTerms: [{matchExpressions: [{key: zone, operator: In, values: [a]}]}]}}}\n"
        "  containers: [{name: base, image: ignored}]\n"
    )
    path = write_pipeline(
        tmp_path, "k8s_template", KUBERNETES + "    pod_template_file: pod.yaml\n"
    )
    operator = training_operator(load_pipeline(path), {"uri": "file:///x.csv", "format": "csv"})
    assert operator.pod_template_file == str(tmp_path / "pod.yaml")
    pod = operator.build_pod_request_obj(fake_context(), dry_run=True)
    assert pod.spec.affinity.node_affinity is not None  # from the template
    assert pod.spec.containers[0].image == "registry.example.com/ml/trainer:1.4.2"  # ours wins


def test_training_image_needs_no_airflow_and_pins_the_tested_versions():
    """Dockerfile.train installs the package --no-deps plus a pinned training list: the
    entrypoint must import nothing outside it, and the pins must be what the tests ran."""
    import importlib.metadata
    import re
    import subprocess
    import sys

    from helpers.paths import REPO

    dockerfile = (REPO / "Dockerfile.train").read_text()
    assert 'ENTRYPOINT ["python", "-m", "airflow_ml_provider.ml.train"]' in dockerfile
    assert "USER 10001:10001" in dockerfile
    assert "pip install --no-deps ." in dockerfile
    pins = dict(re.findall(r'"([A-Za-z0-9_.-]+)==([^"]+)"', dockerfile))
    assert {"pandas", "pyarrow", "scikit-learn", "mlflow-skinny", "skops"} <= set(pins)
    for name, version in pins.items():
        assert importlib.metadata.version(name) == version, name

    probe = (
        "import sys, runpy, mlflow.sklearn, skops.io\n"
        "import airflow_ml_provider.ml.train\n"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'airflow', 'kubernetes', 'great_expectations'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == ""


# -- the real operator against the stand-in ---------------------------------------------------


@pytest.fixture
def cluster(monkeypatch):
    """tests/helpers/kube_standin.py on 127.0.0.1 and the pipeline's cluster connection to it."""
    yield from training_cluster(monkeypatch)


def run_training_dag(tmp_path, name: str, kubernetes: str = KUBERNETES, **overrides):
    """A one-task DAG (train_model on the stand-in) through dag.test(); returns the run."""
    import datetime as dt

    from airflow.sdk import DAG

    from airflow_ml_provider.cli.local_run import run_dag
    from airflow_ml_provider.pipeline_spec.loader import load_pipeline

    loaded = load_pipeline(write_pipeline(tmp_path, name, kubernetes))
    csv = tmp_path / "data" / EXAMPLE_CSV.name
    snapshot = {"uri": f"file://{csv}", "format": "csv", "sha256": "0" * 64}
    with DAG(name, schedule=None, start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)) as dag:
        training_operator(loaded, snapshot, **{**FAST, **overrides})
    dag_run = run_dag(dag)
    return dag, dag_run


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "sync"])
def test_training_runs_in_the_pod_and_its_result_comes_back(
    tmp_path, airflow_db, cluster, deferrable, monkeypatch
):
    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from helpers.kube_rbac import chart_roles, denied

    # Where the platform serves the store's MLflow UI: the task's run link points there.
    monkeypatch.setenv("AIRFLOW__ML_PROVIDER__MLFLOW_UI_URL", "https://mlflow.example.com")

    name = f"k8s_train_{'deferred' if deferrable else 'sync'}"
    dag, dag_run = run_training_dag(tmp_path, name, deferrable=deferrable)
    state, xcoms = task_outcome(dag_run)
    assert state == "success", cluster.requests[-5:]
    result = xcoms["return_value"]
    assert result["metrics"]["roc_auc"] > 0.9
    assert result["rows_train"] + result["rows_test"] == 569
    assert xcoms["mlflow_run_url"].startswith("https://mlflow.example.com/#/experiments/")
    assert xcoms["mlflow_run_url"].endswith(f"/runs/{result['run_id']}")

    # The run really was logged by the pod's process, to the store named in its env.
    run = MlflowHook().get_conn().get_run(result["run_id"])
    assert run.data.tags["airflow_ml.pipeline"] == name
    assert run.data.tags["airflow_ml.dag_run_id"] == dag_run.run_id

    (pod,) = cluster.created
    labels = pod["metadata"]["labels"]
    assert labels["airflow-ml/pipeline"] == name
    assert labels["airflow-ml/try-number"] == "1"
    env = {e["name"] for e in pod["spec"]["containers"][0]["env"]}
    assert {"AIRFLOW_ML_JOB", "MLFLOW_TRACKING_URI", "HOME"} <= env
    assert cluster.pods == {}  # deleted on finish
    assert xcoms["pod_name"] == pod["metadata"]["name"]
    # Deferred: the trigger polled with kubernetes_asyncio, a second API client (the exec
    # websocket client sends no User-Agent).
    agents = cluster.user_agents - {""}
    assert len(agents) == (2 if deferrable else 1), agents
    # Every call Airflow made is one the Role of helm/airflow-ml allows in ml-training.
    assert cluster.api_calls
    assert denied(cluster.api_calls, chart_roles()) == []


@pytest.mark.parametrize(
    ("behaviour", "deferrable", "first_line"),
    [
        ("oom", True, "was OOMKilled: it used more than its memory limit (8Gi)"),
        ("oom", False, "was OOMKilled: it used more than its memory limit (8Gi)"),
        ("evicted", True, "was evicted from its node: The node was low on resource: memory."),
        ("image_pull", True, "cannot be pulled (ImagePullBackOff): Back-off pulling image"),
        ("image_pull", False, "cannot be pulled (ImagePullBackOff): Back-off pulling image"),
    ],
)
def test_pod_failures_are_explained_and_leave_no_pod(
    tmp_path, airflow_db, cluster, behaviour, deferrable, first_line
):
    image = f"registry.example.com/ml/trainer:{behaviour}"
    cluster.behaviours[image] = behaviour
    errors: list[BaseException] = []
    _, dag_run = run_training_dag(
        tmp_path,
        f"k8s_{behaviour}_{'deferred' if deferrable else 'sync'}",
        image=image,
        deferrable=deferrable,
        on_failure_callback=lambda context: errors.append(context["exception"]),
    )
    state, _ = task_outcome(dag_run)
    assert state == "failed"
    (error,) = errors
    assert type(error).__name__ == "TrainingPodFailed"
    assert first_line in str(error).splitlines()[0]
    assert len(cluster.created) == 1
    assert cluster.pods == {}  # deleted, nothing left running


def test_a_failing_training_shows_its_exit_code_and_last_lines(tmp_path, airflow_db, cluster):
    errors: list[BaseException] = []
    _, dag_run = run_training_dag(
        tmp_path,
        "k8s_bad_param",
        estimator_params={"n_estimators": "many"},
        on_failure_callback=lambda context: errors.append(context["exception"]),
    )
    assert task_outcome(dag_run)[0] == "failed"
    (error,) = errors
    first, *rest = str(error).splitlines()
    assert first.startswith("training exited with code ") and "last log lines:" in first
    assert any("n_estimators" in line for line in rest)
    assert cluster.pods == {}


GPU = """\
  runner: kubernetes
  kubernetes:
    image: registry.example.com/ml/trainer:1.4.2
    namespace: ml-training
    resources: {requests: {cpu: "2", memory: 4Gi}, gpu: 1}
    kubernetes_conn_id: kubernetes_test
"""


def test_a_gpu_pod_gets_its_limit_and_the_gpu_pool_from_the_helm_values(
    tmp_path, airflow_db, cluster, monkeypatch
):
    """``resources: {gpu: 1}`` becomes the ``nvidia.com/gpu`` limit, and a pod whose YAML
    names no placement gets the node selector and tolerations helm/values-airflow.yaml gives
    the [ml_provider] config (read from that file here); the pod is created and trains."""
    import yaml

    from helpers.paths import REPO

    values = yaml.safe_load((REPO / "helm" / "values-airflow.yaml").read_text())
    config = values["config"]["ml_provider"]
    monkeypatch.setenv("AIRFLOW__ML_PROVIDER__GPU_NODE_SELECTOR", config["gpu_node_selector"])
    monkeypatch.setenv("AIRFLOW__ML_PROVIDER__GPU_TOLERATIONS", config["gpu_tolerations"])
    _, dag_run = run_training_dag(tmp_path, "k8s_gpu", GPU, deferrable=False)
    assert task_outcome(dag_run)[0] == "success", cluster.requests[-5:]
    (pod,) = cluster.created
    spec = pod["spec"]
    base = spec["containers"][0]
    assert base["image"] == "registry.example.com/ml/trainer:1.4.2"
    assert base["resources"]["limits"] == {"nvidia.com/gpu": "1"}
    assert base["resources"]["requests"] == {"cpu": "2", "memory": "4Gi"}
    assert spec["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}
    assert spec["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]


def test_an_unschedulable_pod_names_the_schedulers_reason(tmp_path, airflow_db, cluster):
    """The stand-in keeps the pod Pending with PodScheduled=False/Unschedulable (no scheduler
    runs here); after startup_timeout the task error quotes the scheduler's message."""
    image = "registry.example.com/ml/trainer:unschedulable"
    cluster.behaviours[image] = "unschedulable"
    errors: list[BaseException] = []
    _, dag_run = run_training_dag(
        tmp_path,
        "k8s_unschedulable",
        image=image,
        deferrable=False,
        startup_timeout=2,
        on_failure_callback=lambda context: errors.append(context["exception"]),
    )
    assert task_outcome(dag_run)[0] == "failed"
    (error,) = errors
    first_line = str(error).splitlines()[0]
    assert "nschedulable" in first_line, str(error)
    assert "3 Insufficient nvidia.com/gpu" in str(error)
    assert cluster.pods == {}


def test_partitioned_training_fans_out_one_pod_per_chunk(tmp_path, airflow_db, cluster):
    """A partitioned pipeline with runner kubernetes, built by the DAG factory: the mapped
    KubernetesTrainingOperator starts one pod per chunk plus one for the fallback model (the
    stand-in's "kubelet" runs each pod's command), and the router model is registered."""
    from airflow_ml_provider.cli.local_run import collect_result, run_dag
    from airflow_ml_provider.factory.builder import build_dag
    from airflow_ml_provider.pipeline_spec.loader import load_pipeline

    (tmp_path / "data").mkdir()
    region_rules().to_csv(tmp_path / "data" / "regions.csv", index=False)
    path = tmp_path / "k8s_regions.yaml"
    path.write_text(
        "pipeline: k8s_regions\n"
        "data: {source: data/regions.csv, target: label, partition_by: region}\n"
        "training:\n"
        "  estimator: sklearn.linear_model.LogisticRegression\n"
        + KUBERNETES
        + "  partitioning: {partitions_per_task: 2, max_parallel: 2, min_partition_rows: 20}\n"
        "evaluation: {primary_metric: accuracy}\n"
    )
    loaded = load_pipeline(path)
    dag = build_dag(loaded)
    mapped = dag.get_task("train_partitions")
    assert mapped.partial_kwargs["max_active_tis_per_dagrun"] == 2
    mapped.partial_kwargs.update(FAST)
    dag_run = run_dag(dag)
    result = collect_result(dag, dag_run, loaded.spec.model_name, "mlflow_default")
    assert result["state"] == "success", (result["tasks"], cluster.requests[-5:])
    assert result["partitions"]["trained"] == 6
    assert result["model"]["aliases"]["champion"] == 1

    assert len(cluster.created) == 4  # 3 chunks of 2 partitions + the fallback
    jobs = [
        json.loads(
            next(
                e["value"]
                for e in pod["spec"]["containers"][0]["env"]
                if e["name"] == "AIRFLOW_ML_JOB"
            )
        )
        for pod in cluster.created
    ]
    assert sorted(str(job["partitions"]["chunk"]) for job in jobs) == ["0", "1", "2", "fallback"]
    assert all(job["data"]["partition_by"] == "region" for job in jobs)
    assert cluster.pods == {}  # every pod deleted when it finished


def test_candidates_fan_out_one_pod_each_with_its_own_resources(
    tmp_path, airflow_db, cluster, monkeypatch
):
    """training.candidates with runner kubernetes, built by the DAG factory: one pod per
    candidate (a candidate's own resources where it gives them, the training section's
    otherwise) and per worker of an Optuna search, then one pod refitting the winner; the
    leaderboard comes back through the pods' results. The search's workers share a study in
    the database of an Airflow connection (SQLite standing in for a cluster's PostgreSQL):
    its URL reaches the pods' environment, never their job."""
    import optuna

    from airflow_ml_provider.cli.local_run import collect_result, run_dag
    from airflow_ml_provider.factory.builder import build_dag
    from airflow_ml_provider.pipeline_spec.loader import load_pipeline
    from helpers.paths import EXAMPLE_CSV

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "breast_cancer.csv").write_bytes(EXAMPLE_CSV.read_bytes())
    path = tmp_path / "k8s_candidates.yaml"
    path.write_text(
        "pipeline: k8s_candidates\n"
        "data: {source: data/breast_cancer.csv, target: target}\n"
        "training:\n"
        "  cv_folds: 2\n"
        "  candidates:\n"
        "    - {name: dummy, estimator: sklearn.dummy.DummyClassifier}\n"
        "    - name: forest\n"
        "      estimator: sklearn.ensemble.RandomForestClassifier\n"
        "      params: {n_estimators: 20, random_state: 1}\n"
        "      kubernetes: {resources: {requests: {cpu: '4', memory: 2Gi}}}\n"
        "    - name: stump\n"
        "      estimator: sklearn.tree.DecisionTreeClassifier\n"
        "      search:\n"
        "        method: optuna\n"
        "        n_trials: 3\n"
        "        workers: 2\n"
        "        storage_conn_id: study_db\n"
        "        params: {max_depth: {distribution: randint, low: 1, high: 2}}\n"
        + KUBERNETES
        + "evaluation: {primary_metric: roc_auc}\n"
    )
    study_db = f"sqlite:///{tmp_path / 'study.db'}"
    monkeypatch.setenv("AIRFLOW_CONN_STUDY_DB", study_db)
    loaded = load_pipeline(path)
    # Up to the refitted winner: the gate, registry and deployment are not what is tested.
    dag = build_dag(loaded).partial_subset("select_model", include_upstream=True)
    for task_id in ("train_candidates", "select_model"):
        task = dag.get_task(task_id)
        (task.partial_kwargs if task_id == "train_candidates" else task.__dict__).update(FAST)
    dag_run = run_dag(dag)
    result = collect_result(dag, dag_run, loaded.spec.model_name, "mlflow_default")
    assert result["state"] == "success", (result["tasks"], cluster.requests[-5:])
    assert result["winner"] == "forest"
    assert [row["name"] for row in result["candidates"]] == ["forest", "stump", "dummy"]
    assert result["mlflow_run_id"]  # the refit's run, the candidates' parent

    def env_of(pod) -> dict[str, str]:
        return {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}

    def job_of(pod):
        return json.loads(env_of(pod)["AIRFLOW_ML_JOB"])

    def label(job) -> str:
        candidate = job.get("candidate") or {"name": "refit"}
        worker = candidate.get("worker", "") if candidate.get("workers", 1) > 1 else ""
        return f"{candidate['name']}{worker}"

    pods = {label(job_of(p)): p for p in cluster.created}
    assert set(pods) == {"dummy", "forest", "stump0", "stump1", "refit"}
    assert all(env_of(p)["MLFLOW_DISABLE_TELEMETRY"] == "true" for p in pods.values())
    for worker in ("stump0", "stump1"):
        assert env_of(pods[worker])["AIRFLOW_ML_STUDY_STORAGE"].endswith(f"{tmp_path}/study.db")
        assert "study.db" not in env_of(pods[worker])["AIRFLOW_ML_JOB"]
    study = optuna.get_all_study_summaries(study_db)
    assert [s.n_trials for s in study] == [3]
    resources = {name: p["spec"]["containers"][0]["resources"] for name, p in pods.items()}
    assert resources["forest"]["requests"] == {"cpu": "4", "memory": "2Gi"}
    assert resources["dummy"]["requests"] == {"cpu": "2", "memory": "4Gi"}  # the section's
    assert job_of(pods["refit"])["refit"]["winner"] == "forest"
    assert job_of(pods["refit"])["estimator"] == "sklearn.ensemble.RandomForestClassifier"
    assert cluster.pods == {}  # every pod deleted when it finished


def test_an_oom_killed_pod_is_retried_in_a_new_pod(tmp_path, airflow_db, cluster):
    """retries=1: the first pod is OOMKilled (stand-in), the task is retried, the second pod
    trains; both pods are gone afterwards and the try number is on each pod's labels."""
    import datetime as dt

    from airflow.sdk import DAG

    from airflow_ml_provider.cli.airflow_compat import serialize_dag
    from airflow_ml_provider.pipeline_spec.loader import load_pipeline

    image = "registry.example.com/ml/trainer:oom-once"
    cluster.behaviours[image] = "oom_once"
    loaded = load_pipeline(write_pipeline(tmp_path, "k8s_retry"))
    csv = tmp_path / "data" / EXAMPLE_CSV.name
    snapshot = {"uri": f"file://{csv}", "format": "csv", "sha256": "0" * 64}
    with DAG("k8s_retry", schedule=None, start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)) as dag:
        training_operator(
            loaded,
            snapshot,
            image=image,
            deferrable=False,
            retries=1,
            retry_delay=dt.timedelta(seconds=0),
            **FAST,
        )
    serialize_dag(dag)
    dag_run = dag.test()
    state, xcoms = task_outcome(dag_run)
    assert state == "success"
    assert xcoms["return_value"]["metrics"]["roc_auc"] > 0.9
    tries = [pod["metadata"]["labels"]["airflow-ml/try-number"] for pod in cluster.created]
    assert tries == ["1", "2"]
    assert cluster.pods == {}


def test_execution_timeout_fails_the_task_and_deletes_the_pod(tmp_path, airflow_db, cluster):
    """training.timeout -> execution_timeout: a pod that never finishes (stand-in "hang")
    fails the task with Airflow's timeout, and the pod is deleted — nothing left running."""
    import datetime as dt

    image = "registry.example.com/ml/trainer:hang"
    cluster.behaviours[image] = "hang"
    errors: list[BaseException] = []
    _, dag_run = run_training_dag(
        tmp_path,
        "k8s_timeout",
        image=image,
        deferrable=False,
        execution_timeout=dt.timedelta(seconds=6),
        on_failure_callback=lambda context: errors.append(context["exception"]),
    )
    assert task_outcome(dag_run)[0] == "failed"
    (error,) = errors
    assert type(error).__name__ == "AirflowTaskTimeout", repr(error)[:500]
    assert str(error) == (
        "training did not finish within its execution_timeout (0:00:06); the pod was deleted"
    )
    assert len(cluster.created) == 1
    assert cluster.pods == {}

"""deployment.strategy kubernetes: KubernetesDeploymentOperator through dag.test() against
tests/helpers/kube_serving_standin.py (real Airflow DB, real MLflow store, real scikit-learn
models).

Stood in for: the Kubernetes API server, the Deployment controller and the kubelet (see
that module's docstring). Real: the operator's kubernetes client over HTTP, and each serving
pod is a real ``ml.serve_verified`` process (MLflow's scoring server) answering real
prediction requests, reached through the stand-in's pod and Service proxy.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import mlflow
import pytest

from helpers.iris_versions import register

NAMESPACE = "ml-serving"
IMAGE = "registry.example.com/ml/trainer:0.1.0"


@pytest.fixture
def cluster(monkeypatch):
    from helpers.kube_serving_standin import ServingStandIn
    from helpers.kube_standin import use_as_connection

    with ServingStandIn() as standin:
        use_as_connection(standin, monkeypatch, "kubernetes_default")
        yield standin


def deploy(model_name: str, version: str, previous: str | None, **options):
    """One deploy_model run of ``version`` (already champion); (state, xcom, errors)."""
    from airflow_ml_provider.operators.kubernetes_deployment import (
        KubernetesDeploymentOperator,
    )
    from helpers.deploy_runs import run_deploy

    return run_deploy(
        KubernetesDeploymentOperator, model_name, version, previous, image=IMAGE,
        namespace=NAMESPACE, replicas=1, rollout_timeout=120, poll_interval=0.5, **options,
    )  # fmt: skip


def predict_through_service(cluster, name: str, model_uri: str) -> tuple[int, dict]:
    """What a client of the Service gets for the model's input example (status, body)."""
    from mlflow.artifacts import download_artifacts

    with open(download_artifacts(artifact_uri=f"{model_uri}/serving_input_example.json")) as f:
        payload = f.read().encode()
    url = (
        f"http://127.0.0.1:{cluster.port}/api/v1/namespaces/{NAMESPACE}/services/"
        f"{name}:8080/proxy/invocations"
    )
    request = urllib.request.Request(url, payload, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def served_version(cluster, name: str) -> str:
    template = cluster.deployments[(NAMESPACE, name)]["spec"]["template"]
    return template["metadata"]["labels"]["airflow-ml/model-version"]


def test_a_failed_rollout_is_undone_and_a_rollback_takes_the_server_back(
    airflow_db, cluster, capsys
):
    """v1 rolls out and serves; v2 (its input example lacks a feature) rolls out, its pod
    answers the smoke test with HTTP 400, and the Deployment goes back to v1's ReplicaSet
    while champion goes back to v1 — observed at the API and in the registry. Then a
    rollback after a good deploy takes the server back too. (A rollback whose serving fails
    is undone by the same undo; the alias going back with it: test_registry_cli.)"""
    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.ml.registry.aliases import history, promote
    from helpers.kube_rbac import chart_roles, denied

    client = MlflowHook().get_conn()
    mlflow.set_experiment("k8s-deploy")
    model = "Churn_Model"  # not DNS-safe: the Deployment is churn-model
    client.create_registered_model(model)
    good, bad = register(client, model), register(client, model, missing_feature=True)

    promote(client, model, good, actor="test", reason="first")
    state, result, errors = deploy(model, good, None)
    assert state == "success", errors
    assert result["strategy"] == "kubernetes"
    assert result["kubernetes"]["deployment"] == "churn-model"
    assert result["kubernetes"]["pods_tested"] == 1
    assert served_version(cluster, "churn-model") == good
    status, body = predict_through_service(cluster, "churn-model", f"models:/{model}/{good}")
    assert status == 200 and len(body["predictions"]) == 3

    promote(client, model, bad, actor="test", reason="gate passed")
    state, _, errors = deploy(model, bad, good)
    assert state == "failed"
    (error,) = errors
    message = str(error)
    assert f"rollout of models:/{model}@champion failed, rolled back" in message
    assert "did not predict on the model's input example (HTTP 400)" in message
    assert f"rolled back to its revision serving version {good}" in message

    # At the API: applied v2 (PUT), then the undo (PUT) to v1's template.
    puts = [r for r in cluster.requests if r.startswith("PUT") and "churn-model" in r]
    assert len(puts) == 2
    assert served_version(cluster, "churn-model") == good
    revisions = {
        rs["spec"]["template"]["metadata"]["labels"]["airflow-ml/model-version"]: rs
        for rs in cluster.replica_sets.values()
    }
    assert revisions[good]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert revisions[bad]["spec"]["replicas"] == 0
    status, body = predict_through_service(cluster, "churn-model", f"models:/{model}/{good}")
    assert status == 200 and len(body["predictions"]) == 3

    aliases = {k: str(v) for k, v in client.get_registered_model(model).aliases.items()}
    assert aliases["champion"] == good
    assert history(client, model)[-2]["reason"].startswith(
        f"rollback: rollout of version {bad} failed"
    )
    # Later, v3 (always class 2) deploys; `airflow-ml rollback` — which learns from the
    # registry that the champion is served on Kubernetes — moves champion back to v1 AND puts
    # v1's ReplicaSet back: the Service's answer changes from v3's prediction to v1's.
    third = register(client, model, always=2)
    promote(client, model, third, actor="test", reason="gate passed")
    state, _, errors = deploy(model, third, good)
    assert state == "success", errors
    recorded = json.loads(client.get_model_version(model, third).tags["airflow_ml.deployment"])
    assert (recorded["strategy"], recorded["settings"]["namespace"]) == ("kubernetes", NAMESPACE)
    status, body = predict_through_service(cluster, "churn-model", f"models:/{model}/{good}")
    assert status == 200 and body["predictions"] == [2, 2, 2]

    from airflow_ml_provider.cli import main

    tracking = ["--tracking-uri", MlflowHook().tracking_uri]
    assert main(["rollback", model, *tracking, "--reason", "v3 answers 2 to everyone"]) == 0
    assert f"kubernetes serving follows: version {good}" in capsys.readouterr().out
    assert served_version(cluster, "churn-model") == good
    status, body = predict_through_service(cluster, "churn-model", f"models:/{model}/{good}")
    assert status == 200 and body["predictions"] == [0, 0, 0]
    assert str(client.get_registered_model(model).aliases["champion"]) == good
    revisions = {
        rs["spec"]["template"]["metadata"]["labels"]["airflow-ml/model-version"]: rs
        for rs in cluster.replica_sets.values()
    }
    assert len(revisions) == 3 and revisions[third]["spec"]["replicas"] == 0

    # A rollback never touches a Deployment that is not one of our model servers (a
    # tampered deployment record could name any): refused before any write.
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook
    from kubernetes.client import models as k8s

    from airflow_ml_provider.serving.rollout import RolloutFailed, serve_version

    apps = KubernetesHook(conn_id="kubernetes_default").apps_v1_client
    cluster.behaviours["registry.example.com/payments:1"] = "image_pull"  # no process
    selector = {"app": "payments"}
    apps.create_namespaced_deployment(
        NAMESPACE,
        k8s.V1Deployment(
            metadata=k8s.V1ObjectMeta(name="payments", namespace=NAMESPACE, labels=selector),
            spec=k8s.V1DeploymentSpec(
                replicas=1,
                selector=k8s.V1LabelSelector(match_labels=selector),
                template=k8s.V1PodTemplateSpec(
                    metadata=k8s.V1ObjectMeta(labels=selector),
                    spec=k8s.V1PodSpec(
                        containers=[
                            k8s.V1Container(name="server", image="registry.example.com/payments:1")
                        ]
                    ),
                ),
            ),
        ),
    )
    with pytest.raises(RolloutFailed, match="is not a model server of airflow-ml"):
        serve_version(apps, NAMESPACE, "payments", model, good)
    assert [r for r in cluster.requests if r.startswith("PUT") and "payments" in r] == []

    # Every call (apply, watch, proxy smoke tests, undo, the CLI's rollback) is one the Role
    # of helm/airflow-ml allows in ml-serving.
    assert denied(cluster.api_calls, chart_roles()) == []


def test_a_canary_goes_first_and_a_failing_one_never_touches_stable(airflow_db, cluster):
    """With a canary (50 %, 2 s, checked every second): a good version's canary Deployment
    runs beside stable behind the one Service, then stable rolls to it and the canary is
    deleted. A version whose pods crash at start fails as a canary: the canary is deleted,
    the stable Deployment is never replaced, champion goes back."""
    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.ml.registry.aliases import promote
    from helpers.kube_rbac import chart_roles, denied

    client = MlflowHook().get_conn()
    mlflow.set_experiment("k8s-canary")
    model = "canary_model"
    client.create_registered_model(model)
    first, second, third = (register(client, model) for _ in range(3))
    canary = {"canary_percent": 50, "canary_duration": 2, "canary_interval": 1}

    promote(client, model, first, actor="test", reason="first")
    state, result, errors = deploy(model, first, None, **canary)
    assert state == "success", errors
    assert result["kubernetes"]["canary"] is None  # nothing served yet: a direct rollout

    promote(client, model, second, actor="test", reason="better")
    state, result, errors = deploy(model, second, first, **canary)
    assert state == "success", errors
    assert result["kubernetes"]["canary"]["deployment"] == "canary-model-canary"
    assert result["kubernetes"]["canary"]["traffic_percent"] == 50
    assert result["kubernetes"]["canary"]["rounds"] >= 1
    canary_pods = [
        p for p in cluster.created if p["metadata"]["name"].startswith("canary-model-canary-")
    ]
    assert [p["metadata"]["labels"]["airflow-ml/model-version"] for p in canary_pods] == [second]
    assert (NAMESPACE, "canary-model-canary") not in cluster.deployments
    assert served_version(cluster, "canary-model") == second

    cluster.behaviours[IMAGE] = "crash"
    promote(client, model, third, actor="test", reason="better again")
    stable_puts = len([r for r in cluster.requests if r == f"PUT {_path('canary-model')}"])
    state, _, errors = deploy(model, third, second, **canary)
    assert state == "failed"
    message = str(errors[0])
    assert "canary failed: serving container in pod ml-serving/canary-model-canary-" in message
    assert "cannot start (CrashLoopBackOff)" in message
    assert "canary Deployment ml-serving/canary-model-canary deleted" in message
    assert (NAMESPACE, "canary-model-canary") not in cluster.deployments
    assert len([r for r in cluster.requests if r == f"PUT {_path('canary-model')}"]) == (
        stable_puts
    )
    assert served_version(cluster, "canary-model") == second
    aliases = {k: str(v) for k, v in client.get_registered_model(model).aliases.items()}
    assert aliases["champion"] == second
    assert denied(cluster.api_calls, chart_roles()) == []  # canary create/delete included


def test_the_triggerer_watches_the_canary_and_a_restart_mid_watch_undoes_it(airflow_db, cluster):
    """The canary's watch defers to the triggerer (dag.test runs CanaryTrigger in line): the
    worker slot is free while it runs. A canary pod that restarts during the watch fails the
    trigger's next round: the operator, back on a worker, deletes the canary, leaves stable
    alone and puts champion back."""
    import threading
    import time
    import traceback

    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.ml.registry.aliases import promote

    client = MlflowHook().get_conn()
    mlflow.set_experiment("k8s-canary-watch")
    model = "canary_watched_model"  # unique in the session's shared MLflow store
    client.create_registered_model(model)
    first, second = (register(client, model) for _ in range(2))
    promote(client, model, first, actor="test", reason="first")
    assert deploy(model, first, None)[0] == "success"

    def restart_the_canary_once_it_serves() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            pods = [
                pod
                for (_, name), pod in list(cluster.serving_pods.items())
                if name.startswith("canary-watched-model-canary-") and pod.ready
            ]
            if pods:
                time.sleep(1.5)  # inside the watch: the canary passed its start
                pods[0].set_container({"running": {}}, ready=True, restarts=1)
                return
            time.sleep(0.2)

    promote(client, model, second, actor="test", reason="better")
    watcher = threading.Thread(target=restart_the_canary_once_it_serves, daemon=True)
    watcher.start()
    state, _, errors = deploy(
        model, second, first, canary_percent=50, canary_duration=30, canary_interval=1
    )
    watcher.join(5)
    assert state == "failed"
    # Failed where the task resumed from the trigger's event: it deferred, it did not sleep.
    assert "resume_after_canary" in "".join(traceback.format_tb(errors[0].__traceback__))
    message = str(errors[0])
    assert "canary failed:" in message and "restarted 1 time(s)" in message
    assert "canary Deployment ml-serving/canary-watched-model-canary deleted" in message
    assert (NAMESPACE, "canary-watched-model-canary") not in cluster.deployments
    assert served_version(cluster, "canary-watched-model") == first
    aliases = {k: str(v) for k, v in client.get_registered_model(model).aliases.items()}
    assert aliases["champion"] == first


def _path(name: str) -> str:
    return f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{name}"

"""deployment.strategy kserve: KServeDeploymentOperator through dag.test() and
``airflow-ml rollback``, against tests/helpers/kserve_standin.py (real Airflow DB, real MLflow
store with its artifacts in a bucket of the real GCS emulator, real scikit-learn models).

Stood in for: the Kubernetes API server's InferenceService endpoints, KServe's controller
with Knative's revisions and traffic split, and the cluster network (see that module's
docstring). Real: the deployer's kubernetes client over HTTP, and every predictor is a real
MLServer with its MLflow runtime serving the version's files downloaded from the bucket,
answering real Open Inference Protocol (V2) requests.
"""

from __future__ import annotations

import json
import urllib.request

import mlflow
import pytest

from helpers.gcs_emulator import gcs  # noqa: F401 — the fixture
from helpers.iris_versions import register

NAMESPACE = "ml-serving"


@pytest.fixture
def cluster(monkeypatch):
    from helpers.kserve_standin import KServeStandIn
    from helpers.kube_standin import use_as_connection

    with KServeStandIn() as standin:
        use_as_connection(standin, monkeypatch, "kubernetes_default")
        yield standin


def deploy(model_name: str, version: str, previous: str | None, **options):
    """One deploy_model run of ``version`` (already champion); (state, xcom, errors)."""
    from airflow_ml_provider.operators.kserve_deployment import KServeDeploymentOperator
    from helpers.deploy_runs import run_deploy

    return run_deploy(
        KServeDeploymentOperator, model_name, version, previous, namespace=NAMESPACE,
        rollout_timeout=180, poll_interval=0.5, **options,
    )  # fmt: skip


def predict(cluster, name: str) -> list:
    """What a client of the InferenceService's cluster-local URL gets for iris' first rows,
    as a V2 request."""
    from sklearn.datasets import load_iris

    from airflow_ml_provider.serving.open_inference import v2_predictions, v2_request

    x = load_iris(as_frame=True).data.head(3)
    body = v2_request({"dataframe_split": json.loads(x.to_json(orient="split"))})
    url = cluster._with_status(NAMESPACE, name)["status"]["address"]["url"]
    request = urllib.request.Request(
        f"{url}/v2/models/{name}/infer", json.dumps(body).encode(),
        {"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=60) as answer:
        return [int(p) for p in v2_predictions(json.loads(answer.read()))]


def test_kserve_follows_the_champion_through_a_failed_canary_a_good_one_and_a_rollback(
    airflow_db,
    gcs,  # noqa: F811
    cluster,
    capsys,
):
    """v1 is the first deploy: an InferenceService (mlflow format, V2, the bucket's storage
    URI, our pod defaults) that MLServer serves; its V2 answer is v1's prediction. v2 (its
    input example lacks a feature) goes out as a 50 % canary: its revision is Ready but does
    not answer the example, so it is pinned to 0 % — the serving revision untouched — and
    champion goes back to v1. v3 (always class 2) passes its canary and is promoted to
    100 %: the service answers [2, 2, 2]. ``airflow-ml rollback`` — which learns from the
    registry that the champion is served by KServe — puts v1's storage URI back, checks the
    new revision before it gets traffic, and the answer is v1's again. Every API call is
    one the chart's Roles allow with KServe enabled."""
    from airflow_ml_provider.cli import main
    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.ml.registry.aliases import history, promote
    from helpers.kube_rbac import chart_roles, denied

    client = MlflowHook().get_conn()
    experiment = client.create_experiment("kserve", artifact_location=gcs.uri("mlflow"))
    mlflow.set_experiment(experiment_id=experiment)
    model = "Iris_Model"  # not DNS-safe: the InferenceService is iris-model
    client.create_registered_model(model)
    first = register(client, model, digest=True)
    broken = register(client, model, missing_feature=True, digest=True)
    third = register(client, model, always=2, digest=True)
    canary = {"canary_percent": 50, "canary_duration": 1, "canary_interval": 0.5}

    promote(client, model, first, actor="test", reason="first")
    state, result, errors = deploy(model, first, None, **canary)
    assert state == "success", errors
    assert result["strategy"] == "kserve"
    assert result["kserve"]["inference_service"] == "iris-model"
    assert result["kserve"]["canary"] is None  # nothing served yet: straight to 100 %
    predictor = cluster.services[(NAMESPACE, "iris-model")]["spec"]["predictor"]
    assert predictor["model"]["modelFormat"] == {"name": "mlflow"}
    assert predictor["model"]["protocolVersion"] == "v2"
    assert predictor["model"]["storageUri"].startswith(gcs.uri("mlflow/"))
    assert predictor["model"]["securityContext"]["runAsNonRoot"] is True
    assert predictor["automountServiceAccountToken"] is False
    assert predict(cluster, "iris-model") == [0, 0, 0]

    promote(client, model, broken, actor="test", reason="gate passed")
    state, _, errors = deploy(model, broken, first, **canary)
    assert state == "failed"
    message = str(errors[0])
    assert f"KServe rollout of models:/{model}@champion failed, rolled back" in message
    assert "canary failed: version 2 did not predict on the model's input example" in message
    assert "(HTTP 500: " in message and "Traceback" not in message  # one line, the cause
    assert "canary pinned to 0 %, InferenceService ml-serving/iris-model serves version 1" in (
        message
    )
    status = cluster._with_status(NAMESPACE, "iris-model")["status"]["components"]["predictor"]
    assert [(t["percent"], t["latestRevision"]) for t in status["traffic"]] == [
        (0, True),
        (100, False),
    ]
    assert status["latestRolledoutRevision"] == "iris-model-predictor-00001"
    assert predict(cluster, "iris-model") == [0, 0, 0]
    assert str(client.get_registered_model(model).aliases["champion"]) == first
    assert history(client, model)[-2]["reason"].startswith(
        f"rollback: KServe rollout of version {broken} failed: canary failed"
    )

    promote(client, model, third, actor="test", reason="gate passed")
    state, result, errors = deploy(model, third, first, **canary)
    assert state == "success", errors
    assert result["kserve"]["canary"]["percent"] == 50
    assert result["kserve"]["canary"]["rounds"] >= 2
    assert result["kserve"]["previous_version"] == first
    assert predict(cluster, "iris-model") == [2, 2, 2]
    status = cluster._with_status(NAMESPACE, "iris-model")["status"]["components"]["predictor"]
    assert [t["percent"] for t in status["traffic"]] == [100]
    recorded = json.loads(client.get_model_version(model, third).tags["airflow_ml.deployment"])
    assert (recorded["strategy"], recorded["settings"]["name"]) == ("kserve", "iris-model")

    tracking = ["--tracking-uri", MlflowHook().tracking_uri]
    assert main(["rollback", model, *tracking, "--reason", "v3 answers 2 to everyone"]) == 0
    assert f"kserve serving follows: version {first}" in capsys.readouterr().out
    assert predict(cluster, "iris-model") == [0, 0, 0]
    assert str(client.get_registered_model(model).aliases["champion"]) == first
    labels = cluster.services[(NAMESPACE, "iris-model")]["metadata"]["labels"]
    assert labels["airflow-ml/model-version"] == first
    assert (
        "canaryTrafficPercent"
        not in (cluster.services[(NAMESPACE, "iris-model")]["spec"]["predictor"])
    )

    assert denied(cluster.api_calls, chart_roles(kserve=True)) == []
    assert denied(cluster.api_calls, chart_roles()) != []  # off by default: nothing allowed

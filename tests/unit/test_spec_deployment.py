"""The YAML contract of deployment.strategy kubernetes: a good file builds deploy_model as a
KubernetesDeploymentOperator with its settings; bad ones are refused at file:line:column."""

from __future__ import annotations

import pytest

from airflow_ml_provider.pipeline_spec import load_pipeline
from helpers.spec_files import GOOD, assert_refused, write

SERVING = """\
deployment:
  strategy: kubernetes
  kubernetes:
    image: registry.example.com/ml/trainer:1.4.2
    replicas: 3
    resources: {requests: {cpu: "1", memory: 2Gi}}
    env_from_secrets: [mlflow-auth]
    rollout_timeout: 5m
    canary: {percent: 10, duration: 15m}
"""


def with_deployment(text: str) -> str:
    return GOOD.replace("alerts:\n", text + "alerts:\n")


def test_factory_builds_the_kubernetes_deployment_from_yaml(tmp_path):
    from airflow_ml_provider.factory.builder import build_dag
    from airflow_ml_provider.operators.kubernetes_deployment import KubernetesDeploymentOperator

    dag = build_dag(load_pipeline(write(tmp_path, with_deployment(SERVING))))
    deploy = dag.get_task("deploy_model")
    assert isinstance(deploy, KubernetesDeploymentOperator)
    settings = deploy.settings
    assert (settings.name, settings.namespace, settings.replicas, settings.port) == (
        "churn",
        "ml-serving",
        3,
        8080,
    )
    assert settings.env_from_secrets == ["mlflow-auth"]
    assert settings.progress_deadline_seconds == 300
    assert (deploy.canary_percent, deploy.canary_duration, deploy.canary_interval) == (
        10,
        900,
        30,
    )
    assert deploy.canary_checks == ["ready", "no_restarts", "smoke_test"]
    assert [o.uri for o in deploy.outlets] == ["x-mlmodel://churn/champion"]


def test_factory_builds_the_kserve_deployment_from_yaml(tmp_path):
    from airflow_ml_provider.factory.builder import build_dag
    from airflow_ml_provider.operators.kserve_deployment import KServeDeploymentOperator

    text = (
        "deployment:\n  strategy: kserve\n  kserve:\n    min_replicas: 0\n"
        "    storage_root: gs://ml-artifacts/mlflow\n    rollout_timeout: 5m\n"
        "    canary: {percent: 10, duration: 10m}\n"
    )
    dag = build_dag(load_pipeline(write(tmp_path, with_deployment(text))))
    deploy = dag.get_task("deploy_model")
    assert isinstance(deploy, KServeDeploymentOperator)
    settings = deploy.settings
    assert (settings.name, settings.namespace, settings.mode) == (
        "churn",
        "ml-serving",
        "serverless",
    )
    assert (settings.min_replicas, settings.storage_root) == (0, "gs://ml-artifacts/mlflow")
    assert (deploy.canary.percent, deploy.canary.duration, deploy.rollout_timeout) == (10, 600, 300)
    deployer = deploy.deployer()
    assert deployer.strategy == "kserve" and deployer.settings()["storage_root"] == (
        "gs://ml-artifacts/mlflow"
    )


def test_the_server_pods_are_secure_by_default():
    from airflow_ml_provider.serving.manifests import ServerSettings, server_deployment

    settings = ServerSettings(name="churn", namespace="ml-serving", image="trainer:1")
    deployment = server_deployment(settings, "churn", "7", {"MLFLOW_TRACKING_URI": "http://m"})
    pod = deployment.spec.template.spec
    (container,) = pod.containers
    # The pod verifies the version's files against their recorded digest before serving.
    assert container.command == ["python", "-m", "airflow_ml_provider.ml.serve_verified"]
    assert container.args[0] == "models:/churn/7"
    assert container.security_context.run_as_non_root is True
    assert container.security_context.read_only_root_filesystem is True
    assert container.security_context.capabilities.drop == ["ALL"]
    assert pod.automount_service_account_token is False
    assert deployment.spec.strategy.rolling_update.max_unavailable == 0
    assert container.readiness_probe.http_get.path == "/ping"


BAD = {
    "strategy without its section": (
        "deployment:\n  strategy: kubernetes\n",
        ":25:13: deployment.strategy: strategy kubernetes needs deployment.kubernetes "
        "with an image",
    ),
    "section without its strategy": (
        "deployment:\n  kubernetes: {image: t:1}\n",
        ":25:15: deployment.kubernetes: deployment.kubernetes applies only to strategy kubernetes",
    ),
    "canary share above half": (
        "deployment:\n  strategy: kubernetes\n  kubernetes:\n    image: t:1\n"
        "    canary: {percent: 80}\n",
        ":28:23: deployment.kubernetes.canary.percent: input should be less than or equal to 50",
    ),
    "kserve without its section": (
        "deployment:\n  strategy: kserve\n",
        ":25:13: deployment.strategy: strategy kserve needs deployment.kserve with its "
        "settings (`kserve: {}` for the defaults)",
    ),
    "kserve reading local files": (
        "deployment:\n  strategy: kserve\n  kserve:\n    storage_root: file:///srv/mlflow\n",
        ":27:19: deployment.kserve.storage_root: KServe downloads models from gs://, s3://, "
        "pvc://, https:// ...; the cluster cannot read 'file:///srv/mlflow'",
    ),
    "kserve canary at 100 %": (
        "deployment:\n  strategy: kserve\n  kserve:\n    canary: {percent: 100}\n",
        ":27:23: deployment.kserve.canary.percent: input should be less than or equal to 99",
    ),
    "kserve canary at 0 %": (
        "deployment:\n  strategy: kserve\n  kserve:\n    canary: {percent: 0}\n",
        ":27:23: deployment.kserve.canary.percent: input should be greater than or equal to 1",
    ),
    "kserve canary without traffic splitting": (
        "deployment:\n  strategy: kserve\n  kserve:\n    mode: raw\n    canary: {percent: 10}\n",
        ":28:13: deployment.kserve.canary: KServe splits traffic only in serverless mode",
    ),
    "unknown canary check": (
        "deployment:\n  strategy: kubernetes\n  kubernetes:\n    image: t:1\n"
        "    canary: {percent: 10, checks: [latency]}\n",
        ":28:36: deployment.kubernetes.canary.checks[0]: got 'latency'; input should be 'ready', "
        "'no_restarts' or 'smoke_test'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_deployment_config_is_refused(tmp_path, case):
    text, expected = BAD[case]
    assert_refused(write(tmp_path, with_deployment(text)), expected)


def test_the_predictions_link_opens_the_bigquery_table_or_the_stored_file(monkeypatch):
    from airflow_ml_provider.operators.links import predictions_url

    assert predictions_url("bigquery://proj.scores.churn") == (
        "https://console.cloud.google.com/bigquery"
        "?project=proj&ws=!1m5!1m4!4m3!1sproj!2sscores!3schurn"
    )
    assert predictions_url("gs://preds/run_id=x/predictions.parquet") == (
        "https://storage.cloud.google.com/preds/run_id=x/predictions.parquet"
    )
    monkeypatch.setenv("AIRFLOW__ML_PROVIDER__ARTIFACT_STORE", "gs://ml-store")
    monkeypatch.setenv("AIRFLOW__ML_PROVIDER__ARTIFACT_STORE_URL", "https://files.example.com")
    assert predictions_url("gs://ml-store/predictions/run_id=x/p.parquet") == (
        "https://files.example.com/predictions/run_id=x/p.parquet"
    )


def test_every_strategy_the_spec_accepts_has_its_deployer():
    """deployment.strategy's choices and the deployers come from one table (core.strategies):
    each name resolves to a Deployer that says it is that strategy; an unknown name is an
    error naming the known ones."""
    from typing import get_args

    from airflow_ml_provider.core.errors import DeploymentFailed
    from airflow_ml_provider.deployers import Deployer, deployer_class
    from airflow_ml_provider.pipeline_spec.models import DeploymentSpec

    strategies = get_args(DeploymentSpec.model_fields["strategy"].annotation)
    assert set(strategies) == {"alias", "batch", "kubernetes", "kserve"}
    for name in strategies:
        cls = deployer_class(name)
        assert issubclass(cls, Deployer) and cls.strategy == name
    with pytest.raises(DeploymentFailed, match=r"unknown deployment strategy 'seldon' \(known: "):
        deployer_class("seldon")

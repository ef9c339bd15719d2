"""The KServe InferenceService that serves one model version, and how to read its status.

KServe serves MLflow models with MLServer (``modelFormat: mlflow``, Open Inference Protocol
``v2``) straight from the version's artifact location (``storageUri``), which KServe's
storage initializer downloads into the pod: the artifact store must be one the cluster can
read (gs://, s3://, ...). Canary traffic splitting (``canaryTrafficPercent``) is KServe's
own and needs its Serverless (Knative) mode.

Plain dicts, as the custom-objects API takes them; imports only the kubernetes client's
models (for the shared pod security defaults).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client import ApiClient

from airflow_ml_provider.core.errors import AirflowMlError
from airflow_ml_provider.core.strategies import KSERVE_STORAGE_SCHEMES
from airflow_ml_provider.pods import container_security_context, pod_security_context, toleration
from airflow_ml_provider.serving.manifests import MANAGED_BY, MANAGED_BY_LABEL, VERSION_LABEL

GROUP, API_VERSION, PLURAL = "serving.kserve.io", "v1beta1", "inferenceservices"
MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
MODES = {"serverless": "Serverless", "raw": "RawDeployment"}
TAG_ROUTING_ANNOTATION = "serving.kserve.io/enable-tag-routing"
CANARY_TAG = "latest"
PROXIED = "mlflow-artifacts:"


class NotReachable(AirflowMlError, ValueError):
    """The version's artifacts are somewhere the cluster cannot read."""


@dataclass(frozen=True)
class InferenceServiceSettings:
    """Where and how the InferenceService runs (deployment.kserve in YAML)."""

    name: str
    namespace: str
    service_account: str | None = None
    min_replicas: int = 1
    max_replicas: int = 3
    mode: str = "serverless"
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[dict[str, Any]] = field(default_factory=list)
    storage_root: str | None = None
    """The tracking server's artifact destination as the cluster reads it, for versions
    MLflow reports as ``mlflow-artifacts:/...`` (a server with --serve-artifacts)."""


def storage_uri(artifact_location: str, storage_root: str | None = None) -> str:
    """The ``storageUri`` KServe reads a version from: its artifact location, with MLflow's
    proxied ``mlflow-artifacts:/`` prefix replaced by ``storage_root``; raises NotReachable
    (saying what to change) for a location the cluster cannot read."""
    location = artifact_location
    if location.startswith(PROXIED):
        if not storage_root:
            raise NotReachable(
                f"the model's artifacts are served by the MLflow tracking server ({location}), "
                "which KServe cannot download; set deployment.kserve.storage_root to the "
                "server's --artifacts-destination as the cluster reads it (gs://..., s3://...)"
            )
        relative = location.removeprefix(PROXIED).lstrip("/")
        location = f"{storage_root.rstrip('/')}/{relative}"
    if not location.startswith(KSERVE_STORAGE_SCHEMES):
        raise NotReachable(
            f"the model's artifacts are at {location}, which the cluster cannot read (KServe "
            "downloads gs://, s3://, pvc://, https:// ...); give MLflow an artifact store in a "
            "bucket to serve with KServe"
        )
    return location


def inference_service(
    settings: InferenceServiceSettings,
    version: str,
    location: str,
    *,
    canary_percent: int | None = None,
) -> dict[str, Any]:
    """The InferenceService serving the MLflow model at ``location`` (a storageUri) as
    version ``version``; with ``canary_percent`` KServe sends that share of traffic to it
    and the rest to the last version rolled out to 100 %."""
    model: dict[str, Any] = {
        "modelFormat": {"name": "mlflow"},
        "protocolVersion": "v2",
        "storageUri": location,
        # Where KServe lets us: the pod defaults of our other pods, except a writable root
        # filesystem (MLServer writes its working files there).
        "securityContext": {
            **_plain(container_security_context()),
            "readOnlyRootFilesystem": False,
        },
    }
    if settings.resources:
        model["resources"] = {
            k: {n: str(v) for n, v in q.items()} for k, q in settings.resources.items()
        }
    predictor: dict[str, Any] = {
        "minReplicas": settings.min_replicas,
        "maxReplicas": settings.max_replicas,
        "automountServiceAccountToken": False,
        "securityContext": _plain(pod_security_context()),
        "model": model,
    }
    if settings.service_account:
        predictor["serviceAccountName"] = settings.service_account
    if settings.node_selector:
        predictor["nodeSelector"] = dict(settings.node_selector)
    if settings.tolerations:
        predictor["tolerations"] = [_plain(toleration(item)) for item in settings.tolerations]
    if canary_percent is not None:
        predictor["canaryTrafficPercent"] = canary_percent
    annotations = {MODE_ANNOTATION: MODES[settings.mode]}
    if settings.mode == "serverless":
        annotations[TAG_ROUTING_ANNOTATION] = "true"  # a URL for the canary revision alone
    return {
        "apiVersion": f"{GROUP}/{API_VERSION}",
        "kind": "InferenceService",
        "metadata": {
            "name": settings.name,
            "namespace": settings.namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY, VERSION_LABEL: str(version)},
            "annotations": annotations,
        },
        "spec": {"predictor": predictor},
    }


def with_spec_of(current: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """``current`` (as read, with its resourceVersion) carrying ``wanted``'s labels,
    annotations and spec: the body of a replace."""
    body = copy.deepcopy(current)
    body.pop("status", None)
    for part in ("labels", "annotations"):
        body["metadata"][part] = {**(body["metadata"].get(part) or {}), **wanted["metadata"][part]}
    body["spec"] = copy.deepcopy(wanted["spec"])
    return body


def with_version(
    service: dict[str, Any], version: str, location: str, canary_percent: int | None = None
) -> dict[str, Any]:
    """``service`` (spec kept: resources, replicas, scheduling) serving ``version`` from
    ``location``, with ``canary_percent`` of the traffic (all of it when None)."""
    body = copy.deepcopy(service)
    body.pop("status", None)
    predictor = body["spec"]["predictor"]
    predictor["model"]["storageUri"] = location
    predictor.pop("canaryTrafficPercent", None)
    if canary_percent is not None:
        predictor["canaryTrafficPercent"] = canary_percent
    body["metadata"].setdefault("labels", {})[VERSION_LABEL] = str(version)
    return body


def is_ours(service: dict[str, Any]) -> bool:
    labels = service.get("metadata", {}).get("labels") or {}
    return labels.get(MANAGED_BY_LABEL) == MANAGED_BY


def labelled_version(service: dict[str, Any] | None) -> str | None:
    """The model version an InferenceService of ours was last set to serve."""
    if service is None:
        return None
    return (service.get("metadata", {}).get("labels") or {}).get(VERSION_LABEL)


def _plain(model: Any) -> dict[str, Any]:
    return ApiClient().sanitize_for_serialization(model)


def rollout_state(service: dict[str, Any]) -> tuple[str, str]:
    """``("ready" | "waiting" | "failed", what it is doing or why it failed)`` of the latest
    spec: ready once KServe has seen it, the predictor's newest revision is ready and the
    service reports Ready; failed when the model cannot load or the revision cannot start."""
    status = service.get("status") or {}
    generation = service.get("metadata", {}).get("generation", 0)
    if status.get("observedGeneration", 0) < generation:
        return "waiting", "KServe has not seen the new spec yet"
    model = status.get("modelStatus") or {}
    if model.get("transitionStatus") in ("BlockedByFailedLoad", "InvalidSpec"):
        failure = model.get("lastFailureInfo") or {}
        reason = failure.get("reason") or model["transitionStatus"]
        return "failed", f"{reason}: {failure.get('message', 'the model did not load')}"
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    for kind in ("PredictorReady", "Ready"):
        condition = conditions.get(kind) or {}
        if condition.get("status") == "False" and condition.get("reason") in _FAILED_REASONS:
            return "failed", f"{condition['reason']}: {condition.get('message', '')}".rstrip(": ")
    predictor = (status.get("components") or {}).get("predictor") or {}
    newest_ready = predictor.get("latestReadyRevision") == predictor.get("latestCreatedRevision")
    if conditions.get("Ready", {}).get("status") == "True" and newest_ready:
        return "ready", "ready"
    waiting = next(
        (c for c in conditions.values() if c.get("status") != "True"), {"reason": "Pending"}
    )
    said = f"{waiting.get('reason', '')} {waiting.get('message', '')}".strip()
    return "waiting", f"{waiting.get('type', 'Ready')}: {said}"


def canary_url(service: dict[str, Any]) -> str | None:
    """The URL that reaches the newest (canary) revision alone (KServe's tag routing)."""
    predictor = ((service.get("status") or {}).get("components") or {}).get("predictor") or {}
    for target in predictor.get("traffic") or []:
        if target.get("latestRevision") and target.get("url"):
            return target["url"]
    return None


def service_url(service: dict[str, Any]) -> str | None:
    """The cluster-local URL of the InferenceService (traffic split as KServe routes it)."""
    status = service.get("status") or {}
    return (status.get("address") or {}).get("url") or status.get("url")


def canary_share(service: dict[str, Any]) -> int:
    """The traffic percent the newest revision gets now."""
    predictor = ((service.get("status") or {}).get("components") or {}).get("predictor") or {}
    return sum(
        t.get("percent", 0) for t in predictor.get("traffic") or [] if t.get("latestRevision")
    )


_FAILED_REASONS = ("RevisionFailed", "RevisionMissing", "ContainerMissing", "ModelLoadFailed")

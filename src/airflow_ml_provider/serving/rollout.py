"""Rolling a model server out, checking it, and undoing it, with the kubernetes client.

What ``kubectl apply`` / ``rollout status`` / ``rollout undo`` do, as functions: revisions
are the Deployment's ReplicaSets (annotation ``deployment.kubernetes.io/revision``), an undo
puts the previous ReplicaSet's pod template back. Predictions are checked through the API
server's proxy (``.../pods/<pod>:<port>/proxy/invocations``), so the check works from
wherever Airflow runs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from kubernetes.client import ApiClient, AppsV1Api, CoreV1Api
from kubernetes.client import models as k8s
from kubernetes.client.exceptions import ApiException

from airflow_ml_provider.core.errors import AirflowMlError
from airflow_ml_provider.pods import (
    CANNOT_START_REASONS,
    IMAGE_PULL_REASONS,
    explain_pod_failure,
)
from airflow_ml_provider.serving.manifests import (
    CONTAINER,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    NAME_LABEL,
    VERSION_LABEL,
    with_model_version,
)

REVISION = "deployment.kubernetes.io/revision"
TEMPLATE_HASH = "pod-template-hash"
STUCK_REASONS = (*IMAGE_PULL_REASONS, *CANNOT_START_REASONS)
"""A new pod waiting for one of these will not become ready by waiting longer."""


class RolloutFailed(AirflowMlError):
    """The new pods did not become ready, or did not answer predictions; says why."""


def _missing(error: ApiException) -> bool:
    return error.status == 404


def read_deployment(apps: AppsV1Api, namespace: str, name: str) -> k8s.V1Deployment | None:
    try:
        return apps.read_namespaced_deployment(name, namespace)
    except ApiException as error:
        if _missing(error):
            return None
        raise


def apply_deployment(apps: AppsV1Api, deployment: k8s.V1Deployment) -> bool:
    """Create the Deployment or replace its spec; True when it already existed."""
    meta = deployment.metadata
    existing = read_deployment(apps, meta.namespace, meta.name)
    if existing is None:
        apps.create_namespaced_deployment(meta.namespace, deployment)
        return False
    meta.resource_version = existing.metadata.resource_version
    apps.replace_namespaced_deployment(meta.name, meta.namespace, deployment)
    return True


def apply_service(core: CoreV1Api, service: k8s.V1Service) -> None:
    """Create the Service, or leave the existing one (its selector never changes)."""
    meta = service.metadata
    try:
        core.read_namespaced_service(meta.name, meta.namespace)
    except ApiException as error:
        if not _missing(error):
            raise
        core.create_namespaced_service(meta.namespace, service)


def delete_deployment(apps: AppsV1Api, namespace: str, name: str) -> None:
    try:
        apps.delete_namespaced_deployment(name, namespace)
    except ApiException as error:
        if not _missing(error):
            raise


def revisions(apps: AppsV1Api, deployment: k8s.V1Deployment) -> dict[int, k8s.V1ReplicaSet]:
    """The Deployment's ReplicaSets by revision number."""
    selector = ",".join(f"{k}={v}" for k, v in deployment.spec.selector.match_labels.items())
    sets = apps.list_namespaced_replica_set(
        deployment.metadata.namespace, label_selector=selector
    ).items
    owned = [
        rs
        for rs in sets
        if any(o.uid == deployment.metadata.uid for o in rs.metadata.owner_references or [])
    ]
    return {int((rs.metadata.annotations or {}).get(REVISION, 0)): rs for rs in owned}


def current_version(apps: AppsV1Api, namespace: str, name: str) -> str | None:
    """The model version the Deployment's pod template serves now (None: no Deployment)."""
    deployment = read_deployment(apps, namespace, name)
    if deployment is None:
        return None
    return (deployment.spec.template.metadata.labels or {}).get(VERSION_LABEL)


def revision_pods(
    apps: AppsV1Api, core: CoreV1Api, deployment: k8s.V1Deployment
) -> list[k8s.V1Pod]:
    """The pods of the Deployment's current revision."""
    revision = int((deployment.metadata.annotations or {}).get(REVISION, 0))
    replica_set = revisions(apps, deployment).get(revision)
    if replica_set is None:
        return []
    labels = {**deployment.spec.selector.match_labels}
    labels[TEMPLATE_HASH] = replica_set.metadata.labels[TEMPLATE_HASH]
    selector = ",".join(f"{k}={v}" for k, v in labels.items())
    return core.list_namespaced_pod(deployment.metadata.namespace, label_selector=selector).items


def _rollout_done(deployment: k8s.V1Deployment) -> bool:
    status = deployment.status or k8s.V1DeploymentStatus()
    wanted = deployment.spec.replicas or 0
    if (status.observed_generation or 0) < (deployment.metadata.generation or 0):
        return False
    for condition in status.conditions or []:
        if condition.type == "Progressing" and condition.reason == "ProgressDeadlineExceeded":
            raise RolloutFailed(
                f"deployment {deployment.metadata.name} exceeded its progress deadline: "
                f"{condition.message}"
            )
    updated = status.updated_replicas or 0
    return (
        updated >= wanted
        and (status.replicas or 0) <= updated
        and (status.available_replicas or 0) >= updated
    )


def wait_for_rollout(
    apps: AppsV1Api,
    core: CoreV1Api,
    namespace: str,
    name: str,
    timeout: float,
    poll: float = 2.0,
    log: Callable[[str], None] = lambda message: None,
) -> None:
    """Wait until every pod of the new revision is ready and the old ones are gone.

    Fails at once when a new pod cannot start (image pull, crash loop, bad config: the pod's
    own reason in the message), and after ``timeout`` seconds otherwise.
    """
    deadline = time.monotonic() + timeout
    while True:
        deployment = apps.read_namespaced_deployment(name, namespace)
        if _rollout_done(deployment):
            return
        for pod in revision_pods(apps, core, deployment):
            why = explain_pod_failure(pod, container=CONTAINER, role="serving")
            if why and _stuck(pod):
                raise RolloutFailed(why)
        if time.monotonic() >= deadline:
            status = deployment.status or k8s.V1DeploymentStatus()
            raise RolloutFailed(
                f"deployment {namespace}/{name} was not ready within {timeout:.0f} s: "
                f"{status.available_replicas or 0} of {deployment.spec.replicas} new pods "
                "available"
            )
        log(f"waiting for {namespace}/{name}: {deployment.status.updated_replicas or 0} updated")
        time.sleep(poll)


def _stuck(pod: k8s.V1Pod) -> bool:
    for state in (pod.status and pod.status.container_statuses) or []:
        waiting = state.state and state.state.waiting
        if waiting is not None and waiting.reason in STUCK_REASONS:
            return True
        if state.state and state.state.terminated is not None:
            return True
    return bool(pod.status and pod.status.phase == "Failed")


def undo(apps: AppsV1Api, namespace: str, name: str) -> str | None:
    """``kubectl rollout undo``: back to the previous revision's pod template.

    Returns the model version that revision serves, or None when there was no previous
    revision (the Deployment is then deleted: a first rollout that failed leaves nothing).
    """
    deployment = read_deployment(apps, namespace, name)
    if deployment is None:
        return None
    current = int((deployment.metadata.annotations or {}).get(REVISION, 0))
    older = {n: rs for n, rs in revisions(apps, deployment).items() if n < current}
    if not older:
        delete_deployment(apps, namespace, name)
        return None
    return _put_back(apps, deployment, older[max(older)].spec.template)


def serve_version(
    apps: AppsV1Api, namespace: str, name: str, model_name: str, version: str
) -> str | None:
    """Make the Deployment serve ``version`` again; returns the version it served before.

    Puts back the newest revision whose pods served it (``rollout undo --to-revision``);
    when the history no longer has one, the current pod template with the model version
    swapped. Raises RolloutFailed when there is no Deployment to roll back.
    """
    deployment = read_deployment(apps, namespace, name)
    if deployment is None:
        raise RolloutFailed(f"no Deployment {namespace}/{name} serves {model_name}")
    labels = deployment.metadata.labels or {}
    if labels.get(MANAGED_BY_LABEL) != MANAGED_BY or labels.get(NAME_LABEL) != name:
        raise RolloutFailed(
            f"Deployment {namespace}/{name} is not a model server of airflow-ml (labels "
            f"{MANAGED_BY_LABEL}={MANAGED_BY}, {NAME_LABEL}={name}): not touched"
        )
    before = (deployment.spec.template.metadata.labels or {}).get(VERSION_LABEL)
    served = {
        number: replica_set
        for number, replica_set in revisions(apps, deployment).items()
        if (replica_set.spec.template.metadata.labels or {}).get(VERSION_LABEL) == version
    }
    if served:
        _put_back(apps, deployment, served[max(served)].spec.template)
    else:
        _put_back(
            apps, deployment, with_model_version(deployment.spec.template, model_name, version)
        )
    return before


def _put_back(
    apps: AppsV1Api, deployment: k8s.V1Deployment, template: k8s.V1PodTemplateSpec
) -> str | None:
    """Replace the Deployment's pod template; the model version the template serves."""
    template.metadata.labels.pop(TEMPLATE_HASH, None)
    deployment.spec.template = template
    meta = deployment.metadata
    apps.replace_namespaced_deployment(meta.name, meta.namespace, deployment)
    return template.metadata.labels.get(VERSION_LABEL)


def predict_through_proxy(
    api: ApiClient, namespace: str, target: str, port: int, payload: str, kind: str = "pods"
) -> Any:
    """POST ``payload`` to ``/invocations`` of a pod or Service through the API server."""
    path = f"/api/v1/namespaces/{namespace}/{kind}/{target}:{port}/proxy/invocations"
    response = api.call_api(
        path,
        "POST",
        header_params={"Content-Type": "application/json", "Accept": "application/json"},
        body=json.loads(payload),
        auth_settings=["BearerToken"],
        _preload_content=False,
        _request_timeout=60,
    )
    raw = response[0] if isinstance(response, tuple) else response
    return json.loads(raw.data)


def smoke_test(
    api: ApiClient,
    apps: AppsV1Api,
    core: CoreV1Api,
    namespace: str,
    name: str,
    port: int,
    payload: str,
) -> int:
    """Every pod of the current revision answers the model's input example; returns how
    many pods answered. Raises RolloutFailed with the server's own error otherwise."""
    deployment = apps.read_namespaced_deployment(name, namespace)
    pods = revision_pods(apps, core, deployment)
    if not pods:
        raise RolloutFailed(f"deployment {namespace}/{name} has no pods to test")
    for pod in pods:
        try:
            predict_through_proxy(api, namespace, pod.metadata.name, port, payload)
        except ApiException as error:
            raise RolloutFailed(
                f"pod {pod.metadata.name} did not predict on the model's input example "
                f"(HTTP {error.status}): {_server_message(error.body)}"
            ) from error
    return len(pods)


def _server_message(body: Any) -> str:
    text = body.decode() if isinstance(body, bytes) else str(body or "")
    try:
        return str(json.loads(text).get("message", text))[:500]
    except (ValueError, AttributeError):
        return text[:500]


def unhealthy_pods(
    apps: AppsV1Api, core: CoreV1Api, namespace: str, name: str, checks: list[str]
) -> str | None:
    """The first failed canary check (``ready``, ``no_restarts``) as a sentence, or None."""
    deployment = apps.read_namespaced_deployment(name, namespace)
    for pod in revision_pods(apps, core, deployment):
        for state in (pod.status and pod.status.container_statuses) or []:
            if "ready" in checks and not state.ready:
                return f"canary pod {pod.metadata.name} is not ready"
            if "no_restarts" in checks and state.restart_count:
                return f"canary pod {pod.metadata.name} restarted {state.restart_count} time(s)"
    return None

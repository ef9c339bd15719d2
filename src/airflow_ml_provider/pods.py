"""Pod pieces shared by training pods and serving Deployments: resources, tolerations, the
secure-by-default security contexts, and plain-words explanations of pod failures.

Imports only the kubernetes client's models (no Airflow provider), so it is cheap to import.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from kubernetes.client import models as k8s

from airflow_ml_provider.cluster import RUN_AS
from airflow_ml_provider.core.resources import GPU_RESOURCE

IMAGE_PULL_REASONS = ("ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull")
CANNOT_START_REASONS = ("CreateContainerConfigError", "CreateContainerError", "CrashLoopBackOff")
_SECTION = {
    "training": "training.kubernetes",
    "serving": "deployment.kubernetes",
    "validate_data": "validation.kubernetes",
    "plan_partitions": "training.partitioning.kubernetes",
    "assemble_model": "training.partitioning.kubernetes",
    "evaluate_model": "evaluation.kubernetes",
}


def resource_requirements(resources: dict[str, Any] | None) -> k8s.V1ResourceRequirements:
    """``{requests: {cpu: "2"}, limits: {memory: 8Gi}, gpu: 1}`` as the k8s model; ``gpu: N``
    is the limit ``nvidia.com/gpu: N`` (extended resources are requested at their limit)."""
    resources = resources or {}
    limits = {k: str(v) for k, v in (resources.get("limits") or {}).items()}
    if resources.get("gpu"):
        limits[GPU_RESOURCE] = str(int(resources["gpu"]))
    return k8s.V1ResourceRequirements(
        requests={k: str(v) for k, v in (resources.get("requests") or {}).items()} or None,
        limits=limits or None,
    )


def toleration(item: dict[str, Any]) -> k8s.V1Toleration:
    """A toleration as written in YAML (Kubernetes' camelCase or snake_case keys)."""
    snake = {re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower(): value for key, value in item.items()}
    return k8s.V1Toleration(**snake)


def container_security_context() -> k8s.V1SecurityContext:
    """Non-root, no privilege escalation, no capabilities, read-only root filesystem."""
    return k8s.V1SecurityContext(
        run_as_non_root=True,
        run_as_user=RUN_AS,
        run_as_group=RUN_AS,
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        capabilities=k8s.V1Capabilities(drop=["ALL"]),
        seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
    )


def explain_pod_failure(
    pod: k8s.V1Pod,
    log_tail: Callable[[], str] | None = None,
    container: str = "base",
    role: str = "training",
) -> str | None:
    """One readable line (plus log lines for a failed run) saying why a pod failed.

    ``role`` names the pod's job in the message and the YAML section to change
    (``training`` -> ``training.kubernetes``, ``serving`` -> ``deployment.kubernetes``).

    ``pod`` is the pod as the API server reports it. Recognises eviction, OOMKilled, image
    pull failures, containers that cannot be created (e.g. a missing Secret), an
    unschedulable pod (with the scheduler's message) and a non-zero exit (with the last log
    lines, from ``log_tail``). Returns None when the pod did not fail.
    """
    name = f"{pod.metadata.namespace}/{pod.metadata.name}"
    status = pod.status or k8s.V1PodStatus()
    if status.reason == "Evicted":
        return f"{role} pod {name} was evicted from its node: {status.message or 'no message'}"
    spec_container = next((c for c in (pod.spec.containers or []) if c.name == container), None)
    state = next((s for s in (status.container_statuses or []) if s.name == container), None)
    if state is not None:
        terminated = (state.state and state.state.terminated) or (
            state.last_state and state.last_state.terminated
        )
        waiting = state.state and state.state.waiting
        if terminated is not None and terminated.reason == "OOMKilled":
            limits = (
                spec_container and spec_container.resources and spec_container.resources.limits
            ) or {}
            return (
                f"{role} pod {name} was OOMKilled: it used more than its memory limit "
                f"({limits.get('memory', 'none set')}); raise "
                f"{_SECTION[role]}.resources.limits.memory"
            )
        if waiting is not None and waiting.reason in IMAGE_PULL_REASONS:
            image = spec_container.image if spec_container else state.image
            return (
                f"{role} image {image!r} cannot be pulled ({waiting.reason}): "
                f"{waiting.message or 'check the image name, tag and pull secret'}"
            )
        if waiting is not None and waiting.reason in CANNOT_START_REASONS:
            return (
                f"{role} container in pod {name} cannot start ({waiting.reason}): {waiting.message}"
            )
        if terminated is not None and terminated.exit_code:
            tail = ""
            if log_tail is not None:
                try:
                    tail = log_tail().rstrip()
                except Exception as exc:  # the logs are a courtesy; the exit code is the news
                    tail = f"(logs unavailable: {exc})"
            return (
                f"{role} exited with code {terminated.exit_code} ({terminated.reason}) in pod "
                f"{name}; last log lines:\n{tail}"
            ).rstrip()
    for condition in status.conditions or []:
        if condition.type == "PodScheduled" and condition.status == "False":
            return (
                f"{role} pod {name} cannot be scheduled ({condition.reason}): "
                f"{condition.message or 'no message from the scheduler'}"
            )
    if status.phase == "Failed":
        return f"{role} pod {name} failed ({status.reason}): {status.message or 'no message'}"
    return None


def pod_security_context() -> k8s.V1PodSecurityContext:
    """Pod-level: non-root uid/gid 10001 (also the volumes' group), RuntimeDefault seccomp."""
    return k8s.V1PodSecurityContext(
        run_as_non_root=True,
        run_as_user=RUN_AS,
        run_as_group=RUN_AS,
        fs_group=RUN_AS,
        seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
    )

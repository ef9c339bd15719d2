"""A job of this package in its own pod (KubernetesPodOperator): what training pods and the
heavy steps' pods (plan_partitions) share.

The job travels as JSON in the ``AIRFLOW_ML_JOB`` environment variable, is written to
``$HOME/job.json`` (an emptyDir) and read by ``python -m <module> --job``; the pod writes its
result to ``/airflow/xcom/return.json`` and KPO's XCom sidecar returns it. The pod is secure by
default and a failure is explained in plain words before KPO's own error.

Importing this module imports the cncf.kubernetes provider (~2.3 s): the DAG factory imports
it only for pipelines that run pods.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.cncf.kubernetes.pod_generator import make_safe_label_value
from airflow.sdk.exceptions import AirflowException, AirflowTaskTimeout
from kubernetes.client import models as k8s

from airflow_ml_provider.cluster import TRAINING_NAMESPACE, TRAINING_SERVICE_ACCOUNT
from airflow_ml_provider.core.connections import KUBERNETES_CONN_ID
from airflow_ml_provider.core.defaults import TRAINING_STARTUP_SECONDS
from airflow_ml_provider.core.errors import AirflowMlError
from airflow_ml_provider.core.resources import gpus_asked
from airflow_ml_provider.pods import (
    container_security_context,
    explain_pod_failure,
    pod_security_context,
    resource_requirements,
    toleration,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

JOB_ENV = "AIRFLOW_ML_JOB"
"""The job JSON reaches the pod in this environment variable (JSON, never a pickle)."""
XCOM_RESULT = "/airflow/xcom/return.json"
"""Where the pod writes its result; KPO's XCom sidecar hands it back to the task."""
SCRATCH = "/tmp"
"""The only writable path besides the XCom volume: an emptyDir, also $HOME."""
BASE_CONTAINER = "base"
LABEL_PREFIX = "airflow-ml/"
LOG_TAIL_LINES = 20


def job_command(module: str) -> list[str]:
    """Write the job where the container may write, then replace the shell with ``module``."""
    return [
        "/bin/sh",
        "-c",
        f'printf "%s" "${JOB_ENV}" > "$HOME/job.json" && '
        f'exec python -m {module} --job "$HOME/job.json"',
    ]


def pod_identity(pipeline: str, step: str) -> dict[str, Any]:
    """The pod's name (KPO adds a random suffix) and pipeline label, from the pipeline and
    the step."""
    name = re.sub(r"[^a-z0-9-]+", "-", f"{pipeline}-{step}".lower()).strip("-")[:50]
    return {"name": name, "labels": {f"{LABEL_PREFIX}pipeline": make_safe_label_value(pipeline)}}


class JobPodFailed(AirflowMlError, AirflowException):
    """A job's pod failed; the first line of the message says why in plain words."""


class JobPodOperator(KubernetesPodOperator):
    """Run one of this package's jobs in a secure pod; subclasses say which (``job_env``).

    runAsNonRoot (uid 10001), no privilege escalation, all capabilities dropped, read-only
    root filesystem with an emptyDir at /tmp (also $HOME), seccomp RuntimeDefault, no
    ServiceAccount token unless ``automount_service_account_token``. Deferrable by default,
    logs streamed, the pod deleted when it finishes and when the task is killed;
    ``execution_timeout`` is honoured by KPO in both modes. A failed pod fails the task with a
    first line naming the cause (evicted, OOMKilled, image pull, unschedulable, non-zero exit
    with the last log lines); Airflow retries it per ``retries``.

    :param image: the image (this package's ``Dockerfile.train``; templated).
    :param namespace: where the pod runs (the Helm chart's training namespace by default).
    :param service_account: the pod's ServiceAccount.
    :param automount_service_account_token: mount its token (off: the jobs need no API).
    :param resources: ``{requests: {...}, limits: {...}, gpu: N}`` (CPU, memory; ``gpu: N``
        is the limit ``nvidia.com/gpu: N``).
    :param node_selector: node labels the pod must run on; a GPU pod without any gets
        ``[ml_provider] gpu_node_selector``.
    :param tolerations: Kubernetes tolerations; a GPU pod without any gets
        ``[ml_provider] gpu_tolerations`` (default: the ``nvidia.com/gpu`` taint).
    :param priority_class: the pod's PriorityClass.
    :param pod_template_file: a pod template the pod starts from (under the DAGs folder).
    :param kubernetes_conn_id: the Airflow connection to the cluster.
    :param env_from_secrets: Secrets whose keys become the pod's environment.
    :param startup_timeout: how long the pod may take to start (seconds or a timedelta).
    :param deferrable: wait for the pod in the triggerer (default).
    """

    role = "training"
    """What the pod does, in its failures' messages (a key of pods._SECTION's roles)."""
    failure = JobPodFailed
    """The error a failed pod raises."""

    def __init__(
        self,
        *,
        image: str,
        namespace: str = TRAINING_NAMESPACE,
        service_account: str | None = TRAINING_SERVICE_ACCOUNT,
        automount_service_account_token: bool = False,
        resources: dict[str, Any] | None = None,
        node_selector: dict[str, str] | None = None,
        tolerations: list[dict[str, Any]] | None = None,
        priority_class: str | None = None,
        pod_template_file: str | None = None,
        kubernetes_conn_id: str = KUBERNETES_CONN_ID,
        env_from_secrets: list[str] | tuple[str, ...] = (),
        startup_timeout: dt.timedelta | float = TRAINING_STARTUP_SECONDS,
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        if isinstance(startup_timeout, dt.timedelta):
            startup_timeout = startup_timeout.total_seconds()
        if gpus_asked(resources):  # placed on the GPU pool unless the YAML says where
            from airflow_ml_provider import settings

            node_selector = node_selector or settings.gpu_node_selector()
            tolerations = tolerations or settings.gpu_tolerations()
        options: dict[str, Any] = {
            "get_logs": True,
            "do_xcom_push": True,
            "on_finish_action": "delete_pod",
            "on_kill_action": "delete_pod",
            "log_events_on_failure": True,
            **kwargs,
        }
        super().__init__(
            image=image,
            namespace=namespace,
            service_account_name=service_account,
            automount_service_account_token=automount_service_account_token,
            container_resources=resource_requirements(resources),
            node_selector=dict(node_selector or {}),
            tolerations=[toleration(item) for item in tolerations or []],
            priority_class_name=priority_class,
            pod_template_file=pod_template_file,
            kubernetes_conn_id=kubernetes_conn_id,
            env_from=[
                k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=secret))
                for secret in env_from_secrets
            ],
            startup_timeout_seconds=int(startup_timeout),
            deferrable=deferrable,
            security_context=pod_security_context(),
            container_security_context=container_security_context(),
            xcom_sidecar_container_security_context=container_security_context(),
            volumes=[k8s.V1Volume(name="scratch", empty_dir=k8s.V1EmptyDirVolumeSource())],
            volume_mounts=[k8s.V1VolumeMount(name="scratch", mount_path=SCRATCH)],
            **options,
        )
        self._problem: str | None = None
        self._finished: Any = None

    def job_env(self, context: Context) -> dict[str, str]:
        """The pod's environment, the job (``JOB_ENV``) among it."""
        raise NotImplementedError

    def build_pod_request_obj(
        self, context: Context | None = None, *, dry_run: bool = False
    ) -> k8s.V1Pod:
        """KPO's pod plus the job in the environment and the run's labels (needs ``context``)."""
        if context is not None:
            self.env_vars = [
                k8s.V1EnvVar(name=name, value=value)
                for name, value in self.job_env(context).items()
            ]
        pod = super().build_pod_request_obj(context, dry_run=dry_run)
        if context is not None:
            pod.metadata.labels.update(
                {
                    f"{LABEL_PREFIX}dag-run-id": make_safe_label_value(context["run_id"]),
                    f"{LABEL_PREFIX}try-number": str(context["ti"].try_number),
                }
            )
        return pod

    def run_pod(self, context: Context) -> Any:
        """Run the pod (KPO's execute, failures explained) and return ``finish`` of what it
        answered; when KPO defers, ``trigger_reentry`` finishes instead."""
        self._finished = None
        with self.explained():
            result = KubernetesPodOperator.execute(self, context)
        if result is None and self._finished is not None:
            # The pod was already done when KPO would have deferred: KPO called
            # trigger_reentry itself and dropped its return value.
            return self._finished
        return self.finish(context, result)

    def trigger_reentry(self, context: Context, event: dict[str, Any]) -> Any:
        with self.explained():
            result = super().trigger_reentry(context, event)
        self._finished = self.finish(context, result)
        return self._finished

    def finish(self, context: Context, result: Any) -> Any:
        """The task's return value from the pod's answer (XCom ``return.json``)."""
        return result

    def pod_env(self) -> dict[str, str]:
        """The environment of the pod this task started, the job among it (after a deferral
        this is a new operator instance: the pod is what remembers)."""
        container = next(c for c in self.pod.spec.containers if c.name == BASE_CONTAINER)
        return {item.name: item.value for item in container.env or []}

    def cleanup(
        self,
        pod: k8s.V1Pod,
        remote_pod: k8s.V1Pod | None,
        xcom_result: Any = None,
        context: Context | None = None,
    ) -> None:
        """Read why the pod failed before KPO deletes it, then let KPO clean up."""
        if remote_pod is not None and not self._killed:
            self._problem = self._diagnose(pod or remote_pod)
        super().cleanup(pod, remote_pod, xcom_result=xcom_result, context=context)

    def _diagnose(self, pod: k8s.V1Pod) -> str | None:
        try:
            remote = self.pod_manager.read_pod(pod)
        except Exception as exc:  # a diagnosis must never hide the original failure
            self.log.warning("could not read pod %s to explain it: %s", pod.metadata.name, exc)
            return None

        def log_tail() -> str:
            return self.client.read_namespaced_pod_log(
                name=remote.metadata.name,
                namespace=remote.metadata.namespace,
                container=self.base_container_name,
                tail_lines=LOG_TAIL_LINES,
            )

        return explain_pod_failure(remote, log_tail, self.base_container_name, self.role)

    @contextmanager
    def explained(self) -> Iterator[None]:
        """Put the plain-words cause in front of KPO's error (TaskDeferred passes through)."""
        self._problem = None
        try:
            yield
        except Exception as exc:
            timeout = _timed_out(exc)
            if timeout is not None:
                # KPO's cleanup turns the timeout into "Pod ... returned a failure" plus the
                # whole pod dump; say what happened instead, keeping it a timeout for Airflow.
                raise AirflowTaskTimeout(
                    f"{self.role} did not finish within its execution_timeout "
                    f"({self.execution_timeout}); the pod was deleted"
                ) from timeout
            problem = self._problem
            if problem and not str(exc).startswith(problem):
                raise self.failure(f"{problem}\n{exc}") from exc
            raise


def _timed_out(exc: BaseException) -> BaseException | None:
    """The AirflowTaskTimeout behind ``exc`` (raised while KPO was waiting), if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, AirflowTaskTimeout):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None

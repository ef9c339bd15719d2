"""train_model on Kubernetes: the training entrypoint in its own pod (KubernetesPodOperator).

Importing this module imports the cncf.kubernetes provider (~2.3 s), so the DAG factory
imports it only for pipelines with ``training.runner: kubernetes``.
"""

from __future__ import annotations

import datetime as dt
import json
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
from airflow_ml_provider.operators.candidates import CandidateSelection
from airflow_ml_provider.operators.training import TRAIN_MODULE, TrainingJobOperator
from airflow_ml_provider.pods import (
    container_security_context,
    explain_pod_failure,
    pod_security_context,
    resource_requirements,
    toleration,
)

if TYPE_CHECKING:
    from airflow_ml_provider.ml.training.trainer_image import ImageRun

JOB_ENV = "AIRFLOW_ML_JOB"
"""The job JSON reaches the pod in this environment variable (JSON, never a pickle)."""
XCOM_RESULT = "/airflow/xcom/return.json"
"""Where the pod writes its result; KPO's XCom sidecar hands it back to the task."""
SCRATCH = "/tmp"
"""The only writable path besides the XCom volume: an emptyDir, also $HOME."""
BASE_CONTAINER = "base"
LABEL_PREFIX = "airflow-ml/"
# Write the job where the container may write, then replace the shell with the entrypoint.
TRAIN_COMMAND = [
    "/bin/sh",
    "-c",
    f'printf "%s" "${JOB_ENV}" > "$HOME/job.json" && '
    f'exec python -m {TRAIN_MODULE} --job "$HOME/job.json"',
]
LOG_TAIL_LINES = 20


class TrainingPodFailed(AirflowMlError, AirflowException):
    """The training pod failed; the first line of the message says why in plain words."""


class KubernetesTrainingOperator(TrainingJobOperator, KubernetesPodOperator):
    """Train a model in a pod: ``python -m airflow_ml_provider.ml.train`` with the local job.

    A KubernetesPodOperator whose pod runs the same entrypoint and JSON job as
    LocalTrainingOperator. The job travels in the ``AIRFLOW_ML_JOB`` environment variable and
    is written to ``$HOME/job.json`` (an emptyDir) before the entrypoint starts; the pod writes
    its result to ``/airflow/xcom/return.json`` and KPO's XCom sidecar returns it. The MLflow
    tracking URI and credentials come from the Airflow connection as environment variables
    (``MlflowHook.subprocess_env``), never in the job; ``env_from_secrets`` become envFrom
    secretRefs. Returns the training result and pushes XCom ``mlflow_run_url`` like the local
    runner.

    Secure by default: runAsNonRoot (uid 10001), no privilege escalation, all capabilities
    dropped, read-only root filesystem with an emptyDir at /tmp (also $HOME), seccomp
    RuntimeDefault, no ServiceAccount token unless ``automount_service_account_token``.
    Deferrable by default, logs streamed, the pod deleted when it finishes and when the task
    is killed; ``execution_timeout`` is honoured by KPO in both modes. A failed pod fails the
    task with a first line naming the cause (evicted, OOMKilled, image pull, unschedulable,
    non-zero exit with the last log lines); Airflow retries it per ``retries``.

    The Kubernetes arguments are those of ``training.kubernetes`` in the YAML (KubernetesSpec);
    further KubernetesPodOperator arguments pass through ``**kwargs``. The training arguments
    are TrainingJobOperator's.

    :param image: the training image (``Dockerfile.train``; templated).
    :param namespace: where the pod runs (the Helm chart's training namespace by default).
    :param service_account: the pod's ServiceAccount.
    :param automount_service_account_token: mount its token (off: training needs no API).
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
    :param command: a team trainer image's command (``training.kubernetes.command``): the pod
        runs it instead of this package's trainer, on the train/validation rows this task
        logs to the MLflow run ``$MLFLOW_RUN_ID`` beforehand; the model it logs there is
        verified and scored on the held-out rows here afterwards (ml.training.trainer_image).
    """

    template_fields: tuple[str, ...] = (*TrainingJobOperator.template_fields, "image")
    ui_color = "#d9ecf7"

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
        command: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(startup_timeout, dt.timedelta):
            startup_timeout = startup_timeout.total_seconds()
        if gpus_asked(resources):  # placed on the GPU pool unless the YAML says where
            from airflow_ml_provider import settings

            node_selector = node_selector or settings.gpu_node_selector()
            tolerations = tolerations or settings.gpu_tolerations()
        pipeline = kwargs.get("pipeline", "")
        options: dict[str, Any] = {
            "get_logs": True,
            "do_xcom_push": not command,  # a team image answers through MLflow, not XCom
            "on_finish_action": "delete_pod",
            "on_kill_action": "delete_pod",
            "log_events_on_failure": True,
            "name": (re.sub(r"[^a-z0-9-]+", "-", f"{pipeline}-train".lower()).strip("-")[:50]),
            "labels": {f"{LABEL_PREFIX}pipeline": make_safe_label_value(pipeline)},
            **kwargs,
        }
        super().__init__(
            image=image,
            namespace=namespace,
            cmds=list(command or TRAIN_COMMAND),
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
        self.trainer_command = list(command) if command else None
        self._problem: str | None = None
        self._finished: dict[str, Any] | None = None
        self._image_run: ImageRun | None = None

    # -- the pod ---------------------------------------------------------------------------

    def training_env(self, context) -> dict[str, str]:
        """The pod's environment: the job, MLflow's URI and credentials, $HOME on scratch."""
        from airflow_ml_provider.hooks.mlflow import MlflowHook

        hook = MlflowHook(self.mlflow_conn_id)
        run: dict[str, str] = {}
        if self._image_run is not None:  # a team trainer image: its rows and run are ready
            job = dict(self._image_run.job)
            run["MLFLOW_RUN_ID"] = self._image_run.run_id
        else:
            job = self.build_job(context, hook)
            job["output"] = XCOM_RESULT
        job["tracking_uri"] = None  # the pod reads MLFLOW_TRACKING_URI from its environment
        return {
            **hook.subprocess_env(),
            **self.study_env(),
            **run,
            "HOME": SCRATCH,
            "PYTHONUNBUFFERED": "1",
            "AIRFLOW_ML_IMAGE": self.image,  # recorded as a reproducibility tag
            JOB_ENV: json.dumps(job, sort_keys=True),
        }

    def build_pod_request_obj(self, context=None, *, dry_run: bool = False) -> k8s.V1Pod:
        """KPO's pod plus the job in the environment and the run's labels (needs ``context``)."""
        if context is not None:
            self.env_vars = [
                k8s.V1EnvVar(name=name, value=value)
                for name, value in self.training_env(context).items()
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

    # -- running and explaining ------------------------------------------------------------

    def execute(self, context) -> dict[str, Any]:
        from airflow_ml_provider.hooks.mlflow import MlflowHook

        self._finished = None
        self.end_abandoned_runs(context, MlflowHook(self.mlflow_conn_id))
        if self.trainer_command:
            earlier = self._prepare_image_run(context)
            if earlier is not None:
                return self._returned(context, earlier)
        with self._explained():
            result = super().execute(context)
        if result is None and self._finished is not None:
            # The pod was already done when KPO would have deferred: KPO called
            # trigger_reentry itself and dropped its return value.
            return self._finished
        return self._finish(context, result)

    def trigger_reentry(self, context, event: dict[str, Any]) -> dict[str, Any]:
        with self._explained():
            result = super().trigger_reentry(context, event)
        self._finished = self._finish(context, result)
        return self._finished

    def cleanup(self, pod, remote_pod, xcom_result=None, context=None) -> None:
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

        return explain_pod_failure(remote, log_tail, self.base_container_name)

    @contextmanager
    def _explained(self) -> Iterator[None]:
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
                    f"training did not finish within its execution_timeout "
                    f"({self.execution_timeout}); the pod was deleted"
                ) from timeout
            problem = self._problem
            if problem and not str(exc).startswith(problem):
                raise TrainingPodFailed(f"{problem}\n{exc}") from exc
            raise

    def _prepare_image_run(self, context) -> dict[str, Any] | None:
        """Log the rows a trainer image trains on to a new run (None), or the earlier result
        of this DAG run's same training (no pod then)."""
        from airflow_ml_provider.hooks.mlflow import MlflowHook
        from airflow_ml_provider.ml.training.trainer_image import ImageRun, prepare_image_run

        hook = MlflowHook(self.mlflow_conn_id)
        job = {**self.build_job(context, hook), "image": self.image}
        job.update(estimator=None, entrypoint=None)
        prepared = prepare_image_run(job)
        if isinstance(prepared, ImageRun):
            self._image_run = prepared
            return None
        earlier = dict(prepared)
        self.push_run_link(context, hook, earlier)
        return earlier

    def _returned(self, context, result: dict[str, Any]) -> dict[str, Any]:
        """``result`` as the task's return value: pushed by hand, because without the XCom
        sidecar (``do_xcom_push`` False) Airflow would not push what execute returns."""
        from airflow.sdk.bases.xcom import BaseXCom

        context["ti"].xcom_push(key=BaseXCom.XCOM_RETURN_KEY, value=result)
        return result

    def _image_result(self, hook) -> dict[str, Any]:
        """The trainer image's model, verified and scored; the job and run are read back from
        the pod (after a deferral this is a new operator instance)."""
        from airflow_ml_provider.ml.training.trainer_image import finish_image_run

        container = next(c for c in self.pod.spec.containers if c.name == BASE_CONTAINER)
        env = {item.name: item.value for item in container.env or []}
        job = {**json.loads(env[JOB_ENV]), "tracking_uri": hook.tracking_uri}
        return dict(finish_image_run(job, env["MLFLOW_RUN_ID"]))

    def _finish(self, context, result: dict[str, Any] | None) -> dict[str, Any]:
        from airflow_ml_provider.hooks.mlflow import MlflowHook

        if self.trainer_command:
            result = self._returned(context, self._image_result(MlflowHook(self.mlflow_conn_id)))
        if not result or ("run_id" not in result and "partitions" not in result):
            raise TrainingPodFailed(
                f"training pod finished but wrote no result to {XCOM_RESULT} (got {result!r})"
            )
        self.push_run_link(context, MlflowHook(self.mlflow_conn_id), result)
        return result


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


def pod_arguments(loaded) -> dict[str, Any]:
    """KubernetesTrainingOperator's Kubernetes arguments from a LoadedPipeline's
    ``training.kubernetes`` (pod_template_file resolved against the YAML file's folder)."""
    from pathlib import Path

    arguments = loaded.spec.training.kubernetes.model_dump()
    template = arguments.get("pod_template_file")
    if template and not Path(template).expanduser().is_absolute():
        arguments["pod_template_file"] = str(Path(loaded.file).parent / template)
    return arguments


class KubernetesSelectModelOperator(CandidateSelection, KubernetesTrainingOperator):
    """select_model on the Kubernetes runner: the winner refitted in its own training pod.

    Takes CandidateSelection's and KubernetesTrainingOperator's parameters; returns what
    SelectModelOperator returns.
    """

    template_fields: tuple[str, ...] = (*KubernetesTrainingOperator.template_fields, "results")

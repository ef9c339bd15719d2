"""train_model on Kubernetes: the training entrypoint in its own pod (KubernetesPodOperator).

Importing this module imports the cncf.kubernetes provider (~2.3 s), so the DAG factory
imports it only for pipelines with ``training.runner: kubernetes``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow_ml_provider.operators.candidates import CandidateSelection
from airflow_ml_provider.operators.job_pods import (
    JOB_ENV,
    SCRATCH,
    XCOM_RESULT,
    JobPodFailed,
    JobPodOperator,
    job_command,
    pod_identity,
)
from airflow_ml_provider.operators.training import TRAIN_MODULE, TrainingJobOperator

if TYPE_CHECKING:
    from airflow_ml_provider.ml.training.trainer_image import ImageRun

TRAIN_COMMAND = job_command(TRAIN_MODULE)


class TrainingPodFailed(JobPodFailed):
    """The training pod failed; the first line of the message says why in plain words."""


class KubernetesTrainingOperator(TrainingJobOperator, JobPodOperator):
    """Train a model in a pod: ``python -m airflow_ml_provider.ml.train`` with the local job.

    A KubernetesPodOperator whose pod runs the same entrypoint and JSON job as
    LocalTrainingOperator. The job travels in the ``AIRFLOW_ML_JOB`` environment variable and
    is written to ``$HOME/job.json`` (an emptyDir) before the entrypoint starts; the pod writes
    its result to ``/airflow/xcom/return.json`` and KPO's XCom sidecar returns it. The MLflow
    tracking URI and credentials come from the Airflow connection as environment variables
    (``MlflowHook.subprocess_env``), never in the job; ``env_from_secrets`` become envFrom
    secretRefs. Returns the training result and pushes XCom ``mlflow_run_url`` like the local
    runner.

    The pod is JobPodOperator's (secure by default, failures explained, deleted when done);
    its parameters are those of ``training.kubernetes`` in the YAML (KubernetesSpec), further
    KubernetesPodOperator arguments pass through ``**kwargs``. The training arguments are
    TrainingJobOperator's.

    :param command: a team trainer image's command (``training.kubernetes.command``): the pod
        runs it instead of this package's trainer, on the train/validation rows this task
        logs to the MLflow run ``$MLFLOW_RUN_ID`` beforehand; the model it logs there is
        verified and scored on the held-out rows here afterwards (ml.training.trainer_image).
    """

    template_fields: tuple[str, ...] = (*TrainingJobOperator.template_fields, "image")
    ui_color = "#d9ecf7"
    failure = TrainingPodFailed

    def __init__(self, *, command: list[str] | None = None, **kwargs: Any) -> None:
        pipeline = kwargs.get("pipeline", "")
        kwargs = {**pod_identity(pipeline, "train"), **kwargs}
        super().__init__(
            cmds=list(command or TRAIN_COMMAND),
            do_xcom_push=not command,  # a team image answers through MLflow, not XCom
            **kwargs,
        )
        self.trainer_command = list(command) if command else None
        self._image_run: ImageRun | None = None

    # -- the pod ---------------------------------------------------------------------------

    def job_env(self, context) -> dict[str, str]:
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

    # -- running and explaining ------------------------------------------------------------

    def execute(self, context) -> dict[str, Any]:
        from airflow_ml_provider.hooks.mlflow import MlflowHook

        self.end_abandoned_runs(context, MlflowHook(self.mlflow_conn_id))
        if self.trainer_command:
            earlier = self._prepare_image_run(context)
            if earlier is not None:
                return self._returned(context, earlier)
        return self.run_pod(context)

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

        env = self.pod_env()
        job = {**json.loads(env[JOB_ENV]), "tracking_uri": hook.tracking_uri}
        return dict(finish_image_run(job, env["MLFLOW_RUN_ID"]))

    def finish(self, context, result: dict[str, Any] | None) -> dict[str, Any]:
        from airflow_ml_provider.hooks.mlflow import MlflowHook

        if self.trainer_command:
            result = self._returned(context, self._image_result(MlflowHook(self.mlflow_conn_id)))
        if not result or ("run_id" not in result and "partitions" not in result):
            raise TrainingPodFailed(
                f"training pod finished but wrote no result to {XCOM_RESULT} (got {result!r})"
            )
        self.push_run_link(context, MlflowHook(self.mlflow_conn_id), result)
        return result


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

"""Heavy steps in pods of their own: plan_partitions where the memory is, not on the worker.

A step whose work reads the whole snapshot runs it as a step job (core.step_job) in a pod
with its own resources — ``python -m airflow_ml_provider.ml.step`` in the training image —
and keeps the Airflow side (XCom, logs) in the task. Importing this module imports the
cncf.kubernetes provider: the DAG factory imports it only for pipelines that ask for it
(``training.partitioning.runner: kubernetes``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.cncf.kubernetes.pod_generator import make_safe_label_value
from airflow.sdk import ObjectStoragePath

from airflow_ml_provider.operators.job_pods import (
    JOB_ENV,
    LABEL_PREFIX,
    SCRATCH,
    XCOM_RESULT,
    JobPodOperator,
    job_command,
    pod_name,
)
from airflow_ml_provider.operators.partitions import PlanPartitionsOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

STEP_MODULE = "airflow_ml_provider.ml.step"


class KubernetesPlanPartitionsOperator(PlanPartitionsOperator, JobPodOperator):
    """plan_partitions in a pod: the snapshot's partition and target columns, the plan and
    the chunk files are read and written by a pod with its own resources, so a snapshot
    larger than the Airflow worker's memory can be partitioned.

    The pod runs ``python -m airflow_ml_provider.ml.step`` on a PlanPartitionsJob (JSON in
    ``AIRFLOW_ML_JOB``): it reads the snapshot from the object store, writes the chunk files
    and ``plan.json`` next to it (its own credentials: the pod's workload identity) and
    answers with the plan's location; the task then reads the plan and returns what
    PlanPartitionsOperator returns. A plan an earlier try or run already wrote is reused
    without a pod. The pod is JobPodOperator's (secure by default, failures explained,
    deleted when done).

    Takes PlanPartitionsOperator's parameters and JobPodOperator's (``training.kubernetes``
    in the YAML, with ``training.partitioning.kubernetes.resources`` as its resources), and:

    :param pipeline: the pipeline id (the pod's name and label).
    """

    template_fields: tuple[str, ...] = (*PlanPartitionsOperator.template_fields, "image")
    role = "plan_partitions"

    def __init__(self, *, pipeline: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("name", pod_name(pipeline, "plan"))
        kwargs.setdefault("labels", {f"{LABEL_PREFIX}pipeline": make_safe_label_value(pipeline)})
        super().__init__(cmds=job_command(STEP_MODULE), **kwargs)
        self._finished: list[dict[str, Any]] | None = None

    def job_env(self, context: Context) -> dict[str, str]:
        """The pod's environment: the job (its result to the XCom file), $HOME on scratch."""
        job = self.plan_job().model_copy(update={"output": XCOM_RESULT})
        return {
            "HOME": SCRATCH,
            "PYTHONUNBUFFERED": "1",
            JOB_ENV: job.model_dump_json(),
        }

    def execute(self, context: Context) -> list[dict[str, Any]]:
        job = self.plan_job()
        plan_file = ObjectStoragePath(job.plan_file)
        if plan_file.exists():
            self.log.info("reusing the plan at %s (no pod)", plan_file)
            return self.conclude(context, job, json.loads(plan_file.read_text()))
        self._finished = None
        with self.explained():
            result = KubernetesPodOperator.execute(self, context)
        if result is None and self._finished is not None:
            # The pod was already done when KPO would have deferred: KPO called
            # trigger_reentry itself and dropped its return value.
            return self._finished
        return self._after_pod(context, result)

    def trigger_reentry(self, context: Context, event: dict[str, Any]) -> list[dict[str, Any]]:
        with self.explained():
            result = super().trigger_reentry(context, event)
        self._finished = self._after_pod(context, result)
        return self._finished

    def _after_pod(self, context: Context, result: dict[str, Any] | None) -> list[dict[str, Any]]:
        job = self.plan_job()
        if not result or result.get("plan_file") != job.plan_file:
            raise self.failure(
                f"plan_partitions' pod finished but did not answer with the plan "
                f"{job.plan_file} in {XCOM_RESULT} (got {result!r})"
            )
        plan = json.loads(ObjectStoragePath(job.plan_file).read_text())
        return self.conclude(context, job, plan)

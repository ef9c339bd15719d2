"""Heavy steps in pods of their own: validate_data, plan_partitions, assemble_model and
evaluate_model where the memory is, not on the Airflow worker.

A step whose work reads the whole snapshot runs it as a step job (core.step_job) in a pod
with its own resources — ``python -m airflow_ml_provider.ml.step`` in the training image —
and keeps the Airflow side (XCom, logs) in the task. Importing this module imports the
cncf.kubernetes provider: the DAG factory imports it only for pipelines that ask for it
(``validation.runner``, ``training.partitioning.runner``, ``evaluation.runner``:
``kubernetes``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow.sdk import ObjectStoragePath

from airflow_ml_provider.core.contracts import GateDecision, TrainingResult, Validation
from airflow_ml_provider.core.step_job import AssembleModelJob
from airflow_ml_provider.operators.evaluation import EvaluateModelOperator
from airflow_ml_provider.operators.job_pods import (
    JOB_ENV,
    SCRATCH,
    XCOM_RESULT,
    JobPodOperator,
    job_command,
    pod_identity,
)
from airflow_ml_provider.operators.partitions import (
    AssemblePartitionedModelOperator,
    PlanPartitionsOperator,
)
from airflow_ml_provider.operators.validation import ValidateDataOperator

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
        kwargs = {**pod_identity(pipeline, "plan"), **kwargs}
        super().__init__(cmds=job_command(STEP_MODULE), **kwargs)

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
        return self.run_pod(context)

    def finish(self, context: Context, result: dict[str, Any] | None) -> list[dict[str, Any]]:
        job = self.plan_job()
        if not result or result.get("plan_file") != job.plan_file:
            raise self.failure(
                f"plan_partitions' pod finished but did not answer with the plan "
                f"{job.plan_file} in {XCOM_RESULT} (got {result!r})"
            )
        plan = json.loads(ObjectStoragePath(job.plan_file).read_text())
        return self.conclude(context, job, plan)


class KubernetesAssembleModelOperator(AssemblePartitionedModelOperator, JobPodOperator):
    """assemble_model in a pod: the held-out rows, the chunks' answers and the router model
    are read, scored and logged by a pod with its own resources, not the Airflow worker.

    The task checks the plan and the training tasks' results first (too few partitions
    trained, or no fallback model: it fails without a pod), writes them as
    ``assemble-inputs.json`` beside the run's model files, and starts a pod running
    ``python -m airflow_ml_provider.ml.step`` on an AssembleModelJob: the training job the
    chunks were trained with and that file. The pod logs the one MLflow run (MLflow's URI and
    credentials from the connection, as for training pods) and answers with what
    AssemblePartitionedModelOperator returns; the task pushes the run's link. The pod is
    JobPodOperator's (secure by default, failures explained, deleted when done).

    Takes AssemblePartitionedModelOperator's parameters and JobPodOperator's
    (``training.kubernetes`` in the YAML, with ``training.partitioning.kubernetes.resources``
    as its resources), and:

    :param pipeline: the pipeline id (the pod's name and label, the run's tag).
    """

    template_fields: tuple[str, ...] = (*AssemblePartitionedModelOperator.template_fields, "image")
    role = "assemble_model"

    def __init__(self, *, pipeline: str = "", **kwargs: Any) -> None:
        kwargs = {**pod_identity(pipeline, "assemble"), **kwargs}
        super().__init__(pipeline=pipeline, cmds=job_command(STEP_MODULE), **kwargs)

    def job_env(self, context: Context) -> dict[str, str]:
        """The pod's environment: the job, MLflow's URI and credentials, $HOME on scratch."""
        from airflow_ml_provider.hooks.mlflow import MlflowHook

        hook = MlflowHook(self.mlflow_conn_id)
        results = self.checked_results()
        fallback = next(r for r in results if r.get("chunk") == "fallback")
        inputs = ObjectStoragePath(fallback["models_uri"]).parent / "assemble-inputs.json"
        inputs.write_text(json.dumps({"plan": self.plan, "results": results}))
        training = {**self.assembly_job(context, hook), "tracking_uri": None}
        job = AssembleModelJob(training=training, inputs=str(inputs), output=XCOM_RESULT)
        return {
            **hook.subprocess_env(),
            "HOME": SCRATCH,
            "PYTHONUNBUFFERED": "1",
            JOB_ENV: job.model_dump_json(),
        }

    def execute(self, context: Context) -> TrainingResult:
        from airflow_ml_provider.hooks.mlflow import MlflowHook

        self.end_abandoned_runs(context, MlflowHook(self.mlflow_conn_id))
        self.checked_results()  # too few partitions or no fallback: fail here, not in a pod
        result: TrainingResult = self.run_pod(context)
        return result

    def finish(self, context: Context, result: dict[str, Any] | None) -> dict[str, Any]:
        from airflow_ml_provider.hooks.mlflow import MlflowHook

        if not result or "run_id" not in result:
            raise self.failure(
                f"assemble_model's pod finished but wrote no result to {XCOM_RESULT} "
                f"(got {result!r})"
            )
        self.push_run_link(context, MlflowHook(self.mlflow_conn_id), result)
        return result


class KubernetesEvaluateModelOperator(EvaluateModelOperator, JobPodOperator):
    """evaluate_model in a pod: the held-out rows read, the champion loaded and both scored
    (bootstrap, slices, importance, plots) by a pod with its own resources, not the Airflow
    worker.

    The pod runs ``python -m airflow_ml_provider.ml.step`` on an EvaluateModelJob — this
    operator's settings, the challenger's training result and the snapshot — and does what
    EvaluateModelOperator does (ml.judge): the decision and its tables go on the
    challenger's MLflow run (MLflow's URI and credentials from the connection, as for
    training pods) and come back as the task's return value. The pod is JobPodOperator's
    (secure by default, failures explained, deleted when done).

    Takes EvaluateModelOperator's parameters and JobPodOperator's (``training.kubernetes``
    in the YAML, with ``evaluation.kubernetes.resources`` as its resources), and:

    :param pipeline: the pipeline id (the pod's name and label).
    """

    template_fields: tuple[str, ...] = (*EvaluateModelOperator.template_fields, "image")
    role = "evaluate_model"

    def __init__(self, *, pipeline: str = "", **kwargs: Any) -> None:
        kwargs = {**pod_identity(pipeline, "gate"), **kwargs}
        super().__init__(cmds=job_command(STEP_MODULE), **kwargs)

    def job_env(self, context: Context) -> dict[str, str]:
        """The pod's environment: the job, MLflow's URI and credentials, $HOME on scratch."""
        from airflow_ml_provider.hooks.mlflow import MlflowHook

        job = self.gate_job().model_copy(update={"output": XCOM_RESULT})
        return {
            **MlflowHook(self.mlflow_conn_id).subprocess_env(),
            "HOME": SCRATCH,
            "PYTHONUNBUFFERED": "1",
            JOB_ENV: job.model_dump_json(),
        }

    def execute(self, context: Context) -> GateDecision:
        decision: GateDecision = self.run_pod(context)
        return decision

    def finish(self, context: Context, result: dict[str, Any] | None) -> dict[str, Any]:
        if not result or "promote" not in result or "rules" not in result:
            raise self.failure(
                f"evaluate_model's pod finished but wrote no decision to {XCOM_RESULT} "
                f"(got {result!r})"
            )
        return result


class KubernetesValidateDataOperator(ValidateDataOperator, JobPodOperator):
    """validate_data in a pod: the snapshot's guards, Great Expectations suite, schema and
    drift checks run by a pod with its own resources, reading the snapshot a column at a time
    from the object store, not the Airflow worker.

    The task looks up the baselines (the stored schema, the champion's training data in
    MLflow) and starts a pod running ``python -m airflow_ml_provider.ml.step`` on a
    ValidateDataJob; the pod writes the Data Docs and the snapshot's drift profile beside the
    snapshot (its own credentials: the pod's workload identity) and answers with the checks'
    summary, which the task decides on, reports and stores exactly as ValidateDataOperator
    does. The image needs Great Expectations (``Dockerfile.train`` built with
    ``--build-arg VALIDATION=1``). The pod is JobPodOperator's (secure by default, failures
    explained, deleted when done).

    Takes ValidateDataOperator's parameters and JobPodOperator's (``training.kubernetes`` in
    the YAML, with ``validation.kubernetes.resources`` as its resources), and:

    :param pipeline: the pipeline id (the schema store's folder, the pod's name and label).
    """

    template_fields: tuple[str, ...] = (*ValidateDataOperator.template_fields, "image")
    role = "validate_data"

    def __init__(self, *, pipeline: str | None = None, **kwargs: Any) -> None:
        kwargs = {**pod_identity(pipeline or "", "validate"), **kwargs}
        super().__init__(pipeline=pipeline, cmds=job_command(STEP_MODULE), **kwargs)

    def job_env(self, context: Context) -> dict[str, str]:
        """The pod's environment: the job (its summary to the XCom file), $HOME on scratch."""
        job = self.validate_job(context).model_copy(update={"output": XCOM_RESULT})
        return {"HOME": SCRATCH, "PYTHONUNBUFFERED": "1", JOB_ENV: job.model_dump_json()}

    def execute(self, context: Context) -> Validation:
        validation: Validation = self.run_pod(context)
        return validation

    def finish(self, context: Context, result: dict[str, Any] | None) -> Validation:
        if not result or "guards" not in result or "baselines" not in result:
            raise self.failure(
                f"validate_data's pod finished but wrote no summary to {XCOM_RESULT} "
                f"(got {result!r})"
            )
        return self.decide(context, result)

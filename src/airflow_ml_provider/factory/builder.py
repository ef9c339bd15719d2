"""spec → DAG. Imports only Airflow's authoring API (parse time is sacred)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from airflow.sdk import DAG, Param, chain

from airflow_ml_provider.core.steps import plan
from airflow_ml_provider.factory.dag_args import EPOCH, as_datetime, default_args, stalled
from airflow_ml_provider.factory.docs import error_doc, pipeline_doc
from airflow_ml_provider.factory.monitor import build_monitor_dag, monitor_dag_id, retrain_asset
from airflow_ml_provider.factory.schedules import dag_schedule
from airflow_ml_provider.factory.steps import BUILDERS, Built
from airflow_ml_provider.operators.changes import RETRAIN_PARAM
from airflow_ml_provider.operators.config_error import ConfigErrorOperator
from airflow_ml_provider.pipeline_spec.loader import LoadedPipeline
from airflow_ml_provider.ui.card import CONFIG_ERROR_TAG, PIPELINE_TAG

if TYPE_CHECKING:
    from airflow_ml_provider.pipeline_spec.models import PipelineSpec


def _apply_step_policies(dag: DAG, spec: PipelineSpec) -> None:
    """steps: {<task id>: {retries, retry_delay, ...}} over the pipeline-wide values."""
    for step, policy in spec.steps.items():
        task = dag.task_dict[step]
        for field, value in policy.model_dump(exclude_none=True).items():
            setattr(task, field, value)


def build_dag(loaded: LoadedPipeline) -> DAG:
    """Build the continuous-training DAG of one validated pipeline spec: one task (or mapped
    task) per step of its plan (core/steps.py), each by its builder (factory/steps.py), in
    one chain in the plan's order."""
    spec = loaded.spec
    monitored = spec.monitoring is not None and spec.monitoring.mode == "dag"
    with DAG(
        dag_id=spec.pipeline,
        description=spec.description or None,
        schedule=dag_schedule(spec.schedule, loaded.source_uri, retrain_asset(loaded)),
        start_date=as_datetime(spec.start_date),
        catchup=spec.catchup,
        max_active_runs=spec.max_active_runs,  # 1 by default: runs must not race on aliases
        dagrun_timeout=spec.dagrun_timeout,
        tags=list(dict.fromkeys([*spec.tags, PIPELINE_TAG])),
        default_args=default_args(spec),
        doc_md=pipeline_doc(loaded, monitor_dag_id(spec.pipeline) if monitored else None),
        deadline=stalled(spec),
    ) as dag:
        built = Built(loaded)
        for step in plan(spec):
            built.tasks[step.task_id] = BUILDERS[step.task_id](built)
        chain(*built.tasks.values())
    # The trigger form's checkbox. Added once the tasks exist: every operator deep-copies the
    # DAG's params when it is created, which cost a third of the DAG's build time; only
    # check_changes reads it, from the run's conf (where the form and REST put it). Added in
    # place, not assigned: assigning re-validates every Param through jsonschema (~1 ms),
    # which Airflow does once more when it bags the DAG anyway.
    dag.params[RETRAIN_PARAM] = Param(
        False,
        type="boolean",
        description="Train even when the data and the configuration equal the "
        "champion's (check_changes skips the training otherwise).",
    )
    _apply_step_policies(dag, spec)
    return dag


def config_error_dag_id(file: Path) -> str:
    """The id of the DAG that stands for a broken YAML file."""
    return "config_error__" + re.sub(r"[^A-Za-z0-9_.-]", "_", file.stem)


def build_config_error_dag(file: Path, message: str) -> DAG:
    """A paused DAG whose description, docs and only task carry the file's errors."""
    first_line = message.splitlines()[0] if message else "invalid pipeline file"
    with DAG(
        dag_id=config_error_dag_id(file),
        description=f"INVALID PIPELINE FILE: {first_line}"[:1000],
        schedule=None,
        start_date=EPOCH,
        catchup=False,
        is_paused_upon_creation=True,
        tags=[PIPELINE_TAG, CONFIG_ERROR_TAG],
        doc_md=error_doc(str(file), message),
    ) as dag:
        ConfigErrorOperator(task_id="config_error", message=message)
    return dag


__all__ = [
    "build_dag",
    "build_monitor_dag",
    "build_config_error_dag",
    "config_error_dag_id",
]

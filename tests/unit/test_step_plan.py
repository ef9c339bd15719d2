"""The step plan (core/steps.py) is the DAG's shape: for every documented variant the DAG's
tasks, in order, are the plan's steps, the DAG's doc flow line names them in that order and
the run summary reads the tasks the plan gives each role."""

from __future__ import annotations

import re

import pytest

from airflow_ml_provider.core.steps import DEFAULT_PLAN, STEP_NAMES, flow_line, pipeline_steps
from airflow_ml_provider.pipeline_spec import load_pipeline
from helpers.spec_files import GOOD, write

WAIT = ("  target: churned\n", "  target: churned\n  wait: {timeout: 2h, poke_interval: 1m}\n")
PARTITIONS = ("  target: churned\n", "  target: churned\n  partition_by: region\n")
APPROVAL = ("alerts:\n", "deployment:\n  approval: manual\nalerts:\n")
BATCH = (
    "alerts:\n",
    "deployment:\n  strategy: batch\n  batch: {source: data/churn.csv, output: out/}\nalerts:\n",
)
FIRST_RUN_APPROVAL = (
    "  metrics: [roc_auc, f1]\n",
    "  metrics: [roc_auc, f1]\n  first_run: require_approval\n",
)
MONITORING = (
    "alerts:\n",
    "monitoring: {source: data/recent/*.parquet, schedule: '@hourly'}\nalerts:\n",
)
KUBERNETES_TRAINING = (
    "  params: {n_estimators: 10}\n",
    "  params: {n_estimators: 10}\n  runner: kubernetes\n"
    "  kubernetes: {image: registry.example.com/ml/trainer:1.4.2, namespace: ml}\n",
)
KUBERNETES_SERVING = (
    "alerts:\n",
    "deployment:\n  strategy: kubernetes\n"
    "  kubernetes: {image: registry.example.com/ml/trainer:1.4.2, namespace: ml}\nalerts:\n",
)

VARIANTS = {
    "plain": [],
    "wait": [WAIT],
    "partitions": [PARTITIONS],
    "approval": [APPROVAL],
    "first-run approval": [FIRST_RUN_APPROVAL],
    "batch": [BATCH],
    "approval and batch": [
        (
            "alerts:\n",
            "deployment:\n  strategy: batch\n  approval: manual\n"
            "  batch: {source: data/churn.csv, output: out/}\nalerts:\n",
        ),
    ],
    "monitoring": [MONITORING],
    "kubernetes training and serving": [KUBERNETES_TRAINING, KUBERNETES_SERVING],
    "everything": [WAIT, PARTITIONS, FIRST_RUN_APPROVAL, BATCH],
}


def _text(edits: list[tuple[str, str]]) -> str:
    text = GOOD
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def _flow_tasks(doc: str) -> list[str]:
    """The task ids of the DAG doc's flow line, in its order."""
    line = next(line for line in doc.splitlines() if " → " in line)
    return [re.match(r"\w+", part.strip()).group(0) for part in line.split(" → ")]


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_the_dag_its_doc_and_its_summary_follow_the_plan(tmp_path, name):
    from airflow_ml_provider.factory.builder import build_dag

    loaded = load_pipeline(write(tmp_path, _text(VARIANTS[name])))
    dag = build_dag(loaded)
    steps = pipeline_steps(loaded.spec)
    assert [task.task_id for task in dag.topological_sort()] == steps
    for upstream, downstream in zip(steps, steps[1:], strict=False):
        assert downstream in dag.get_task(upstream).downstream_task_ids
    assert _flow_tasks(dag.doc_md) == steps
    assert flow_line(loaded.spec) in dag.doc_md
    roles = dag.get_task("notify").task_ids
    assert set(roles.values()) <= set(steps)
    partitioned = loaded.spec.data.partition_by is not None
    assert roles["training"] == ("assemble_model" if partitioned else "train_model")


def test_the_default_plan_is_the_plain_pipelines_and_every_step_has_a_builder(tmp_path):
    from airflow_ml_provider.factory.steps import BUILDERS

    assert pipeline_steps(load_pipeline(write(tmp_path, GOOD)).spec) == list(DEFAULT_PLAN)
    assert list(BUILDERS) == list(STEP_NAMES)
    everything = load_pipeline(write(tmp_path, _text(VARIANTS["everything"]))).spec
    assert "train_partitions (one task per region chunk)" in flow_line(everything)


def test_the_trigger_form_offers_retrain_and_the_tasks_do_not_carry_it(tmp_path):
    """The DAG's ``retrain`` Param (a checkbox in the trigger form) survives Airflow's
    serialization round trip; it is set once the tasks exist, so no task copied it (each
    copy cost build time; check_changes reads the run's conf)."""
    from airflow.serialization.serialized_objects import DagSerialization

    from airflow_ml_provider.factory.builder import build_dag
    from airflow_ml_provider.operators.changes import RETRAIN_PARAM

    dag = build_dag(load_pipeline(write(tmp_path, GOOD)))
    assert all(RETRAIN_PARAM not in task.params for task in dag.tasks)
    served = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    param = served.params.get_param(RETRAIN_PARAM)
    assert (param.value, param.schema["type"]) == (False, "boolean")
    assert "check_changes skips the training" in param.description

"""MLflow runs a killed training try left RUNNING: which ones are certainly abandoned, and
ending them (and their nested trial runs) as KILLED.

A SIGKILLed worker or pod cannot end its own run; the next try of the same task, or the
next DAG run of the pipeline, does it here. A run counts as abandoned only when Airflow
says its try cannot still be running: an earlier try of the very task instance now running
(Airflow runs one try at a time), or a run of a DAG run that has finished. A run of another
DAG run still going (concurrent runs, candidate workers) is never touched. No Airflow
imports: the caller asks Airflow for DAG run states.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ENDED_BY_TAG = "airflow_ml.ended_by"
FINISHED_DAG_RUN_STATES = frozenset({"success", "failed"})
TASK_ID_TAG = "airflow_ml.task_id"
MAP_INDEX_TAG = "airflow_ml.map_index"


@dataclass(frozen=True)
class RunningTry:
    """The task instance try that is looking for debris (the one now running)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int

    def tags(self) -> dict[str, str]:
        """What a training run records so that a later try can tell whether it is alive."""
        return {TASK_ID_TAG: self.task_id, MAP_INDEX_TAG: str(self.map_index)}


def abandoned_because(
    tags: dict[str, str], now: RunningTry, dag_run_state: Callable[[str], str | None]
) -> str | None:
    """Why a RUNNING run of ``now``'s DAG with these tags cannot still be running, or None
    (alive or unknown). ``dag_run_state(run_id)`` is Airflow's state of that DAG run (None
    when unknown)."""
    run_id = tags.get("airflow_ml.dag_run_id")
    if not run_id:
        return None
    if run_id == now.run_id:
        same_task = tags.get(TASK_ID_TAG) == now.task_id and tags.get(MAP_INDEX_TAG) == str(
            now.map_index
        )
        try_number = _number(tags.get("airflow_ml.try_number"))
        if same_task and try_number is not None and try_number < now.try_number:
            return f"try {try_number} of {now.task_id} was cut off; try {now.try_number} runs now"
        return None
    state = dag_run_state(run_id)
    if state in FINISHED_DAG_RUN_STATES:
        return f"its DAG run {run_id} has ended ({state}) while the run was still RUNNING"
    return None


def end_abandoned_runs(
    client, experiment_id: str, now: RunningTry, dag_run_state: Callable[[str], str | None]
) -> list[str]:
    """End as KILLED every RUNNING run of ``now``'s DAG in the experiment that is certainly
    abandoned, with its RUNNING nested runs; tag each with why. Returns the ended run ids."""
    runs = client.search_runs(
        [experiment_id],
        filter_string=(
            f"attributes.status = 'RUNNING' and tags.`airflow_ml.dag_id` = '{_quoted(now.dag_id)}'"
        ),
    )
    ended: list[str] = []
    for run in runs:
        why = abandoned_because(run.data.tags, now, dag_run_state)
        if why is None:
            continue
        for run_id in [run.info.run_id, *_running_children(client, experiment_id, run)]:
            client.set_tag(run_id, ENDED_BY_TAG, why[:250])
            client.set_terminated(run_id, status="KILLED")
            ended.append(run_id)
    return ended


def _running_children(client, experiment_id: str, parent: Any) -> list[str]:
    children = client.search_runs(
        [experiment_id],
        filter_string=(
            f"attributes.status = 'RUNNING' and tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
        ),
    )
    return [child.info.run_id for child in children]


def _number(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _quoted(value: str) -> str:
    return value.replace("'", "\\'")

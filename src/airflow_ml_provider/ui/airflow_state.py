"""What the Airflow metadata DB knows about the YAML pipelines: DAGs, cards, runs and the
results our tasks pushed as XCom (validation summary, gate decision, drift check).

Every function takes the caller's session and answers with a fixed number of queries,
whatever the number of pipelines (the list page must stay fast with many of them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from airflow_ml_provider.notifications.failure import FAILURE_XCOM
from airflow_ml_provider.ui.card import CONFIG_ERROR_TAG, PIPELINE_TAG, read_card

VALIDATION = ("validate_data", "validation")
GATE_DECISION = ("evaluate_model", "return_value")
CHANGES = ("check_changes", "return_value")
MONITOR_DRIFT = ("check_drift", "return_value")
UNFINISHED = ("queued", "running")
UNRECORDED = "no error recorded; see the task's log"


@dataclass
class RunInfo:
    """One DAG run as the pages show it."""

    dag_id: str
    run_id: str
    state: str
    run_type: str
    run_after: datetime | None
    start: datetime | None
    end: datetime | None
    failure: dict[str, str] | None = None
    """A failed run's first failed task and its one-line cause (XCom ``failure``)."""


@dataclass
class TaskResult:
    """An XCom value one of our tasks pushed, with the run it belongs to."""

    value: Any
    run_id: str
    at: datetime | None


@dataclass
class PipelineDag:
    """A DAG built by the factory: its card (None for a broken-config DAG) and its state."""

    dag_id: str
    card: dict[str, Any] | None
    description: str | None
    schedule: str | None
    paused: bool
    next_run: datetime | None
    config_error: bool = False
    last_run: RunInfo | None = None
    validation: TaskResult | None = None
    decision: TaskResult | None = None
    changes: TaskResult | None = None
    monitor_drift: TaskResult | None = None
    recent_runs: list[RunInfo] = field(default_factory=list)
    gone: bool = False
    """The DAG is stale: its YAML file is no longer in the DAGs folder."""


def pipeline_dags(
    session: Session, allowed: set[str] | None = None, with_gone: bool = False
) -> list[PipelineDag]:
    """Every live DAG the factory built (monitors excluded: they show on their pipeline's
    row), restricted to ``allowed`` dag ids when given, with their latest run and results;
    ``with_gone`` adds stale DAGs (their file was removed), marked ``gone``."""
    from airflow.models.dag import DagModel, DagTag
    from airflow.models.serialized_dag import SerializedDagModel

    query = (
        select(DagModel)
        .join(DagTag, DagTag.dag_id == DagModel.dag_id)
        .where(DagTag.name == PIPELINE_TAG)
        .order_by(DagModel.dag_id)
    )
    if not with_gone:
        query = query.where(DagModel.is_stale.is_(False))
    models = [m for m in session.scalars(query) if allowed is None or m.dag_id in allowed]
    ids = [m.dag_id for m in models]
    if not ids:
        return []
    broken = set(
        session.scalars(
            select(DagTag.dag_id).where(DagTag.dag_id.in_(ids), DagTag.name == CONFIG_ERROR_TAG)
        )
    )
    cards = {
        row.dag_id: read_card((row.data or {}).get("dag", {}).get("doc_md"))
        for row in SerializedDagModel.get_latest_serialized_dags(dag_ids=ids, session=session)
    }
    dags = [
        PipelineDag(
            dag_id=m.dag_id,
            card=cards.get(m.dag_id),
            description=m.description,
            # Airflow summarises "no schedule" as the text "None".
            schedule=None if m.timetable_summary in (None, "None") else m.timetable_summary,
            paused=bool(m.is_paused),
            next_run=None if m.is_paused or m.is_stale else m.next_dagrun_create_after,
            config_error=m.dag_id in broken,
            gone=bool(m.is_stale),
        )
        for m in models
    ]
    dags = [d for d in dags if d.card is not None or d.config_error]
    _attach_results(session, dags)
    return dags


def pipeline_dag(session: Session, dag_id: str, recent: int = 10) -> PipelineDag | None:
    """One pipeline DAG with its latest results and its ``recent`` last runs."""
    from airflow.models.dagrun import DagRun

    found = [d for d in pipeline_dags(session, {dag_id}, with_gone=True) if d.card is not None]
    if not found:
        return None
    dag = found[0]
    runs = session.scalars(
        select(DagRun)
        .where(DagRun.dag_id == dag_id)
        .order_by(DagRun.run_after.desc(), DagRun.id.desc())
        .limit(recent)
    )
    dag.recent_runs = [_run_info(run) for run in runs]
    _attach_failures(session, [run for run in dag.recent_runs if run.state == "failed"])
    return dag


def _attach_results(session: Session, dags: list[PipelineDag]) -> None:
    ids = [d.dag_id for d in dags]
    last_runs = _latest_runs(session, ids)
    _attach_failures(session, [run for run in last_runs.values() if run.state == "failed"])
    validations = _latest_xcoms(session, ids, *VALIDATION)
    decisions = _latest_xcoms(session, ids, *GATE_DECISION)
    changes = _latest_xcoms(session, ids, *CHANGES)
    monitors = {d.card["monitor_dag_id"]: d for d in dags if d.card and d.card["monitor_dag_id"]}
    drift = _latest_xcoms(session, list(monitors), *MONITOR_DRIFT)
    for dag in dags:
        dag.last_run = last_runs.get(dag.dag_id)
        dag.validation = validations.get(dag.dag_id)
        dag.decision = decisions.get(dag.dag_id)
        dag.changes = changes.get(dag.dag_id)
    for monitor_id, dag in monitors.items():
        dag.monitor_drift = drift.get(monitor_id)


def _latest_runs(session: Session, ids: list[str]) -> dict[str, RunInfo]:
    """Each DAG's last run: a queued or running one when there is one (the newest), else
    the one that finished last — by end date, not by creation: runs can finish out of
    order."""
    from airflow.models.dagrun import DagRun

    unfinished = (
        select(DagRun.dag_id, func.max(DagRun.id).label("id"))
        .where(DagRun.dag_id.in_(ids), DagRun.state.in_(UNFINISHED))
        .group_by(DagRun.dag_id)
        .subquery()
    )
    latest = {
        run.dag_id: _run_info(run)
        for run in session.scalars(select(DagRun).join(unfinished, DagRun.id == unfinished.c.id))
    }
    finished_at = (
        select(DagRun.dag_id, func.max(DagRun.end_date).label("end"))
        .where(DagRun.dag_id.in_(ids), DagRun.state.not_in(UNFINISHED))
        .group_by(DagRun.dag_id)
        .subquery()
    )
    finished = session.scalars(
        select(DagRun)
        .join(
            finished_at,
            and_(DagRun.dag_id == finished_at.c.dag_id, DagRun.end_date == finished_at.c.end),
        )
        .order_by(DagRun.id)
    )
    for run in finished:
        latest.setdefault(run.dag_id, _run_info(run))
    return latest


def _attach_failures(session: Session, runs: list[RunInfo]) -> None:
    """Give each failed run its first failed task and that task's one-line cause (the
    XCom ``failure`` its failure callback pushed; a task killed before it could push one
    is named with "see its log")."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel

    if not runs:
        return
    by_run = {(run.dag_id, run.run_id): run for run in runs}
    run_ids = {run.run_id for run in runs}
    records = session.scalars(
        select(XComModel)
        .where(XComModel.run_id.in_(run_ids), XComModel.key == FAILURE_XCOM)
        .order_by(XComModel.timestamp)
    )
    for record in records:
        run = by_run.get((record.dag_id, record.run_id))
        if run is not None and run.failure is None:
            run.failure = XComModel.deserialize_value(record)
    failed = session.scalars(
        select(TaskInstance)
        .where(TaskInstance.run_id.in_(run_ids), TaskInstance.state == "failed")
        .order_by(TaskInstance.end_date)
    )
    for ti in failed:
        run = by_run.get((ti.dag_id, ti.run_id))
        if run is not None and run.failure is None:
            run.failure = {"task": ti.task_id, "type": "", "message": UNRECORDED}


def _latest_xcoms(
    session: Session, ids: list[str], task_id: str, key: str
) -> dict[str, TaskResult]:
    """Each DAG's XCom ``key`` of ``task_id`` from the run that finished last among those
    that have it (a running run's counts as now)."""
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel

    if not ids:
        return {}
    wanted = (XComModel.task_id == task_id, XComModel.key == key, XComModel.map_index == -1)
    when = func.coalesce(DagRun.end_date, XComModel.timestamp)
    latest = (
        select(XComModel.dag_id, func.max(when).label("at"))
        .join(DagRun, DagRun.id == XComModel.dag_run_id)
        .where(XComModel.dag_id.in_(ids), *wanted)
        .group_by(XComModel.dag_id)
        .subquery()
    )
    rows = session.execute(
        select(XComModel, DagRun.end_date)
        .join(DagRun, DagRun.id == XComModel.dag_run_id)
        .join(latest, and_(XComModel.dag_id == latest.c.dag_id, when == latest.c.at))
        .where(*wanted)
    )
    return {
        row.dag_id: TaskResult(XComModel.deserialize_value(row), row.run_id, end or row.timestamp)
        for row, end in rows
    }


def _run_info(run) -> RunInfo:
    return RunInfo(
        dag_id=run.dag_id,
        run_id=run.run_id,
        state=str(run.state.value if hasattr(run.state, "value") else run.state),
        run_type=str(run.run_type.value if hasattr(run.run_type, "value") else run.run_type),
        run_after=run.run_after,
        start=run.start_date,
        end=run.end_date,
    )

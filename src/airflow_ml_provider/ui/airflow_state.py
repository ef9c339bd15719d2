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

from airflow_ml_provider.ui.card import CONFIG_ERROR_TAG, PIPELINE_TAG, read_card

VALIDATION = ("validate_data", "validation")
GATE_DECISION = ("evaluate_model", "return_value")
MONITOR_DRIFT = ("check_drift", "return_value")


@dataclass
class RunInfo:
    """One DAG run as the pages show it."""

    run_id: str
    state: str
    run_type: str
    run_after: datetime | None
    start: datetime | None
    end: datetime | None


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
    monitor_drift: TaskResult | None = None
    recent_runs: list[RunInfo] = field(default_factory=list)


def pipeline_dags(session: Session, allowed: set[str] | None = None) -> list[PipelineDag]:
    """Every live DAG the factory built (monitors excluded: they show on their pipeline's
    row), restricted to ``allowed`` dag ids when given, with their latest run and results."""
    from airflow.models.dag import DagModel, DagTag
    from airflow.models.serialized_dag import SerializedDagModel

    query = (
        select(DagModel)
        .join(DagTag, DagTag.dag_id == DagModel.dag_id)
        .where(DagTag.name == PIPELINE_TAG, DagModel.is_stale.is_(False))
        .order_by(DagModel.dag_id)
    )
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
            schedule=m.timetable_summary,
            paused=bool(m.is_paused),
            next_run=None if m.is_paused else m.next_dagrun_create_after,
            config_error=m.dag_id in broken,
        )
        for m in models
    ]
    dags = [d for d in dags if d.card is not None or d.config_error]
    _attach_results(session, dags)
    return dags


def pipeline_dag(session: Session, dag_id: str, recent: int = 10) -> PipelineDag | None:
    """One pipeline DAG with its latest results and its ``recent`` last runs."""
    from airflow.models.dagrun import DagRun

    found = [d for d in pipeline_dags(session, {dag_id}) if d.card is not None]
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
    return dag


def _attach_results(session: Session, dags: list[PipelineDag]) -> None:
    ids = [d.dag_id for d in dags]
    last_runs = _latest_runs(session, ids)
    validations = _latest_xcoms(session, ids, *VALIDATION)
    decisions = _latest_xcoms(session, ids, *GATE_DECISION)
    monitors = {d.card["monitor_dag_id"]: d for d in dags if d.card and d.card["monitor_dag_id"]}
    drift = _latest_xcoms(session, list(monitors), *MONITOR_DRIFT)
    for dag in dags:
        dag.last_run = last_runs.get(dag.dag_id)
        dag.validation = validations.get(dag.dag_id)
        dag.decision = decisions.get(dag.dag_id)
    for monitor_id, dag in monitors.items():
        dag.monitor_drift = drift.get(monitor_id)


def _latest_runs(session: Session, ids: list[str]) -> dict[str, RunInfo]:
    from airflow.models.dagrun import DagRun

    latest = (
        select(DagRun.dag_id, func.max(DagRun.id).label("id"))
        .where(DagRun.dag_id.in_(ids))
        .group_by(DagRun.dag_id)
        .subquery()
    )
    runs = session.scalars(select(DagRun).join(latest, DagRun.id == latest.c.id))
    return {run.dag_id: _run_info(run) for run in runs}


def _latest_xcoms(
    session: Session, ids: list[str], task_id: str, key: str
) -> dict[str, TaskResult]:
    from airflow.models.xcom import XComModel

    if not ids:
        return {}
    wanted = (XComModel.task_id == task_id, XComModel.key == key, XComModel.map_index == -1)
    latest = (
        select(XComModel.dag_id, func.max(XComModel.dag_run_id).label("dag_run_id"))
        .where(XComModel.dag_id.in_(ids), *wanted)
        .group_by(XComModel.dag_id)
        .subquery()
    )
    rows = session.scalars(
        select(XComModel)
        .join(
            latest,
            and_(XComModel.dag_id == latest.c.dag_id, XComModel.dag_run_id == latest.c.dag_run_id),
        )
        .where(*wanted)
    )
    return {
        row.dag_id: TaskResult(XComModel.deserialize_value(row), row.run_id, row.timestamp)
        for row in rows
    }


def _run_info(run) -> RunInfo:
    return RunInfo(
        run_id=run.run_id,
        state=str(run.state.value if hasattr(run.state, "value") else run.state),
        run_type=str(run.run_type.value if hasattr(run.run_type, "value") else run.run_type),
        run_after=run.run_after,
        start=run.start_date,
        end=run.end_date,
    )

"""The Airflow internals the local runner (``airflow-ml run``) needs, in one place.

Airflow has no public API for these — serializing a DAG built in this process so
``dag.test()`` can run it, creating a run as a trigger would, reading a run's XComs, failing
the runs a killed process left, sweeping approval timeouts and answering an approval as the
UI does — so each is a small function here, verified against Airflow 3.3 by
tests/integration/test_airflow_compat.py (one test per function). When Airflow changes one of
them, this module and its test are what change.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime
from typing import Any

_UPDATE_INTERVAL = "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL"


@contextmanager
def _environment(name: str, value: str):
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def serialize_dag(dag) -> None:
    """Write a DAG built in this process to the metadata DB, as the DAG processor would, so
    ``dag.test()`` can run it (Airflow 3.3 runs serialized DAGs only)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder="/dev/null", collect_dags=False)
    bag.bag_dag(dag)
    # The DAG processor writes a DAG at most every 30 s; a local run writes the DAG it is
    # about to run (its docs and pipeline card included) however recent the last write.
    with _environment(_UPDATE_INTERVAL, "0"):
        sync_bag_to_db(bag, "dags-folder", None)


def create_dag_run(
    dag_id: str,
    session,
    *,
    state: str = "running",
    when: datetime | None = None,
    scheduled: bool = False,
    run_id: str | None = None,
):
    """A run of a serialized DAG with its task instances, created as the scheduler
    (``scheduled``) or a manual trigger would create it."""
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.sdk import timezone
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    when = when or timezone.utcnow()
    run_type = DagRunType.SCHEDULED if scheduled else DagRunType.MANUAL
    return SerializedDagModel.get_dag(dag_id, session=session).create_dagrun(
        run_id=run_id or f"{run_type.value}__{when.isoformat()}",
        logical_date=when,
        data_interval=(when, when),
        run_after=when,
        run_type=run_type,
        triggered_by=DagRunTriggeredByType.TIMETABLE if scheduled else DagRunTriggeredByType.TEST,
        state=state,
        session=session,
    )


def run_outputs(
    dag_id: str, dag_run
) -> tuple[dict[tuple[str, str], Any], dict[str, str | None], list[dict[str, str]]]:
    """A finished run's XComs by (task id, key), each task's state (a mapped task is
    successful only when every one of its instances is) and its tasks' failure records
    (XCom ``failure``), first failure first."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    from airflow_ml_provider.notifications.failure import FAILURE_XCOM

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_id)).all()
        xcoms = {(r.task_id, r.key): XComModel.deserialize_value(r) for r in rows}
        failed = sorted((r for r in rows if r.key == FAILURE_XCOM), key=lambda r: r.timestamp)
        failures = [XComModel.deserialize_value(r) for r in failed]
        states: dict[str, str | None] = {}
        for ti in dag_run.get_task_instances(session=session):
            state = ti.state.value if hasattr(ti.state, "value") else ti.state
            if states.get(ti.task_id, "success") == "success":
                states[ti.task_id] = state
    return xcoms, states, failures


def fail_running_test_runs(dag_id: str) -> list[str]:
    """Mark failed the ``dag.test()`` runs of ``dag_id`` still "running", with their
    unfinished task instances; runs the scheduler made are not touched. Their run ids."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, State, TaskInstanceState
    from airflow.utils.types import DagRunTriggeredByType
    from sqlalchemy import select

    with create_session() as session:
        runs = session.scalars(
            select(DagRun).where(
                DagRun.dag_id == dag_id,
                DagRun.state == DagRunState.RUNNING,
                DagRun.triggered_by == DagRunTriggeredByType.TEST,
            )
        ).all()
        for run in runs:
            for ti in run.get_task_instances(session=session):
                if ti.state not in State.finished:
                    ti.state = TaskInstanceState.FAILED
            run.set_state(DagRunState.FAILED)
        return [run.run_id for run in runs]


def approval_timeout_sweep() -> Callable[[], None]:
    """The scheduler's own sweep of human-in-the-loop timeouts (``dag.test()`` never runs
    it), as a call that does nothing unless a task is parked "awaiting input".

    Build it in the thread that runs the DAG: SQLAlchemy configuring mappers from two threads
    at once deadlocks. The check is plain SQL so it never (re)configures mappers."""
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.utils.session import create_session
    from sqlalchemy import text

    scheduler = SchedulerJobRunner(job=Job())
    parked = text("SELECT 1 FROM task_instance WHERE state = 'awaiting_input'")

    def sweep_if_parked() -> None:
        with create_session() as session:
            if session.execute(parked).first() is None:
                return
        scheduler.check_awaiting_input_timeouts()

    return sweep_if_parked


def approval_answerer(dag_id: str, task_id: str, choice: str, user: str) -> Callable[[], bool]:
    """A call that answers the approval request of ``task_id`` ("Approve" / "Reject") as
    ``user`` through Airflow's own HITL handler (what the Required Actions page and ``PATCH
    .../hitlDetails`` run) once the task is parked; True when it answered.

    Build it in the thread that runs the DAG (see approval_timeout_sweep). Only a parked task
    is answered: the request row exists a moment before the task parks, and an answer given
    in that moment is recorded without resuming the task, which then waits for ever."""
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
    from airflow.api_fastapi.core_api.routes.public.hitl import update_hitl_detail
    from airflow.models import import_all_models
    from airflow.utils.session import create_session
    from sqlalchemy import text
    from sqlalchemy.orm import configure_mappers

    import_all_models()
    configure_mappers()
    waiting = text(
        "SELECT ti.run_id FROM task_instance ti JOIN hitl_detail h ON h.ti_id = ti.id "
        "WHERE ti.dag_id = :dag_id AND ti.task_id = :task_id AND h.responded_at IS NULL "
        "AND ti.state = 'awaiting_input'"
    )

    def answer_if_asked() -> bool:
        with create_session() as session:
            run_id = session.execute(waiting, {"dag_id": dag_id, "task_id": task_id}).scalar()
            if run_id is None:
                return False
            update_hitl_detail(
                dag_id=dag_id,
                dag_run_id=run_id,
                task_id=task_id,
                update_hitl_detail_payload=UpdateHITLDetailPayload(chosen_options=[choice]),
                user=SimpleAuthManagerUser(username=user, role="admin"),
                session=session,
            )
            return True

    return answer_if_asked

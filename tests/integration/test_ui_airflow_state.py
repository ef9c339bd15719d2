"""Which run the pages call "last", on a real Airflow metadata DB: runs that finish out of
order (a scheduled run and a manual run overlapping — the scheduler's doing; here their
states and end dates are set as it would leave them) and a run still going."""

from __future__ import annotations

import datetime as dt

from helpers.pipelines import write_pipeline

T0 = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)


def _finish(run, state: str, minutes: int) -> None:
    run.state = state
    run.start_date = T0
    run.end_date = T0 + dt.timedelta(minutes=minutes)


def test_the_last_run_and_decision_are_the_run_that_finished_last(tmp_path, airflow_db):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    from airflow_ml_provider.cli.airflow_compat import create_dag_run, serialize_dag
    from airflow_ml_provider.factory.builder import build_dag
    from airflow_ml_provider.pipeline_spec.loader import load_pipeline
    from airflow_ml_provider.ui.airflow_state import pipeline_dags

    serialize_dag(build_dag(load_pipeline(write_pipeline(tmp_path, "ui_order"))))
    with create_session() as session:
        older = create_dag_run("ui_order", session, when=T0, scheduled=True)
        newer = create_dag_run("ui_order", session, when=T0 + dt.timedelta(minutes=1))
        _finish(older, "success", minutes=30)  # created first, finished last
        _finish(newer, "failed", minutes=10)
        for run, promote in ((older, True), (newer, False)):
            XComModel.set(
                "return_value",
                {"promote": promote, "reason": run.run_id},
                dag_id="ui_order",
                task_id="evaluate_model",
                run_id=run.run_id,
                session=session,
            )
        older_id = older.run_id
    with create_session() as session:
        (dag,) = pipeline_dags(session, {"ui_order"})
    assert dag.last_run is not None and dag.last_run.run_id == older_id
    assert dag.last_run.state == "success"
    assert dag.decision is not None and dag.decision.value["reason"] == older_id

    with create_session() as session:
        going = create_dag_run("ui_order", session, when=T0 - dt.timedelta(days=1))
        going_id = going.run_id
    with create_session() as session:
        (dag,) = pipeline_dags(session, {"ui_order"})
    assert dag.last_run is not None and dag.last_run.run_id == going_id  # shown as running
    assert dag.last_run.state == "running"
    assert dag.schedule == "0 0 * * *"  # Airflow's summary of @daily

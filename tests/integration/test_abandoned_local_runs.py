"""A local run that was killed leaves its DAG run "running" in the metadata DB; the next
local run of the pipeline marks it failed (real Airflow DB); the scheduler's runs are left
alone."""

from __future__ import annotations


def test_a_killed_local_run_is_marked_failed_at_the_next_start(airflow_db):
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_ml_provider.factory.builder import build_dag
    from airflow_ml_provider.local_run import create_run, fail_abandoned_runs, register_for_test
    from airflow_ml_provider.spec.loader import load_pipeline
    from helpers.paths import EXAMPLE_YAML

    dag = build_dag(load_pipeline(EXAMPLE_YAML))
    register_for_test(dag)
    with create_session() as session:
        killed = create_run(dag.dag_id, session, run_id="manual__killed").run_id
        scheduled = create_run(dag.dag_id, session, scheduled=True, run_id="scheduled__1").run_id
    assert fail_abandoned_runs(dag.dag_id) == [killed]
    with create_session() as session:
        states = {
            run.run_id: run.state
            for run in session.scalars(select(DagRun).where(DagRun.dag_id == dag.dag_id))
        }
        tasks = session.scalars(select(DagRun).where(DagRun.run_id == killed)).one()
        task_states = {ti.state for ti in tasks.get_task_instances(session=session)}
    assert states[killed] == "failed" and states[scheduled] == "running"
    assert task_states == {"failed"}
    assert fail_abandoned_runs(dag.dag_id) == []

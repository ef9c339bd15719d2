"""airflow_ml_provider.cli.airflow_compat — the Airflow internals the local runner uses — against a
real Airflow 3.3 metadata DB, one test per function: serialize_dag, create_dag_run and
fail_running_test_runs (through the local runner's fail_abandoned_runs), run_outputs here;
approval_timeout_sweep in tests/e2e/test_approval.py (an unanswered request expires) and
approval_answerer in tests/e2e/test_approval.py (`airflow-ml run --approve`) and
tests/e2e/test_local_reviewer.py (only a parked request is answered)."""

from __future__ import annotations

import datetime as dt

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_a_dag_serialized_twice_in_a_row_is_stored_as_last_built(airflow_db):
    """The DAG processor writes a DAG at most every 30 s; serialize_dag writes it at once, so
    a local run right after another runs the DAG as it was built this time."""
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG
    from airflow.utils.session import create_session

    from airflow_ml_provider.cli.airflow_compat import serialize_dag

    for doc in ("first build", "second build"):
        with DAG("compat_serialize", schedule=None, start_date=START, doc_md=doc) as dag:
            EmptyOperator(task_id="only")
        serialize_dag(dag)
        with create_session() as session:
            stored = SerializedDagModel.get_dag("compat_serialize", session=session)
        assert stored.doc_md == doc and list(stored.task_dict) == ["only"]


def test_run_outputs_reads_xcoms_and_a_mapped_tasks_state(airflow_db):
    """A run's return values by (task, key), a pushed XCom, and a mapped task that is
    successful only when every instance is (one of three instances skips: not success)."""
    from airflow.sdk import DAG, task
    from airflow.sdk.exceptions import AirflowSkipException

    from airflow_ml_provider.cli.airflow_compat import run_outputs, serialize_dag

    with DAG("compat_outputs", schedule=None, start_date=START) as dag:

        @task
        def numbers(ti=None) -> list[int]:
            ti.xcom_push(key="note", value="pushed")
            return [1, 2, 3]

        @task
        def double(number: int) -> int:
            if number == 2:
                raise AirflowSkipException("two is skipped")
            return number * 2

        double.expand(number=numbers())
    serialize_dag(dag)
    dag_run = dag.test()
    xcoms, states, _ = run_outputs(dag.dag_id, dag_run)
    assert xcoms[("numbers", "return_value")] == [1, 2, 3]
    assert xcoms[("numbers", "note")] == "pushed"
    assert states == {"numbers": "success", "double": "skipped"}


def test_a_killed_local_run_is_marked_failed_at_the_next_start(airflow_db):
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_ml_provider.cli.airflow_compat import create_dag_run, serialize_dag
    from airflow_ml_provider.cli.local_run import fail_abandoned_runs
    from airflow_ml_provider.factory.builder import build_dag
    from airflow_ml_provider.pipeline_spec.loader import load_pipeline
    from helpers.paths import EXAMPLE_YAML

    dag = build_dag(load_pipeline(EXAMPLE_YAML))
    serialize_dag(dag)
    with create_session() as session:
        killed = create_dag_run(dag.dag_id, session, run_id="manual__killed").run_id
        scheduled = create_dag_run(
            dag.dag_id, session, scheduled=True, run_id="scheduled__1"
        ).run_id
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

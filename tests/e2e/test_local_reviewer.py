"""local_run.answer_approval (the reviewer of `airflow-ml run --approve` and the approval
tests) on a real metadata DB: it answers a request only once the task is parked.

Airflow writes the request row a moment before the task parks in "awaiting input"; an answer
recorded in that moment is kept but does not resume the task, and the run then waits for ever.
Here the request row exists while the task is still running, as in that moment.
"""

from __future__ import annotations

import time

from helpers.pipelines import edit, write_pipeline


def test_the_reviewer_waits_until_the_request_is_parked(tmp_path, airflow_db):
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    from airflow_ml_provider.cli.airflow_compat import create_dag_run, serialize_dag
    from airflow_ml_provider.cli.local_run import APPROVAL_TASK, answer_approval
    from airflow_ml_provider.factory.loader import load_dags

    path = write_pipeline(tmp_path, "e2e_parked_reviewer")
    edit(path, "  strategy: alias\n", "  strategy: alias\n  approval: manual\n")
    dag = load_dags(tmp_path)["e2e_parked_reviewer"]
    serialize_dag(dag)
    with create_session() as session:
        run_id = create_dag_run(dag.dag_id, session).run_id
        ti = session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == dag.dag_id,
                TaskInstance.run_id == run_id,
                TaskInstance.task_id == APPROVAL_TASK,
            )
        ).one()
        ti.state = TaskInstanceState.RUNNING
        session.add(
            HITLDetail(ti_id=ti.id, options=["Approve", "Reject"], subject="Promote?", params={})
        )
        ti_id = ti.id

    def state() -> tuple:
        with create_session() as session:
            detail = session.scalars(select(HITLDetail).where(HITLDetail.ti_id == ti_id)).one()
            ti = session.get(TaskInstance, ti_id)
            return detail.chosen_options, ti.state

    reviewer = answer_approval(dag.dag_id, "Approve", "dana", timeout=60)
    time.sleep(3)  # the reviewer polls every 0.5 s
    assert state() == (None, TaskInstanceState.RUNNING)  # not answered while not parked

    with create_session() as session:
        session.get(TaskInstance, ti_id).state = TaskInstanceState.AWAITING_INPUT
    reviewer.join(30)
    assert not reviewer.is_alive()
    # Answered, and Airflow's handler resumed the parked task (scheduled again).
    assert state() == (["Approve"], TaskInstanceState.SCHEDULED)

"""ValidateDataOperator on its own through dag.test()."""

from __future__ import annotations


def run_validation(dag_id: str, **operator_kwargs) -> tuple[str, dict]:
    from airflow.models.xcom import XComModel
    from airflow.sdk import DAG
    from airflow.utils.session import create_session

    from airflow_ml_provider.cli.airflow_compat import serialize_dag
    from airflow_ml_provider.operators.validation import ValidateDataOperator

    with DAG(dag_id=dag_id, schedule=None) as dag:
        ValidateDataOperator(task_id="validate", retries=0, **operator_kwargs)
    serialize_dag(dag)
    dag_run = dag.test()
    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_id)).all()
        xcoms = {r.key: XComModel.deserialize_value(r) for r in rows}
        state = dag_run.get_task_instance("validate", session=session).state
    return str(state.value if hasattr(state, "value") else state), xcoms["validation"]

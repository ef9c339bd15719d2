"""One deploy_model task through dag.test(), for the deployment strategies' tests."""

from __future__ import annotations

import datetime as dt
from typing import Any


def run_deploy(
    operator_class: type, model_name: str, version: str, previous: str | None, **options: Any
) -> tuple[str, Any, list[BaseException]]:
    """One run of ``operator_class`` deploying ``version`` (already champion; ``previous``
    was): (DAG run state, its return value, the exceptions it failed with)."""
    from airflow.models.xcom import XComModel
    from airflow.sdk import DAG
    from airflow.utils.session import create_session

    from airflow_ml_provider.cli.airflow_compat import serialize_dag

    errors: list[BaseException] = []
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with DAG(f"deploy_{model_name}_v{version}", schedule=None, start_date=start) as dag:
        operator_class(
            task_id="deploy_model",
            registration={"promoted": True, "version": int(version), "previous_champion": previous},
            model_name=model_name,
            on_failure_callback=lambda context: errors.append(context["exception"]),
            **options,
        )
    serialize_dag(dag)
    dag_run = dag.test()
    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag.dag_id))
        xcom = {r.key: XComModel.deserialize_value(r) for r in rows.all()}
    return dag_run.state, xcom.get("return_value"), errors

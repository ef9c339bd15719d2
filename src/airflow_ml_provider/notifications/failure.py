"""Every pipeline task's failure, recorded where people look: the task's XCom ``failure``
(``{task, type, message}``), which `airflow-ml run` and the "ML pipelines" pages read."""

from __future__ import annotations

from airflow_ml_provider.core.errors import failure_of

FAILURE_XCOM = "failure"


def record_failure(context) -> None:
    """on_failure_callback: push the failed task's one-line cause as XCom ``failure``."""
    ti = context["ti"]
    ti.xcom_push(
        key=FAILURE_XCOM, value=failure_of(ti.task_id, ti.map_index, context.get("exception"))
    )

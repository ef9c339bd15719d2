"""check_changes: skip the training when neither the data nor the configuration changed."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import DownstreamTasksSkipped

from airflow_ml_provider.core.connections import MLFLOW_CONN_ID
from airflow_ml_provider.core.contracts import Snapshot
from airflow_ml_provider.hooks.mlflow import MlflowHook

RETRAIN_PARAM = "retrain"
"""The DAG run parameter (trigger form, REST conf, ``airflow-ml run --retrain``) that asks
for training even when nothing changed."""


def retrain_requested(context) -> bool:
    """Whether this DAG run asked to retrain anyway."""
    params = context.get("params") or {}
    conf = getattr(context.get("dag_run"), "conf", None) or {}
    return bool(params.get(RETRAIN_PARAM) or conf.get(RETRAIN_PARAM))


class CheckChangesOperator(BaseOperator):
    """Compare this run's data snapshot and configuration hash with those of the current
    ``champion`` of ``model_name``. When both are equal there is nothing new to learn: the
    tasks in ``skip`` (training, gate, registration, deployment) are skipped and the run
    succeeds saying so, instead of registering an identical version and calling it promoted.
    With ``on_unchanged="retrain"``, or a run triggered with ``{"retrain": true}``, the
    training goes ahead. Returns ``{unchanged, champion_version, reason}``.

    :param snapshot: snapshot_data's result (templated, usually an XComArg).
    :param config_hash: the pipeline configuration's hash (what training tags on its run).
    :param model_name: the registered model whose champion is compared with.
    :param skip: the task ids skipped when nothing changed.
    :param on_unchanged: ``skip`` or ``retrain``.
    :param mlflow_conn_id: the MLflow connection.
    """

    template_fields = ("snapshot",)

    def __init__(
        self,
        *,
        snapshot: Snapshot | Any,
        config_hash: str,
        model_name: str,
        skip: list[str],
        on_unchanged: str = "skip",
        mlflow_conn_id: str = MLFLOW_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.snapshot = snapshot
        self.config_hash = config_hash
        self.model_name = model_name
        self.skip = list(skip)
        self.on_unchanged = on_unchanged
        self.mlflow_conn_id = mlflow_conn_id

    def execute(self, context) -> dict[str, Any]:
        from airflow_ml_provider.ml.data.changes import compare_with_champion

        if self.on_unchanged == "retrain":
            return {"unchanged": False, "reason": "training.on_unchanged is retrain"}
        if retrain_requested(context):
            return {"unchanged": False, "reason": f"the run was triggered with {RETRAIN_PARAM}"}
        client = MlflowHook(self.mlflow_conn_id).get_conn()
        found = compare_with_champion(
            client, self.model_name, str(self.snapshot.get("sha256") or ""), self.config_hash
        )
        self.log.info("%s", found["reason"])
        if not found["unchanged"]:
            return found
        # The result is pushed first: raising DownstreamTasksSkipped ends the task as a
        # success without a return value.
        context["ti"].xcom_push(key="return_value", value=found)
        raise DownstreamTasksSkipped(tasks=self.skip)

"""score_batch: the batch deployment strategy — score a dataset with the champion."""

from __future__ import annotations

import re
import uuid
from typing import Any

from airflow.sdk import BaseOperator, ObjectStoragePath
from airflow.sdk.exceptions import AirflowSkipException

from airflow_ml_provider.hooks.mlflow import MlflowHook
from airflow_ml_provider.ml.registry import CHAMPION, holder
from airflow_ml_provider.operators.storage import is_local, publish, read_stored_frame

PREDICTION = "prediction"
MODEL_VERSION = "model_version"


def run_partition(output: str, run_id: str) -> ObjectStoragePath:
    """``<output>/run_id=<run id>/predictions.parquet``: one file per DAG run."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)
    return ObjectStoragePath(output) / f"run_id={safe}" / "predictions.parquet"


class BatchScoringOperator(BaseOperator):
    """Score ``source`` (files, BigQuery or SQL, like a training source) with the model
    version holding ``alias`` and write the predictions.

    The output is ``<destination>/run_id=<run id>/predictions.parquet`` with the ``id_columns``
    (every input column when empty), ``prediction``, ``model_version`` and ``model_name``;
    a retry or a cleared task overwrites the run's own file — never a second copy. The
    version is resolved once and loaded by number, so an alias moving meanwhile cannot mix
    two models in one output. Skips when the model has no ``alias`` yet. Returns
    ``{uri, rows, model_version}``; the URI is also XCom ``predictions_uri``.
    """

    template_fields = ("source", "destination")
    ui_color = "#e0f0ff"

    def __init__(
        self,
        *,
        model_name: str,
        source: dict[str, Any] | str,
        destination: str,
        id_columns: list[str] | None = None,
        alias: str = CHAMPION,
        mlflow_conn_id: str = "mlflow_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name
        self.source = source
        self.destination = destination
        self.id_columns = list(id_columns or [])
        self.alias = alias
        self.mlflow_conn_id = mlflow_conn_id

    def execute(self, context) -> dict[str, Any]:
        import mlflow.pyfunc

        from airflow_ml_provider.hooks.data import DataSourceHook

        client = MlflowHook(self.mlflow_conn_id).get_conn()
        version = holder(client, self.model_name, self.alias)
        if version is None:
            raise AirflowSkipException(f"{self.model_name} has no {self.alias!r} version yet")
        target = run_partition(self.destination, context["run_id"])
        if is_local(target):
            target.parent.mkdir(parents=True, exist_ok=True)
        scratch = target.parent / f".input-{uuid.uuid4().hex}.parquet"
        try:
            DataSourceHook(self.source).write_parquet(scratch)
            rows = read_stored_frame(str(scratch), "parquet")
        finally:
            if scratch.exists():
                scratch.unlink()
        missing = [c for c in self.id_columns if c not in rows.columns]
        if missing:
            raise ValueError(f"id_columns not in the scoring data: {', '.join(missing)}")
        model = mlflow.pyfunc.load_model(f"models:/{self.model_name}/{version}")
        predictions = rows[self.id_columns].copy() if self.id_columns else rows.copy()
        predictions[PREDICTION] = model.predict(rows)
        predictions[MODEL_VERSION] = int(version)
        predictions["model_name"] = self.model_name
        partial = target.parent / f".partial-{uuid.uuid4().hex}.parquet"
        with partial.open("wb") as stream:
            predictions.to_parquet(stream, index=False)
        publish(partial, target)
        self.log.info(
            "scored %d rows with %s version %s -> %s", len(rows), self.model_name, version, target
        )
        context["ti"].xcom_push(key="predictions_uri", value=str(target))
        return {"uri": str(target), "rows": len(predictions), "model_version": int(version)}

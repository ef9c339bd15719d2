"""score_batch: the batch deployment strategy — score a dataset with the champion."""

from __future__ import annotations

import contextlib
import re
import tempfile
import uuid
from typing import Any

from airflow.sdk import BaseOperator, ObjectStoragePath
from airflow.sdk.exceptions import AirflowSkipException

from airflow_ml_provider.core.connections import GCP_CONN_ID, MLFLOW_CONN_ID
from airflow_ml_provider.hooks.mlflow import MlflowHook
from airflow_ml_provider.ml.registry.aliases import CHAMPION, holder
from airflow_ml_provider.operators.links import PredictionsLink, predictions_url, record_link
from airflow_ml_provider.storage.frames import is_local, publish, read_stored_frame

PREDICTION = "prediction"
MODEL_VERSION = "model_version"
RUN_COLUMN = "dag_run_id"
BIGQUERY = "bigquery://"


def run_partition(output: str, run_id: str) -> ObjectStoragePath:
    """``<output>/run_id=<run id>/predictions.parquet``: one file per DAG run."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)
    return ObjectStoragePath(output) / f"run_id={safe}" / "predictions.parquet"


class BatchScoringOperator(BaseOperator):
    """Score ``source`` (files, BigQuery or SQL, like a training source) with the model
    version holding ``alias`` and write the predictions.

    The output is ``<destination>/run_id=<run id>/predictions.parquet`` with the ``id_columns``
    (every input column when empty), ``prediction``, ``model_version`` and ``model_name``;
    a retry or a cleared task overwrites the run's own file — never a second copy. With
    ``destination`` ``bigquery://project.dataset.table`` the rows (plus ``dag_run_id``) are
    appended to that table after deleting the run's earlier rows, so a retry replaces them. The
    version is resolved once and loaded by number, so an alias moving meanwhile cannot mix
    two models in one output. Skips when the model has no ``alias`` yet. Returns
    ``{uri, rows, model_version}``; the URI is also XCom ``predictions_uri``.

    :param model_name: the registered model.
    :param source: what to score: a source dict or a files URI (templated).
    :param destination: a folder (path, file://, gs://) or ``bigquery://project.dataset.table``
        (templated).
    :param id_columns: input columns copied next to each prediction; every column when empty.
    :param alias: which version scores (default ``champion``).
    :param mlflow_conn_id: the MLflow connection (the embedded store when it does not exist).
    :param gcp_conn_id: the Google Cloud connection of a BigQuery destination.
    """

    template_fields = ("source", "destination")
    operator_extra_links = (PredictionsLink(),)
    ui_color = "#e0f0ff"

    def __init__(
        self,
        *,
        model_name: str,
        source: dict[str, Any] | str,
        destination: str,
        id_columns: list[str] | None = None,
        alias: str = CHAMPION,
        mlflow_conn_id: str = MLFLOW_CONN_ID,
        gcp_conn_id: str = GCP_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.gcp_conn_id = gcp_conn_id
        self.model_name = model_name
        self.source = source
        self.destination = destination
        self.id_columns = list(id_columns or [])
        self.alias = alias
        self.mlflow_conn_id = mlflow_conn_id

    def execute(self, context) -> dict[str, Any]:
        import mlflow.pyfunc

        client = MlflowHook(self.mlflow_conn_id).get_conn()
        version = holder(client, self.model_name, self.alias)
        if version is None:
            raise AirflowSkipException(f"{self.model_name} has no {self.alias!r} version yet")
        rows = self._read_source()
        missing = [c for c in self.id_columns if c not in rows.columns]
        if missing:
            raise ValueError(f"id_columns not in the scoring data: {', '.join(missing)}")
        from airflow_ml_provider.ml.integrity.model_files import verified_copy

        with verified_copy(f"models:/{self.model_name}/{version}") as local:
            model = mlflow.pyfunc.load_model(local)
        predictions = rows[self.id_columns].copy() if self.id_columns else rows.copy()
        predictions[PREDICTION] = model.predict(rows)
        predictions[MODEL_VERSION] = int(version)
        predictions["model_name"] = self.model_name
        if self.destination.startswith(BIGQUERY):
            target = self._write_bigquery(predictions, context["run_id"])
        else:
            target = str(self._write_file(predictions, context["run_id"]))
        self.log.info(
            "scored %d rows with %s version %s -> %s", len(rows), self.model_name, version, target
        )
        record_link(self, context, PredictionsLink.key, target, predictions_url(target))
        return {"uri": target, "rows": len(predictions), "model_version": int(version)}

    def _read_source(self):
        """The scoring rows, read through DataSourceHook via a local scratch parquet file."""
        from airflow_ml_provider.hooks.data import DataSourceHook

        scratch = ObjectStoragePath(f"file://{tempfile.gettempdir()}") / (
            f"airflow-ml-score-{uuid.uuid4().hex}.parquet"
        )
        try:
            DataSourceHook(self.source).write_parquet(scratch)
            return read_stored_frame(str(scratch), "parquet")
        finally:
            if scratch.exists():
                scratch.unlink()

    def _write_file(self, predictions, run_id: str) -> ObjectStoragePath:
        target = run_partition(self.destination, run_id)
        if is_local(target):
            target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.parent / f".partial-{uuid.uuid4().hex}.parquet"
        with partial.open("wb") as stream:
            predictions.to_parquet(stream, index=False)
        publish(partial, target)
        return target

    def _write_bigquery(self, predictions, run_id: str) -> str:
        """Replace this run's rows in the table: delete them, then append (a load job)."""
        from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook
        from google.api_core.exceptions import NotFound
        from google.cloud import bigquery

        table = self.destination.removeprefix(BIGQUERY)
        hook = BigQueryHook(gcp_conn_id=self.gcp_conn_id, use_legacy_sql=False)
        client = hook.get_client(project_id=hook.project_id)
        parameter = bigquery.ScalarQueryParameter("run", "STRING", run_id)
        with contextlib.suppress(NotFound):  # no table yet: the first load creates it
            client.query(
                f"DELETE FROM `{table}` WHERE {RUN_COLUMN} = @run",
                job_config=bigquery.QueryJobConfig(query_parameters=[parameter]),
            ).result()
        rows = predictions.assign(**{RUN_COLUMN: run_id})
        client.load_table_from_dataframe(
            rows, table, job_config=bigquery.LoadJobConfig(write_disposition="WRITE_APPEND")
        ).result()
        return self.destination

"""Operator extra links into MLflow, Data Docs and the predictions (shown on the task in the
Airflow UI).

Airflow resolves a task's links when the task ends — failed tasks too — in the task's own
process, and stores each as XCom ``_link_<Link>`` for the UI. A link reading its XCom there
would make the Task SDK log "XCom not found" at error level whenever the task ended before
having one (a failed training, a chunk of partitions with no run of its own). So an operator
records its link with ``record_link`` while it runs: the value goes to XCom (for other tasks,
the CLI and the run summary) and the URL to the operator, where ``get_link`` reads it.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperatorLink


def record_link(operator: Any, context, key: str, value: str, url: str | None = None) -> None:
    """Push ``value`` as XCom ``key`` and keep the link's URL (``value`` unless given) on the
    operator for its extra link."""
    context["ti"].xcom_push(key=key, value=value)
    recorded = operator.__dict__.setdefault("recorded_links", {})
    recorded[key] = url if url is not None else value


class _RecordedLink(BaseOperatorLink):
    key = ""
    """The XCom key the operator records the link under."""

    def get_link(self, operator, *, ti_key) -> str:
        return (getattr(operator, "recorded_links", None) or {}).get(self.key, "")


class MlflowRunLink(_RecordedLink):
    """Link to the MLflow run a training task logged (XCom ``mlflow_run_url``)."""

    name = "MLflow run"
    key = "mlflow_run_url"


class ModelVersionLink(_RecordedLink):
    """Link to the registered model version (XCom ``model_version_url``)."""

    name = "Model version"
    key = "model_version_url"


class DataDocsLink(_RecordedLink):
    """Link to the Great Expectations Data Docs of the validation (XCom ``data_docs_url``,
    opened through ``settings.data_docs_url``: the plugin's pages for a local store)."""

    name = "Data Docs"
    key = "data_docs_url"


class PredictionsLink(_RecordedLink):
    """Link to a batch scoring run's predictions (XCom ``predictions_uri``, opened through
    ``predictions_url``)."""

    name = "Predictions"
    key = "predictions_uri"


def predictions_url(uri: str) -> str:
    """A URL a person can open for predictions: the BigQuery console's table page for
    ``bigquery://project.dataset.table``, the artifact store's browsable URL otherwise."""
    from airflow_ml_provider.settings import browsable_url

    if uri.startswith("bigquery://"):
        project, dataset, table = uri.removeprefix("bigquery://").split(".", 2)
        return (
            "https://console.cloud.google.com/bigquery"
            f"?project={project}&ws=!1m5!1m4!4m3!1s{project}!2s{dataset}!3s{table}"
        )
    return browsable_url(uri)

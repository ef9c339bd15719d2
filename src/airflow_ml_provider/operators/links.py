"""Operator extra links into MLflow, Data Docs and the predictions (shown on the task in the
Airflow UI; Airflow stores each resolved link when the task finishes)."""

from __future__ import annotations

from airflow.sdk import BaseOperatorLink


class MlflowRunLink(BaseOperatorLink):
    """Link to the MLflow run a training task logged (XCom ``mlflow_run_url``)."""

    name = "MLflow run"

    def get_link(self, operator, *, ti_key) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        return XCom.get_value(ti_key=ti_key, key="mlflow_run_url") or ""


class ModelVersionLink(BaseOperatorLink):
    """Link to the registered model version (XCom ``model_version_url``)."""

    name = "Model version"

    def get_link(self, operator, *, ti_key) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        return XCom.get_value(ti_key=ti_key, key="model_version_url") or ""


class DataDocsLink(BaseOperatorLink):
    """Link to the Great Expectations Data Docs of the validation (XCom ``data_docs_url``)."""

    name = "Data Docs"

    def get_link(self, operator, *, ti_key) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        from airflow_ml_provider.settings import browsable_url

        uri = XCom.get_value(ti_key=ti_key, key="data_docs_url")
        return browsable_url(uri) if uri else ""


class PredictionsLink(BaseOperatorLink):
    """Link to a batch scoring run's predictions (XCom ``predictions_uri``)."""

    name = "Predictions"

    def get_link(self, operator, *, ti_key) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        uri = XCom.get_value(ti_key=ti_key, key="predictions_uri")
        return predictions_url(uri) if uri else ""


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

"""Operator extra links into the MLflow UI (shown on the task in the Airflow UI)."""

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

"""The Airflow plugin (entry point ``airflow.plugins``): the "ML pipelines" pages on the
api-server, an entry in Airflow's navigation, and a tab on every DAG page."""

from __future__ import annotations

from functools import cached_property

from airflow.plugins_manager import AirflowPlugin

from airflow_ml_provider.ui import URL_PREFIX


class _App:
    """Builds the FastAPI app on first use, so processes that load plugins without serving
    them (scheduler, workers, DAG processor) never import the pages."""

    @cached_property
    def apps(self) -> list[dict]:
        from airflow_ml_provider.ui.app import create_app

        return [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "ML pipelines"}]

    def __get__(self, instance, owner) -> list[dict]:
        return self.apps


class MlPipelinesPlugin(AirflowPlugin):
    """ "ML pipelines" in the Airflow UI: one row per YAML pipeline and a page per pipeline."""

    name = "airflow_ml_pipelines"
    fastapi_apps = _App()
    external_views = [
        {
            "name": "ML pipelines",
            "href": f"{URL_PREFIX}/",
            "url_route": "ml-pipelines",
            "destination": "nav",
            "category": "browse",
        },
        {
            "name": "ML pipeline",
            "href": f"{URL_PREFIX}/pipelines/{{DAG_ID}}",
            "url_route": "ml-pipeline",
            "destination": "dag",
        },
    ]

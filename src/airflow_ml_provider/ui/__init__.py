"""The "ML pipelines" pages in the Airflow UI (an Airflow plugin: FastAPI app + nav entry)."""

from airflow_ml_provider.settings import UI_PREFIX as URL_PREFIX

__all__ = ["URL_PREFIX"]

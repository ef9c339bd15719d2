"""spec → DAG."""

from airflow_ml_provider.factory.builder import build_dag
from airflow_ml_provider.factory.loader import load_dags

__all__ = ["build_dag", "load_dags"]

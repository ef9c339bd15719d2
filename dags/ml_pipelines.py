"""The one loader file: every YAML pipeline under dags/pipelines/ becomes a DAG.

Airflow's DAG processor only discovers .py files, so this file reads the YAML folder.
An invalid YAML file becomes a paused ``config_error__<file>`` DAG carrying its error;
the other pipelines keep loading.
"""

from pathlib import Path

from airflow_ml_provider.factory import load_dags

load_dags(Path(__file__).parent / "pipelines", globals())

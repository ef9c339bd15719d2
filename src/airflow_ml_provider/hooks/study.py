"""Where an Optuna search's workers share their study (``search.method: optuna``)."""

from __future__ import annotations

import hashlib
from typing import Any

from airflow_ml_provider import settings

STUDIES_FOLDER = "optuna-studies"


def study_name(pipeline: str, dag_run_id: str, candidate: str) -> str:
    """One study per candidate and DAG run: a retried worker resumes it, a new run starts
    afresh."""
    return f"{pipeline}/{dag_run_id}/{candidate}"


def journal_file(name: str) -> str:
    """The local runner's journal file of a study (every worker process on this host opens
    it; Optuna's journal storage locks it for concurrent writers)."""
    folder = settings.airflow_home() / STUDIES_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / f"{hashlib.sha256(name.encode()).hexdigest()[:24]}.journal")


def storage_url(conn_id: str) -> str:
    """The SQLAlchemy URL of the Airflow connection to the study's database (with its
    password: it travels in the training process's environment, never in the job)."""
    from airflow.sdk import BaseHook

    hook: Any = BaseHook.get_connection(conn_id).get_hook()
    try:
        return hook.sqlalchemy_url.render_as_string(hide_password=False)
    except (AttributeError, NotImplementedError):  # e.g. SqliteHook builds no URL object
        return hook.get_uri()

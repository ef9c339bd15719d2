"""Import the ML stack once in the Airflow process that forks task processes.

Under the LocalExecutor every task process is forked from a worker the scheduler forked; under
the CeleryExecutor, from the Celery worker. A pipeline task then imports pandas, pyarrow,
scikit-learn, MLflow, skops or Great Expectations itself — 1–5 s of every step, one after the
other along a pipeline's steps. Imported before those forks, the modules are inherited (and
their pages shared copy-on-write). Opt-in, from the platform's ``airflow_local_settings.py``
(``$AIRFLOW_HOME/config/``), which every Airflow process imports at start::

    from airflow_ml_provider.preload import preload_task_modules

    preload_task_modules()

It acts only in the processes that fork tasks (``airflow scheduler``, ``airflow celery
worker``); the api-server, dag-processor and triggerer stay as they were. Under the
KubernetesExecutor each task is a new pod, so there is nothing to inherit.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import sys
from collections.abc import Sequence

TASK_MODULES = (
    "pandas",
    "pyarrow.parquet",
    "pyarrow.dataset",
    "sklearn.pipeline",
    "sklearn.model_selection",
    "sklearn.metrics",
    "mlflow",
    "mlflow.pyfunc",
    "mlflow.sklearn",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.tracking.rest_store",
    "skops.io",
    "great_expectations",
    "airflow_ml_provider.operators.training",
    "airflow_ml_provider.operators.evaluation",
)
"""What the pipeline's tasks import when they run (an operator imports its libraries in
``execute``, so DAG parsing stays light); one missing (an extra not installed) is skipped."""

FORKING_COMMANDS = (("scheduler",), ("celery", "worker"))
"""``airflow`` subcommands whose process forks task processes."""


def forks_task_processes(argv: Sequence[str]) -> bool:
    """Whether ``argv`` (an ``airflow ...`` command line) is a process that forks tasks."""
    words = [word for word in argv[1:] if not word.startswith("-")]
    return any(tuple(words[: len(command)]) == command for command in FORKING_COMMANDS)


def preload_task_modules(argv: Sequence[str] | None = None) -> list[str]:
    """Import ``TASK_MODULES`` when this process forks task processes, and read what logging
    a model reads once per process; return the names imported."""
    if not forks_task_processes(sys.argv if argv is None else argv):
        return []
    loaded = []
    for name in TASK_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        loaded.append(name)
    with contextlib.suppress(ImportError):  # skops or MLflow not installed
        from airflow_ml_provider.ml.training.model_logging import read_once_per_process

        read_once_per_process()
    # What Python's docs advise before fork() without exec(): the garbage collector of a
    # forked task never walks these objects, so it does not copy their pages.
    gc.freeze()
    return loaded

"""Environment variables: what every process we start gets, and setting some for the
length of a block."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

MLFLOW_TELEMETRY_OFF = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
"""MLflow's usage telemetry off in every process and pod we start: it phones home from hosts
that have no internet, and its thread once unset a variable while an MLflow request read
os.environ (a KeyError in an artifact upload against a tracking server)."""

MLFLOW_IN_TASKS = {
    **MLFLOW_TELEMETRY_OFF,
    "MLFLOW_CONFIGURE_LOGGING": "false",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}
"""What an Airflow task process that calls MLflow needs before it imports MLflow: telemetry
off, MLflow's records left to Airflow's logging at their own level, no artifact progress
bars — MLflow's own logging setup and its tqdm bars write to stderr, which Airflow's task
supervisor logs at error level."""


def default_environ(values: dict[str, str]) -> None:
    """Set each of ``values`` in os.environ unless the process was given one already."""
    for name, value in values.items():
        os.environ.setdefault(name, value)


@contextmanager
def scoped_environ(values: dict[str, str]) -> Iterator[None]:
    """``values`` in os.environ for the duration, then what was there before."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

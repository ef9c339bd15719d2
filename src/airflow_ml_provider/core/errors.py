"""The base of every error this package raises: ``except AirflowMlError`` catches ours and
nothing else. Each error keeps the builtin (or Airflow) base it had, so existing
``except ValueError`` handlers still work. Standard library only."""

from __future__ import annotations

import re

_SQLALCHEMY_MESSAGE = re.compile(r"^(?:[A-Z_]+: )?\(")
"""A message SQLAlchemy wrote (``(raised as a result of Query-invoked autoflush; ...)``,
``(sqlite3.OperationalError) ...``), possibly behind an MLflow server's error code."""
_DATABASE_ERROR = re.compile(
    r"^(?:[A-Z_]+: )?\((?P<type>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)\) (?P<what>.+)$"
)
"""How SQLAlchemy names the database driver's own error, e.g. ``(sqlite3.OperationalError)
attempt to write a readonly database``: MLflow's SQL store (and a server relaying it) puts
SQLAlchemy's hints first and this cause on a later line."""


class AirflowMlError(Exception):
    """An error of airflow-ml-provider (bad YAML, bad data, a model refused, a failed
    rollout, ...)."""


class DeploymentFailed(AirflowMlError):
    """A deployer could not make a version serve (or serve again); the message says why and
    what serves now."""


def first_line(message: str) -> str:
    """The first non-empty line of an error message (at most 300 characters): what a person
    reads first in a run summary, a mail subject or the UI. For a database error relayed by
    SQLAlchemy, the driver's cause (``sqlite3.OperationalError: attempt to write a readonly
    database``), not SQLAlchemy's hints around it."""
    lines = [part.strip() for part in message.splitlines() if part.strip()]
    if lines and _SQLALCHEMY_MESSAGE.match(lines[0]):
        causes = (_DATABASE_ERROR.match(line) for line in lines)
        cause = next((found for found in causes if found), None)
        if cause:
            return f"{cause['type']}: {cause['what']}"[:300]
    return (lines[0] if lines else "")[:300] or "(no message)"


def failure_of(task_id: str, map_index: int | None, error: BaseException | None) -> dict[str, str]:
    """``{task, type, message}`` of a failed task: its label (``task[2]`` for a mapped
    instance; index 0 is mapped too) and its exception's first line."""
    mapped = map_index is not None and map_index >= 0
    return {
        "task": f"{task_id}[{map_index}]" if mapped else task_id,
        "type": type(error).__name__ if error is not None else "",
        "message": first_line(str(error)) if error is not None else "(no exception)",
    }

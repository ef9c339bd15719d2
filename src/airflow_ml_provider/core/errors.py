"""The base of every error this package raises: ``except AirflowMlError`` catches ours and
nothing else. Each error keeps the builtin (or Airflow) base it had, so existing
``except ValueError`` handlers still work. No imports."""

from __future__ import annotations


class AirflowMlError(Exception):
    """An error of airflow-ml-provider (bad YAML, bad data, a model refused, a failed
    rollout, ...)."""


class DeploymentFailed(AirflowMlError):
    """A deployer could not make a version serve (or serve again); the message says why and
    what serves now."""


def first_line(message: str) -> str:
    """The first non-empty line of an error message (at most 300 characters): what a person
    reads first in a run summary, a mail subject or the UI."""
    line = next((part.strip() for part in message.splitlines() if part.strip()), "")
    return line[:300] or "(no message)"


def failure_of(task_id: str, map_index: int | None, error: BaseException | None) -> dict[str, str]:
    """``{task, type, message}`` of a failed task: its label (``task[2]`` for a mapped
    instance; index 0 is mapped too) and its exception's first line."""
    mapped = map_index is not None and map_index >= 0
    return {
        "task": f"{task_id}[{map_index}]" if mapped else task_id,
        "type": type(error).__name__ if error is not None else "",
        "message": first_line(str(error)) if error is not None else "(no exception)",
    }

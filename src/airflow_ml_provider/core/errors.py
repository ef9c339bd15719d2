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

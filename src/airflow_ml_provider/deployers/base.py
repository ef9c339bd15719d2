"""A deployment strategy as an object: make a version serve, serve an older one again, and
check what serves now. ``deploy_model``, ``RollbackModelOperator`` and ``airflow-ml rollback``
all go through one, so a rollback reaches whatever users call (an alias, or a server)."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from airflow_ml_provider.core.connections import MLFLOW_CONN_ID
from airflow_ml_provider.core.errors import DeploymentFailed

__all__ = ["Deployer", "DeploymentFailed"]


class Deployer(ABC):
    """One strategy's way of serving versions of ``model_name``.

    The ``champion`` alias is moved by the caller before ``deploy`` / ``rollback`` (and moved
    back by the caller when they raise); a deployer only makes serving follow it. Both raise
    DeploymentFailed after putting serving back to what it was, saying what serves now.

    :param model_name: the registered model.
    :param mlflow_conn_id: the MLflow connection (the embedded store when it does not exist).
    :param log: where progress goes (the task's logger in Airflow).
    """

    strategy: ClassVar[str]
    check_name: ClassVar[str] = "smoke test"
    """What failed, in errors and the alias history, when ``deploy`` raises."""

    def __init__(
        self,
        model_name: str,
        *,
        mlflow_conn_id: str = MLFLOW_CONN_ID,
        log: logging.Logger | None = None,
    ) -> None:
        self.model_name = model_name
        self.mlflow_conn_id = mlflow_conn_id
        self.log = log or logging.getLogger(__name__)

    @abstractmethod
    def deploy(self, version: str) -> dict[str, Any]:
        """Make ``version`` (already ``champion``) serve; what was done, for the task's result."""

    @abstractmethod
    def rollback(self, to_version: str) -> dict[str, Any]:
        """Make ``to_version`` (already ``champion`` again) serve, and check it answers."""

    @abstractmethod
    def smoke_test(self) -> dict[str, Any]:
        """Check that what serves now answers the champion's input example; raise if not."""

    def settings(self) -> dict[str, Any]:
        """What a later rollback needs to find this deployment (recorded on the version; no
        secrets)."""
        return {}

    @classmethod
    def from_settings(
        cls,
        model_name: str,
        settings: dict[str, Any],
        connections: Mapping[str, str],
        **options: Any,
    ) -> Deployer:
        """The deployer a recorded deployment describes. ``connections``: Airflow connection
        ids by system (e.g. ``kubernetes``), the caller's; ``options``: the base's arguments."""
        return cls(model_name, **options)

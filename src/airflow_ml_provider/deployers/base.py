"""A deployment strategy as an object: make a version serve, serve an older one again, and
check what serves now. ``deploy_model``, ``RollbackModelOperator`` and ``airflow-ml rollback``
all go through one, so a rollback reaches whatever users call (an alias, or a server)."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from airflow_ml_provider.core.connections import KUBERNETES_CONN_ID, MLFLOW_CONN_ID
from airflow_ml_provider.core.defaults import ROLLOUT_POLL_SECONDS, ROLLOUT_TIMEOUT_SECONDS
from airflow_ml_provider.core.errors import DeploymentFailed

__all__ = ["ClusterDeployer", "Deployer", "DeploymentFailed"]


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


class ClusterDeployer(Deployer):
    """A deployer whose server runs in a Kubernetes cluster: the cluster's Airflow
    connection, how long a rollout may take and how often its status is read.

    :param kubernetes_conn_id: the Airflow connection to the cluster.
    :param rollout_timeout: seconds a rollout may take before it counts as failed.
    :param poll_interval: seconds between status reads.
    """

    settings_fields: ClassVar[tuple[str, ...]] = ()
    """The settings (recorded on the version) that rebuild where the server runs."""

    def __init__(
        self,
        model_name: str,
        *,
        kubernetes_conn_id: str = KUBERNETES_CONN_ID,
        rollout_timeout: float = ROLLOUT_TIMEOUT_SECONDS,
        poll_interval: float = ROLLOUT_POLL_SECONDS,
        **options: Any,
    ) -> None:
        super().__init__(model_name, **options)
        self.kubernetes_conn_id = kubernetes_conn_id
        self.rollout_timeout = float(rollout_timeout)
        self.poll_interval = poll_interval

    @classmethod
    def from_settings(
        cls,
        model_name: str,
        settings: dict[str, Any],
        connections: Mapping[str, str],
        **options: Any,
    ) -> Deployer:
        where = {key: settings[key] for key in cls.settings_fields if key in settings}
        return cls(
            model_name,
            settings=cls.server_settings(where),
            kubernetes_conn_id=connections.get("kubernetes", KUBERNETES_CONN_ID),
            rollout_timeout=settings.get("rollout_timeout", ROLLOUT_TIMEOUT_SECONDS),
            **options,
        )

    @classmethod
    @abstractmethod
    def server_settings(cls, recorded: dict[str, Any]) -> Any:
        """The server's settings object from the recorded fields (raises ValueError / TypeError
        when they do not describe one)."""

"""MLflow hook on the ``mlflow`` connection type, with the embedded default as fallback."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from airflow_ml_provider import settings
from airflow_ml_provider.core.connections import MLFLOW_CONN_ID
from airflow_ml_provider.core.env import MLFLOW_IN_TASKS, MLFLOW_TELEMETRY_OFF, default_environ

# Every task that calls MLflow imports this module first (at parse time, through the
# operators), before MLflow is imported: MLflow reads these variables once, at import.
default_environ(MLFLOW_IN_TASKS)


class MlflowHook(BaseHook):
    """Tracking/registry access for MLflow.

    Connection (type ``mlflow``): host = tracking server URL (``http://mlflow:5000``), or
    extra ``{"tracking_uri": ...}`` for any MLflow URI; login/password become
    MLFLOW_TRACKING_USERNAME/PASSWORD; extra ``token`` becomes MLFLOW_TRACKING_TOKEN.
    When the connection does not exist the embedded default is used: a SQLite store in
    $AIRFLOW_HOME/mlflow.db with artifacts in $AIRFLOW_HOME/mlartifacts.

    :param mlflow_conn_id: the connection (``mlflow_default`` by default).
    """

    conn_name_attr = "mlflow_conn_id"
    default_conn_name = MLFLOW_CONN_ID
    conn_type = "mlflow"
    hook_name = "MLflow"

    def __init__(self, mlflow_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mlflow_conn_id = mlflow_conn_id
        self._resolved: tuple[str, dict[str, str], bool] | None = None

    def _resolve(self) -> tuple[str, dict[str, str], bool]:
        if self._resolved is None:
            try:
                conn = self.get_connection(self.mlflow_conn_id)
            except AirflowNotFoundException:
                self._resolved = (settings.embedded_tracking_uri(), {}, True)
            else:
                extra = conn.extra_dejson or {}
                uri = extra.get("tracking_uri") or conn.host or ""
                if conn.host and conn.port and "://" in conn.host:
                    uri = f"{conn.host.rstrip('/')}:{conn.port}"
                env: dict[str, str] = {}
                if conn.login:
                    env["MLFLOW_TRACKING_USERNAME"] = conn.login
                if conn.password:
                    env["MLFLOW_TRACKING_PASSWORD"] = conn.password
                if extra.get("token"):
                    env["MLFLOW_TRACKING_TOKEN"] = str(extra["token"])
                if not uri:
                    raise ValueError(
                        f"connection {self.mlflow_conn_id!r} has no host and no "
                        "extra.tracking_uri; set one of them"
                    )
                self._resolved = (uri, env, False)
        return self._resolved

    @property
    def tracking_uri(self) -> str:
        return self._resolve()[0]

    @property
    def is_embedded(self) -> bool:
        return self._resolve()[2]

    @property
    def artifact_location_root(self) -> str | None:
        """Artifact root for new experiments: set on the embedded default, server-side otherwise."""
        return settings.embedded_artifact_root() if self.is_embedded else None

    def subprocess_env(self) -> dict[str, str]:
        """Environment for a training process, pod or model server: tracking URI plus
        credentials (never in the job), MLflow's telemetry off, MLflow's own logging setup
        (its output is the process's: relayed at info level, or the pod's log)."""
        return {
            **MLFLOW_TELEMETRY_OFF,
            "MLFLOW_CONFIGURE_LOGGING": "true",
            "MLFLOW_TRACKING_URI": self.tracking_uri,
            **self._resolve()[1],
        }

    def get_conn(self) -> Any:
        """An MlflowClient pointed at this connection's tracking and registry store."""
        import mlflow

        os.environ.update(self._resolve()[1])
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        return mlflow.MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    @property
    def ui_url(self) -> str | None:
        """Base URL of the MLflow UI: the tracking server, else [ml_provider] mlflow_ui_url;
        None when there is neither (a file or database store nobody serves): no link then,
        rather than one to a port where nothing listens."""
        if self.tracking_uri.startswith(("http://", "https://")):
            return self.tracking_uri.rstrip("/")
        return settings.mlflow_ui_url() or None

    def run_url(self, experiment_id: str, run_id: str) -> str | None:
        return self.ui_url and f"{self.ui_url}/#/experiments/{experiment_id}/runs/{run_id}"

    def model_url(self, model_name: str) -> str | None:
        return self.ui_url and f"{self.ui_url}/#/models/{quote(model_name)}"

    def model_version_url(self, model_name: str, version: str | int) -> str | None:
        return self.ui_url and f"{self.ui_url}/#/models/{quote(model_name)}/versions/{version}"

    def experiment_artifact_location(self, experiment_name: str) -> str | None:
        root = self.artifact_location_root
        return f"{root}/{experiment_name.replace('/', '_')}" if root else None

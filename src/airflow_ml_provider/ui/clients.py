"""MLflow clients for the pages, one per ``mlflow`` connection id, kept for the life of the
api-server process (a client holds a connection pool, not data: what it reads is fresh)."""

from __future__ import annotations

import threading
from typing import Any


class MlflowClients:
    """``clients(conn_id)`` -> MlflowClient; ``clients.hook(conn_id)`` -> its MlflowHook."""

    def __init__(self) -> None:
        self._hooks: dict[str, Any] = {}
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def hook(self, conn_id: str):
        from airflow_ml_provider.hooks.mlflow import MlflowHook

        with self._lock:
            if conn_id not in self._hooks:
                self._hooks[conn_id] = MlflowHook(conn_id)
            return self._hooks[conn_id]

    def __call__(self, conn_id: str):
        hook = self.hook(conn_id)
        with self._lock:
            if conn_id not in self._clients:
                self._clients[conn_id] = hook.get_conn()
            return self._clients[conn_id]

"""The REST API of a running Airflow (public API v2, token from /auth/token), as people and
tools drive it."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any


def wait_until(ready: Callable[[], bool], timeout: float, what: str, every: float = 2) -> None:
    """Poll ``ready()`` until true; TimeoutError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}")
        time.sleep(every)


def get_token(base: str, username: str, password: str) -> str:
    """A JWT from Airflow's /auth/token."""
    request = urllib.request.Request(
        f"{base}/auth/token",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["access_token"]


class Airflow:
    """The REST API of a running Airflow."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token

    def call(self, method: str, path: str, body: dict | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.base}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def trigger(self, dag_id: str) -> str:
        """Wait until ``dag_id`` is parsed, unpause it, trigger a run; the run's API path."""
        wait_until(lambda: self.exists(f"/api/v2/dags/{dag_id}"), 300, f"DAG {dag_id} parsed")
        self.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        run = self.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None})
        return f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}"

    def wait_for_end(self, path: str, timeout: float = 1800) -> dict:
        """Wait until the run at ``path`` succeeded or failed; the run."""
        wait_until(
            lambda: self.call("GET", path)["state"] in ("success", "failed"), timeout, "run end"
        )
        return self.call("GET", path)

    def run_to_end(self, dag_id: str, timeout: float = 1800) -> tuple[dict, list[dict]]:
        """Unpause, trigger and wait for one run of ``dag_id``: (the run, its task instances)."""
        path = self.trigger(dag_id)
        run = self.wait_for_end(path, timeout)
        return run, self.call("GET", f"{path}/taskInstances?limit=1000")["task_instances"]

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> Any:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries"
        return self.call("GET", f"{path}/return_value?deserialize=true")["value"]

    def exists(self, path: str) -> bool:
        try:
            self.call("GET", path)
        except urllib.error.HTTPError:
            return False
        return True

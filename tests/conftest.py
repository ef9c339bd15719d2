"""Test session setup: a scratch AIRFLOW_HOME on SQLite, set before Airflow is imported."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from helpers.network import free_port

_HOME = Path(tempfile.mkdtemp(prefix="airflow-ml-tests-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
# What the test deployment's platform team allows pods to run (the example registries,
# accounts and Secrets the tests' pipelines name; tests/security checks the refusals).
os.environ.setdefault("AIRFLOW__ML_PROVIDER__ALLOWED_IMAGES", "registry.example.com/,t:")
os.environ.setdefault(
    "AIRFLOW__ML_PROVIDER__ALLOWED_SERVICE_ACCOUNTS",
    "airflow-ml-training,airflow-ml-serving,ml-trainer",
)
os.environ.setdefault("AIRFLOW__ML_PROVIDER__ALLOWED_SECRETS", "mlflow-auth,storage-credentials")
os.environ.setdefault("AIRFLOW__ML_PROVIDER__ALLOW_POD_TEMPLATES", "True")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(_HOME / "dags")
(_HOME / "dags").mkdir(exist_ok=True)


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    return _HOME


@pytest.fixture(scope="session")
def airflow_db(airflow_home: Path) -> Path:
    """A migrated Airflow metadata DB (SQLite) for this test session."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return airflow_home / "airflow.db"


@pytest.fixture
def smtp_server(monkeypatch):
    """A real SMTP server (aiosmtpd) on 127.0.0.1 and an Airflow connection pointing at it."""
    import json

    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    class Inbox(Message):
        def __init__(self):
            super().__init__()
            self.messages = []

        def handle_message(self, message):
            self.messages.append(message)

    port = free_port()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    connection = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": port,
        "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "airflow@example.com"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_TEST", json.dumps(connection))
    try:
        yield inbox
    finally:
        controller.stop()


def pytest_sessionfinish(session, exitstatus):
    """Remove this session's scratch AIRFLOW_HOME."""
    import shutil

    shutil.rmtree(_HOME, ignore_errors=True)

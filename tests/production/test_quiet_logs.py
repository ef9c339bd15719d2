"""What a run says in its logs, on real processes: `airflow-ml run --verbose` in a
subprocess (real Airflow, MLflow, scikit-learn), against a real `mlflow server` over HTTP.

MLflow's telemetry never starts in the processes a run starts. MLflow itself turns telemetry
off under pytest or CI (it looks at PYTEST_CURRENT_TEST, CI, ...), so the runs here get an
environment without those variables, and the control shows telemetry does start there:
MLflow writes its installation id to $XDG_CONFIG_HOME/mlflow/telemetry.json when it does.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from helpers.mlflow_server import mlflow_server
from helpers.pipelines import write_pipeline

CI_SIGNALS = ("PYTEST_CURRENT_TEST", "PYTEST_XDIST_WORKER", "CI", "GITHUB_ACTIONS")
# MLflow's own log format (its logging setup), which a task process must not use: it goes
# to stderr, which Airflow's task supervisor logs at error level.
MLFLOW_OWN_FORMAT = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (INFO|WARNING) mlflow")


def _environment(config_home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CI_SIGNALS}
    env.pop("MLFLOW_DISABLE_TELEMETRY", None)
    env.pop("DO_NOT_TRACK", None)
    return {**env, "XDG_CONFIG_HOME": str(config_home), **extra}


def _run(path: Path, env: dict[str, str]) -> tuple[int, list[str]]:
    command = [sys.executable, "-m", "airflow_ml_provider.cli", "run", str(path), "--verbose"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    return done.returncode, (done.stdout + done.stderr).splitlines()


def test_telemetry_stays_off_and_logs_stay_quiet_against_a_tracking_server(tmp_path):
    control = tmp_path / "control"
    subprocess.run([sys.executable, "-c", "import mlflow"], env=_environment(control), check=True)
    assert (control / "mlflow" / "telemetry.json").exists(), "telemetry is not observable here"

    config_home = tmp_path / "run-config"
    with mlflow_server(tmp_path / "server", _environment(tmp_path / "server-config")) as url:
        connection = json.dumps({"conn_type": "mlflow", "host": url})
        env = _environment(
            config_home,
            AIRFLOW_HOME=str(tmp_path / "home"),
            AIRFLOW_CONN_MLFLOW_DEFAULT=connection,
            # A training process of its own, as a deployed worker starts one.
            AIRFLOW__ML_PROVIDER__LOCAL_TRAINING="subprocess",
        )
        code, lines = _run(write_pipeline(tmp_path, "quiet_http"), env)
    assert code == 0, "\n".join(lines[-40:])
    assert not (config_home / "mlflow" / "telemetry.json").exists()
    warnings = [line for line in lines if "Warning" in line]
    assert len(warnings) < 20, warnings[:5]  # models are logged and loaded twice in a run
    assert [line for line in lines if MLFLOW_OWN_FORMAT.match(line)] == []
    assert any("[mlflow." in line for line in lines)  # MLflow's records, through Airflow's


def test_a_failed_task_logs_no_xcom_not_found_errors(tmp_path):
    """Airflow resolves a task's extra links when it ends, failed or not; a training that
    failed has no MLflow run link, which must not be an error of its own."""
    path = write_pipeline(  # accepted by the checks, refused by LogisticRegression.fit
        tmp_path,
        "quiet_failure",
        estimator="sklearn.linear_model.LogisticRegression",
        params="{solver: liblinear, penalty: elasticnet, l1_ratio: 0.5}",
    )
    env = _environment(tmp_path / "config", AIRFLOW_HOME=str(tmp_path / "home"))
    code, lines = _run(path, env)
    assert code == 1
    assert any("training failed" in line for line in lines)
    assert [line for line in lines if "XCom not found" in line] == []

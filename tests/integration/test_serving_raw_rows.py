"""A model trained on a raw table serves raw JSON rows: the penguins model (preprocessing +
estimator, string labels), served by a real ``mlflow models serve`` process with the command
line the Kubernetes serving pods run (serving/manifests.py), answers rows with text, an
unseen category and nulls with the original labels, and names a missing column."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from helpers.network import free_port
from helpers.training_jobs import job as entrypoint_job


@pytest.fixture
def penguins_model(tmp_path) -> str:
    from palmerpenguins import load_penguins

    from airflow_ml_provider.ml import train as train_module

    data = tmp_path / "penguins.csv"
    load_penguins().to_csv(data, index=False)
    job = entrypoint_job(
        tmp_path,
        metrics=["accuracy"],
        params={"max_iter": 2000},
        features={"numeric": {"scale": "standard"}},
    )
    job["data"].update(uri=data.as_uri(), target="species", features=None)
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    assert train_module.main(["--job", str(path)]) == 0
    return json.loads((tmp_path / "result.json").read_text())["model_uri"]


def post(port: int, rows: list[dict]) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations",
        data=json.dumps({"dataframe_records": rows}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_model_server_answers_raw_rows_with_original_labels(tmp_path, penguins_model):
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
    server = subprocess.Popen(
        [
            "mlflow", "models", "serve", "-m", penguins_model,
            "-h", "127.0.0.1", "-p", str(port), "--env-manager", "local",
        ],
        env=env,
        stdout=(tmp_path / "server.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                    break
            except OSError:
                assert server.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "model server did not start"
                time.sleep(0.5)
        row = {
            "island": "Torgersen",
            "bill_length_mm": 39.1,
            "bill_depth_mm": 18.7,
            "flipper_length_mm": 181,
            "body_mass_g": 3750,
            "sex": "male",
            "year": 2007,
        }
        rows = [
            row,
            {**row, "island": "Atlantis"},  # never seen in training
            {**row, "sex": None, "bill_depth_mm": None, "year": None},  # missing values
            {**row, "island": "Biscoe", "bill_length_mm": 47.5, "bill_depth_mm": 15.0,
             "flipper_length_mm": 218, "body_mass_g": 4950},
        ]  # fmt: skip
        status, body = post(port, rows)
        assert status == 200, body
        assert body["predictions"] == ["Adelie", "Adelie", "Adelie", "Gentoo"]

        status, body = post(port, [{k: v for k, v in row.items() if k != "island"}])
        assert status == 400
        assert "missing inputs ['island']" in body["message"]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

"""A model trained on a raw table serves raw JSON rows: the penguins model (preprocessing +
estimator, string labels), served by a real ``mlflow models serve`` process with the command
line the Kubernetes serving pods run (serving/manifests.py), answers rows with text, an
unseen category and nulls with the original labels, and names a missing column. Served by a
real MLServer (KServe's server for MLflow models), it answers the same rows as Open Inference
Protocol (V2) tensors with the same labels."""

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

ROW = {
    "island": "Torgersen",
    "bill_length_mm": 39.1,
    "bill_depth_mm": 18.7,
    "flipper_length_mm": 181,
    "body_mass_g": 3750,
    "sex": "male",
    "year": 2007,
}
ROWS = [
    ROW,
    {**ROW, "island": "Atlantis"},  # never seen in training
    {**ROW, "sex": None, "bill_depth_mm": None, "year": None},  # missing values
    {**ROW, "island": "Biscoe", "bill_length_mm": 47.5, "bill_depth_mm": 15.0,
     "flipper_length_mm": 218, "body_mass_g": 4950},
]  # fmt: skip
LABELS = ["Adelie", "Adelie", "Adelie", "Gentoo"]


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
        status, body = post(port, ROWS)
        assert status == 200, body
        assert body["predictions"] == LABELS

        status, body = post(port, [{k: v for k, v in ROW.items() if k != "island"}])
        assert status == 400
        assert "missing inputs ['island']" in body["message"]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_mlserver_answers_v2_tensors_with_the_same_labels(tmp_path, penguins_model):
    """Real MLServer with its MLflow runtime (what a KServe InferenceService with
    ``modelFormat: mlflow`` and ``protocolVersion: v2`` runs) serving the version's files: the
    raw rows as V2 tensors built by serving.open_inference (text as BYTES, nulls kept) get
    the labels `mlflow models serve` gives, and the model's own logged input example — the
    deployment smoke test's request — gets what the model predicts in process."""
    import mlflow
    from mlflow.artifacts import download_artifacts

    from airflow_ml_provider.serving.open_inference import (
        column_types,
        v2_predictions,
        v2_request,
    )
    from helpers.mlserver import mlserver, post_v2

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    local = Path(download_artifacts(artifact_uri=penguins_model, dst_path=str(tmp_path / "m")))
    model = mlflow.pyfunc.load_model(str(local))
    types = column_types(model.metadata.get_input_schema().to_json())
    assert types["island"] == "string" and types["flipper_length_mm"] == "double"
    with mlserver(local, "penguins", tmp_path / "mlserver") as port:
        status, body = post_v2(port, "penguins", v2_request({"dataframe_records": ROWS}, types))
        assert status == 200, body
        assert v2_predictions(body) == LABELS

        # Untyped, 181 is an INT64 tensor, which the server refuses for a double column.
        status, body = post_v2(port, "penguins", v2_request({"dataframe_records": ROWS}))
        assert status != 200 and "flipper_length_mm" in body["error"]

        example = (local / "serving_input_example.json").read_text()
        status, body = post_v2(port, "penguins", v2_request(example, types))
        assert status == 200, body
        assert v2_predictions(body) == list(model.predict(model.input_example))

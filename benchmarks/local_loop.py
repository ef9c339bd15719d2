"""How long the local loop takes: `airflow-ml run` of the demo against a plain Python script
doing the same ML work with MLflow logging and registration, in the same run.

Every measurement is one fresh process (what a person waits for at the terminal, imports
included), on its own AIRFLOW_HOME / MLflow store in a temp folder:

- ``plain``: a script that reads the demo CSV, splits it as the pipeline does, fits the same
  RandomForestClassifier, scores roc_auc/f1/accuracy, logs params, metrics and the model to
  MLflow (SQLite store), registers a version and sets the ``champion`` alias; run twice,
  on a fresh store (``plain``) and again on it (``plain_again``, as ``edited`` finds its
  home's store).
- ``first``: `airflow-ml run` of the demo YAML on a fresh home (creates the metadata DB).
- ``unchanged``: the second run, nothing new (same data and YAML): check_changes skips
  training.
- ``edited``: the third run, after a YAML edit (n_estimators 200 -> 199): trains, judges
  against the first run's champion, registers — the fix-and-retry loop.
- ``missing_file``: a run whose data file does not exist (refused at the source's line
  before Airflow starts, since it could only fail in snapshot_data).
- ``bad_data``: a run whose data fails validation (an expectation no row meets).

Targets (issue 20): edited ≤ 2 × plain; missing_file ≤ 15 s; bad_data ≤ 30 s.

    .venv/bin/python benchmarks/local_loop.py --repeats 3
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

PLAIN_SCRIPT = """
import sys
import mlflow, pandas as pd
from mlflow.models import infer_signature
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import train_test_split

folder = sys.argv[1]
mlflow.set_tracking_uri(f"sqlite:///{folder}/mlflow.db")
mlflow.set_experiment("plain")
frame = pd.read_csv(f"{folder}/data/breast_cancer.csv")
x, y = frame.drop(columns="target"), frame["target"]
x_train, x_test, y_train, y_test = train_test_split(
    x, y, test_size=0.25, random_state=7, stratify=y
)
with mlflow.start_run() as run:
    params = {"n_estimators": 200, "max_depth": 6, "random_state": 7}
    model = RandomForestClassifier(**params).fit(x_train, y_train)
    mlflow.log_params(params)
    mlflow.log_metrics({
        "roc_auc": roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]),
        "f1": f1_score(y_test, model.predict(x_test)),
        "accuracy": accuracy_score(y_test, model.predict(x_test)),
    })
    info = mlflow.sklearn.log_model(
        model, name="model", input_example=x_train.head(5),
        signature=infer_signature(x_train.head(5), model.predict(x_train.head(5))),
        serialization_format="skops",
        skops_trusted_types=__import__("skops.io").io.get_untrusted_types(
            data=__import__("skops.io").io.dumps(model)),
    )
client = mlflow.MlflowClient()
version = mlflow.register_model(info.model_uri, "plain").version
client.set_registered_model_alias("plain", "champion", version)
"""


def _timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int, str]:
    started = time.monotonic()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    return time.monotonic() - started, done.returncode, done.stdout + done.stderr


def _environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MLFLOW_"))}
    return {**env, "AIRFLOW_HOME": str(home), "PYTHONWARNINGS": "ignore"}


def one_round(scratch: Path) -> dict[str, float]:
    """Every measurement once, each in a folder of its own."""
    from airflow_ml_provider.cli.demo import write_demo

    cli = [sys.executable, "-m", "airflow_ml_provider.cli", "run"]
    times: dict[str, float] = {}

    plain = scratch / "plain"
    write_demo(plain)
    # Twice: a fresh MLflow store (as `first` starts), then the existing one (as `edited`).
    for name in ("plain", "plain_again"):
        times[name], code, out = _timed(
            [sys.executable, "-c", PLAIN_SCRIPT, str(plain)], _environment(plain / "home"), plain
        )
        assert code == 0, out[-2000:]

    demo = scratch / "demo"
    yaml_path = write_demo(demo)
    env = _environment(demo / "home")
    for name, edit in (("first", None), ("unchanged", None), ("edited", ("200", "199"))):
        if edit:
            yaml_path.write_text(yaml_path.read_text().replace(*edit, 1))
        times[name], code, out = _timed([*cli, str(yaml_path), "--json"], env, demo)
        assert code == 0, out[-2000:]
        result = json.loads(out.strip().splitlines()[-1])
        assert result["unchanged"] is (name == "unchanged"), result["tasks"]

    missing = scratch / "missing"
    yaml_path = write_demo(missing)
    (missing / "data" / "breast_cancer.csv").unlink()
    times["missing_file"], code, out = _timed([*cli, str(yaml_path)], env, missing)
    assert code == 1 and "matches no file; the run would fail at snapshot_data" in out, out[-2000:]

    bad = scratch / "bad"
    yaml_path = write_demo(bad)
    text = yaml_path.read_text().replace("{min_value: 100}", "{min_value: 100000}")
    yaml_path.write_text(text)
    times["bad_data"], code, out = _timed([*cli, str(yaml_path)], env, bad)
    assert code == 1 and "failed: validate_data:" in out, out[-2000:]
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rounds = []
    for index in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="local-loop-") as scratch:
            times = one_round(Path(scratch))
        times["edited_ratio"] = times["edited"] / times["plain"]
        times["edited_ratio_again"] = times["edited"] / times["plain_again"]
        times["unchanged_ratio"] = times["unchanged"] / times["plain"]
        rounds.append(times)
        print(f"round {index + 1}: " + ", ".join(f"{k} {v:.2f}" for k, v in times.items()))
    print(f"\n{'measure':<16} {'min':>8} {'median':>8} {'max':>8}")
    summary = {}
    for key in rounds[0]:
        values = [r[key] for r in rounds]
        summary[key] = {"min": min(values), "median": statistics.median(values), "max": max(values)}
        print(
            f"{key:<16} {min(values):>8.2f} {statistics.median(values):>8.2f} {max(values):>8.2f}"
        )
    targets = {
        "edited_ratio <= 2.0": summary["edited_ratio"]["median"] <= 2.0,
        "edited_ratio_again <= 2.0": summary["edited_ratio_again"]["median"] <= 2.0,
        "missing_file <= 15 s": summary["missing_file"]["median"] <= 15.0,
        "bad_data <= 30 s": summary["bad_data"]["median"] <= 30.0,
    }
    for target, met in targets.items():
        print(f"{target:<22} {'MET' if met else 'NOT MET'} (median)")
    print(json.dumps({"summary": summary, "targets": targets}))


if __name__ == "__main__":
    main()

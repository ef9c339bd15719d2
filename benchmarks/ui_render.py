"""Server-side render time of the "ML pipelines" pages.

Run from the repository root:

    .venv/bin/python benchmarks/ui_render.py [--pipelines 50] [--partitions 1000] [--repeat 20]

In a fresh scratch AIRFLOW_HOME (SQLite metadata DB, SQLite MLflow store):

* one real pipeline run (the example, through ``run_pipeline_file``) and one real
  partitioned pipeline run with ``--partitions`` partitions (200 rows each);
* ``--pipelines - 2`` more pipelines built by the factory from YAML copies and serialized
  like the DAG processor does, each with a successful DAG run carrying the real run's
  validation summary and gate decision (XCom), and a registered model with 3 versions
  (metrics, champion / previous / challenger aliases and their recorded history).

Timed (``time.perf_counter``, in-process, the code the api-server route runs — DB queries,
MLflow calls, HTML rendering — without HTTP and the auth check):

* ``list``: the list page with all pipelines;
* ``partitioned``: the partitioned pipeline's page (its 1,000-row partition table), default
  order, and sorted by a metric descending with a text filter.

The first call (cold: SQLAlchemy/MLflow clients, templates) is reported apart; then the
median and 95th percentile of ``--repeat`` calls. Target: under 300 ms each.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "dags" / "pipelines"
TARGET_MS = 300.0

PARTITIONED = """
pipeline: bench_ui_stores
data:
  source: {data}
  target: label
  partition_by: store
validation:
  expectations:
    - expect_column_values_to_not_be_null: {{column: store}}
training:
  estimator: sklearn.linear_model.LogisticRegression
  partitioning: {{partitions_per_task: 250, max_parallel: 2, min_partition_rows: 20}}
evaluation:
  primary_metric: roc_auc
  metrics: [accuracy]
registry:
  model_name: bench_ui_stores_model
"""


def partition_data(folder: Path, partitions: int) -> Path:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    rows = 200
    store = np.repeat(np.arange(partitions), rows)
    x = rng.normal(size=(len(store), 4))
    weights = rng.normal(size=(partitions, 4))
    label = np.einsum("ij,ij->i", x, weights[store]) + rng.normal(size=len(store)) > 0
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    frame["store"] = [f"store{s:04d}" for s in store]
    frame["label"] = label.astype(int)
    path = folder / "stores.parquet"
    frame.to_parquet(path, index=False)
    return path


def example_copy(folder: Path, name: str) -> Path:
    text = (
        (EXAMPLE / "breast_cancer.yaml")
        .read_text()
        .replace("pipeline: breast_cancer_ct", f"pipeline: {name}")
        .replace("model_name: breast_cancer", f"model_name: {name}_model")
        .replace("n_estimators: 200", "n_estimators: 20")
    )
    # Beside the YAML, as data.source says: local files must be inside the pipeline's folder
    # (or another allowed root).
    (folder / "data").mkdir(exist_ok=True)
    shutil.copyfile(EXAMPLE / "data" / "breast_cancer.csv", folder / "data" / "breast_cancer.csv")
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


def seed_copies(folder: Path, real: dict, count: int) -> None:
    """``count`` more pipelines whose Airflow and MLflow state has the real run's shape."""
    import random

    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    from airflow_ml_provider.cli.airflow_compat import create_dag_run, serialize_dag
    from airflow_ml_provider.factory.loader import load_dags
    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.ml.registry.aliases import PIPELINE_MODEL_TAG, promote
    from airflow_ml_provider.ui.card import read_card

    with create_session() as session:
        validation, decision = (
            XComModel.deserialize_value(
                session.scalars(
                    XComModel.get_many(
                        run_id=real["run_id"], dag_ids=real["dag_id"], task_ids=task, key=key
                    )
                ).one()
            )
            for task, key in (("validate_data", "validation"), ("evaluate_model", "return_value"))
        )
    copies = folder / "copies"
    copies.mkdir()
    for i in range(count):
        example_copy(copies, f"bench_ui_{i:03d}")
    client = MlflowHook().get_conn()
    source = client.get_model_version(f"{real['dag_id']}_model", 1).source
    rng = random.Random(0)
    for dag in load_dags(copies).values():
        serialize_dag(dag)
        with create_session() as session:
            run = create_dag_run(dag.dag_id, session, state="success")
            for task_id, key, value in (
                ("validate_data", "validation", validation),
                ("evaluate_model", "return_value", decision),
            ):
                XComModel.set(
                    key,
                    value,
                    dag_id=dag.dag_id,
                    task_id=task_id,
                    run_id=run.run_id,
                    session=session,
                )
        card = read_card(dag.doc_md)
        model = card["model_name"]
        experiment = client.create_experiment(card["experiment_name"])
        for version in (1, 2, 3):
            mlflow_run = client.create_run(experiment)
            for metric in ("roc_auc", "f1", "accuracy"):
                client.log_metric(mlflow_run.info.run_id, metric, 0.9 + rng.random() / 20)
            client.set_terminated(mlflow_run.info.run_id)
            if version == 1:  # tagged as register_model tags it
                client.create_registered_model(model, tags={PIPELINE_MODEL_TAG: dag.dag_id})
            client.create_model_version(model, source, run_id=mlflow_run.info.run_id)
            promote(client, model, version, actor="benchmark", reason="seeded")


def timed(call, repeat: int) -> dict:
    started = time.perf_counter()
    call()
    cold = time.perf_counter() - started
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    samples.sort()
    return {
        "cold_ms": round(cold * 1000, 1),
        "median_ms": round(statistics.median(samples) * 1000, 1),
        "p95_ms": round(samples[math.ceil(len(samples) * 0.95) - 1] * 1000, 1),
    }


def child(pipelines: int, partitions: int, repeat: int, folder: Path) -> dict:
    os.environ["AIRFLOW_HOME"] = str(folder / "airflow")
    from airflow_ml_provider.cli.local_run import prepare_environment, run_pipeline_file

    prepare_environment(folder / "dags")
    real = run_pipeline_file(example_copy(folder, "bench_ui_real"))
    stores_yaml = folder / "bench_ui_stores.yaml"
    stores_yaml.write_text(PARTITIONED.format(data=partition_data(folder, partitions)))
    stores = run_pipeline_file(stores_yaml)
    assert real["state"] == stores["state"] == "success"
    seed_copies(folder, real, pipelines - 2)

    from airflow.utils.session import create_session

    from airflow_ml_provider.ui import render, views
    from airflow_ml_provider.ui.clients import MlflowClients

    clients = MlflowClients()
    links = {"base": "/ml-pipelines", "airflow": ""}
    sizes: dict[str, int] = {}

    def list_page() -> None:
        with create_session() as session:
            rows = views.pipelines_view(session, clients, None)
            sizes["list_rows"] = len(rows)
            sizes["list_bytes"] = len(render.pipelines_html(rows, **links))

    def partition_page(**query) -> None:
        with create_session() as session:
            view = views.pipeline_view(session, clients, "bench_ui_stores", query)
            sizes["partition_rows"] = view["partitions"]["total"]
            sizes["partition_bytes"] = len(render.pipeline_html(view, **links))

    result = {
        "pipelines": pipelines,
        "partitions": partitions,
        "list": timed(list_page, repeat),
        "partitioned": timed(partition_page, repeat),
        "partitioned_sorted_filtered": timed(
            lambda: partition_page(sort="roc_auc", desc=True, q="store0"), repeat
        ),
    }
    result.update(sizes)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", type=int, default=50)
    parser.add_argument("--partitions", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--child", metavar="FOLDER")
    args = parser.parse_args()
    if args.child:
        result = child(args.pipelines, args.partitions, args.repeat, Path(args.child))
        print("RESULT " + json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as folder:
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                folder,
                "--pipelines",
                str(args.pipelines),
                "--partitions",
                str(args.partitions),
                "--repeat",
                str(args.repeat),
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
        )
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        sys.exit(f"benchmark failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}")
    result = json.loads(line.removeprefix("RESULT "))
    print(json.dumps(result, indent=2))
    for page in ("list", "partitioned", "partitioned_sorted_filtered"):
        verdict = "met" if result[page]["p95_ms"] < TARGET_MS else "NOT met"
        print(
            f"{page}: median {result[page]['median_ms']} ms, p95 {result[page]['p95_ms']} ms "
            f"(target < {TARGET_MS:.0f} ms: {verdict})"
        )


if __name__ == "__main__":
    main()

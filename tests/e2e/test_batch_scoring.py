"""deployment.strategy: batch through dag.test() (real Airflow, MLflow SQLite store, GX,
scikit-learn): the champion scores a scoring file every run, one output file per run."""

from __future__ import annotations

import pandas as pd

from helpers.paths import EXAMPLE_CSV
from helpers.pipelines import clear_and_rerun, edit, write_pipeline

BATCH = """deployment:
  strategy: batch
  batch:
    source: data/scoring.csv
    output: predictions/
    id_columns: [patient_id]
"""


def batch_pipeline(tmp_path, name: str, **options):
    path = write_pipeline(tmp_path, name, **options)
    rows = pd.read_csv(EXAMPLE_CSV).drop(columns="target").head(120)
    rows.insert(0, "patient_id", [f"p{i:04d}" for i in range(len(rows))])
    rows.to_csv(tmp_path / "data" / "scoring.csv", index=False)
    edit(path, "deployment:\n  strategy: alias\n", BATCH)
    return path, rows


def build_and_run(path):
    from airflow_ml_provider.cli.local_run import collect_result, run_dag
    from airflow_ml_provider.factory.builder import build_dag
    from airflow_ml_provider.pipeline_spec.loader import load_pipeline

    loaded = load_pipeline(path)
    dag = build_dag(loaded)
    dag_run = run_dag(dag)
    return dag, dag_run, collect_result(dag, dag_run, loaded.spec.model_name, "mlflow_default")


def test_the_champion_scores_every_run_once(tmp_path, airflow_db):
    import mlflow.pyfunc

    from airflow_ml_provider.hooks.mlflow import MlflowHook

    path, rows = batch_pipeline(tmp_path, "e2e_batch")
    dag, first_run, first = build_and_run(path)
    assert first["state"] == "success", first["tasks"]
    assert first["tasks"]["score_batch"] == "success"
    outputs = sorted((tmp_path / "predictions").glob("run_id=*/predictions.parquet"))
    assert len(outputs) == 1
    scored = pd.read_parquet(outputs[0])
    assert list(scored.columns) == ["patient_id", "prediction", "model_version", "model_name"]
    assert len(scored) == len(rows) and (scored["model_version"] == 1).all()
    assert scored["patient_id"].tolist() == rows["patient_id"].tolist()
    MlflowHook().get_conn()
    champion = mlflow.pyfunc.load_model("models:/e2e_batch_model/1")
    assert scored["prediction"].tolist() == list(champion.predict(rows.drop(columns="patient_id")))
    assert first["summary"]["scoring"]["rows"] == len(rows)
    # The task's "Predictions" extra link, as Airflow stored it when the task finished.
    link = first["links"]["predictions"]
    assert link.startswith("file://") and link.endswith(
        f"{tmp_path}/predictions/{outputs[0].parent.name}/predictions.parquet"
    )

    # Clearing the task re-writes the run's own file: still one file, same rows.
    clear_and_rerun(dag, first_run.run_id, "score_batch")
    outputs = sorted((tmp_path / "predictions").glob("run_id=*/predictions.parquet"))
    assert len(outputs) == 1 and len(pd.read_parquet(outputs[0])) == len(rows)
    assert not list((tmp_path / "predictions").rglob(".partial-*"))

    # A worse model is not promoted; the champion (version 1) still scores this run.
    worse, _ = batch_pipeline(
        tmp_path, "e2e_batch", estimator="sklearn.dummy.DummyClassifier", params="{}"
    )
    _, _, second = build_and_run(worse)
    assert second["promoted"] is False and second["tasks"]["deploy_model"] == "skipped"
    assert second["tasks"]["score_batch"] == "success"
    outputs = sorted((tmp_path / "predictions").glob("run_id=*/predictions.parquet"))
    assert len(outputs) == 2
    latest = pd.read_parquet(
        next(p for p in outputs if second["run_id"][:20].replace(":", "_") in str(p))
    )
    assert (latest["model_version"] == 1).all() and len(latest) == len(rows)

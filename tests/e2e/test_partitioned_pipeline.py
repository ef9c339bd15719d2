"""Partitioned training through dag.test(): real Airflow (SQLite) with dynamic task mapping,
real MLflow (SQLite store), real Great Expectations, real scikit-learn, the local runner.

50 stores, each with its own relation between features and label, so a model per store
beats one model for all; two tiny stores are skipped and served by the fallback model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.partitioned import FEATURES, ROWS, STORES, store_data, write_partitioned


def independent_models(frame: pd.DataFrame, stores: list[str]):
    """Models fitted here with scikit-learn alone, on the rows the pipeline trains on, with
    the scaling scikit-learn recommends for a linear model (what ``scale: auto`` does)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train, _ = train_test_split(frame, test_size=0.25, random_state=3, stratify=frame["label"])
    per_store = {
        store: make_pipeline(StandardScaler(), LogisticRegression(C=1.0)).fit(
            train.loc[train.store == store, FEATURES].to_numpy(),
            train.loc[train.store == store, "label"],
        )
        for store in stores
    }
    overall = make_pipeline(StandardScaler(), LogisticRegression(C=1.0))
    overall.fit(train[FEATURES].to_numpy(), train["label"])
    return per_store, overall


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, airflow_db):
    from airflow_ml_provider.cli.local_run import run_pipeline_file

    folder = tmp_path_factory.mktemp("partitioned")
    path = write_partitioned(folder, "e2e_stores")
    return path, run_pipeline_file(path)


def test_fifty_partitions_train_as_one_registered_router_model(first_run):
    import mlflow

    from airflow_ml_provider.hooks.mlflow import MlflowHook

    _, result = first_run
    assert result["state"] == "success", result["tasks"]
    for task in ("plan_partitions", "train_partitions", "assemble_model", "register_model"):
        assert result["tasks"][task] == "success", result["tasks"]
    partitions = result["partitions"]
    assert (partitions["trained"], partitions["skipped"], partitions["failed"]) == (50, 2, 0)
    assert result["promoted"] and result["model"]["aliases"]["champion"] == 1

    MlflowHook().get_conn()
    model = mlflow.pyfunc.load_model("models:/e2e_stores_model@champion")
    # processes_per_task 2: each chunk's two processes dumped their models to a file each.
    files = set(model.metadata.flavors["python_function"]["artifacts"])
    assert {"fallback", "chunk-00000-0", "chunk-00000-1", "chunk-00004-1"} <= files
    frame = store_data()
    rows = frame[frame.store.isin(["s03", "s17", "s41"])].groupby("store").head(20)
    unseen = rows.head(10).assign(store="brand_new_store")
    skipped = frame[frame.store == "tiny_a"]
    per_store, overall = independent_models(frame, ["s03", "s17", "s41"])

    predicted = model.predict(rows.drop(columns="label"))
    for store, expected in per_store.items():
        mask = (rows.store == store).to_numpy()
        assert (predicted[mask] == expected.predict(rows.loc[mask, FEATURES].to_numpy())).all()
    router = model.unwrap_python_model().router
    s17 = rows[rows.store == "s17"]
    np.testing.assert_allclose(
        router.predict_proba(s17)[:, 1],
        per_store["s17"].predict_proba(s17[FEATURES].to_numpy())[:, 1],
        rtol=1e-6,
    )
    for other in (unseen, skipped):  # no model of their own: the fallback answers
        np.testing.assert_array_equal(
            model.predict(other.drop(columns="label")), overall.predict(other[FEATURES].to_numpy())
        )
    # The routing is the point: one model per store beats one model for all of them.
    held = frame[frame.store.str.startswith("s")]
    per_store_accuracy = (model.predict(held.drop(columns="label")) == held.label).mean()
    overall_accuracy = (overall.predict(held[FEATURES].to_numpy()) == held.label).mean()
    assert per_store_accuracy > overall_accuracy + 0.1


def test_the_routed_model_serves_over_v2_as_kserve_serves_it(first_run, tmp_path):
    """The registered router (a models-from-code pyfunc with a skops file per chunk) served
    by a real MLServer with its MLflow runtime — what a KServe InferenceService runs for
    ``modelFormat: mlflow`` — answers the model's own input example, as the kserve
    deployer's check sends it (five rows of one store), and rows of three stores with the
    per-store predictions."""
    import mlflow
    from mlflow.artifacts import download_artifacts

    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.serving.open_inference import (
        column_types,
        v2_predictions,
        v2_request,
    )
    from helpers.mlserver import mlserver, post_v2

    MlflowHook().get_conn()
    local = download_artifacts(
        artifact_uri="models:/e2e_stores_model@champion", dst_path=str(tmp_path / "model")
    )
    model = mlflow.pyfunc.load_model(local)
    # The example is rows of one store, so checking and serving it parses one model file.
    assert len(model.input_example) == 5 and model.input_example.store.nunique() == 1
    types = column_types(model.metadata.get_input_schema().to_json())
    frame = store_data()
    rows = frame[frame.store.isin(["s03", "s17", "s41"])].groupby("store").head(5)
    records = rows.drop(columns="label").to_dict(orient="records")
    with mlserver(Path(local), "stores", tmp_path / "mlserver") as port:
        example = (Path(local) / "serving_input_example.json").read_text()
        status, body = post_v2(port, "stores", v2_request(example, types))
        assert status == 200, body
        assert v2_predictions(body) == list(model.predict(model.input_example))
        status, body = post_v2(port, "stores", v2_request({"dataframe_records": records}, types))
        assert status == 200, body
        assert v2_predictions(body) == list(model.predict(rows.drop(columns="label")))


def test_partition_table_and_gate_are_on_the_run(first_run):
    from airflow_ml_provider.hooks.mlflow import MlflowHook

    _, result = first_run
    client = MlflowHook().get_conn()
    run = client.get_run(result["mlflow_run_id"])
    assert run.data.metrics["partitions.trained"] == 50
    assert run.data.metrics["partitions.skipped"] == 2
    assert run.data.tags["airflow_ml.partition_by"] == "store"
    table = pd.read_csv(client.download_artifacts(run.info.run_id, "partitions/metrics.csv"))
    assert len(table) == 52
    skipped = table[table.status == "skipped"].set_index("partition")
    assert set(skipped.index) == {"tiny_a", "tiny_b"}
    assert "fewer than min_partition_rows 20" in skipped.loc["tiny_a", "reason"]
    trained = table[table.status == "trained"]
    assert trained["accuracy"].between(0.5, 1.0).all()
    assert (trained["rows_train"] + trained["rows_test"] == ROWS).all()
    assert trained["rows_train"].sum() == pytest.approx(STORES * ROWS * 0.75, rel=0.02)
    # First model: no champion to compare partitions with (thresholds and the trivial
    # baseline judge it, and it beats both); the table is still written.
    rules = {rule["rule"]: rule["passed"] for rule in result["decision"]["rules"]}
    assert rules == {"threshold_min": True, "beats_baseline": True}
    assert result["decision"]["baseline"]["model"] == "DummyClassifier()"
    gate_table = pd.read_csv(client.download_artifacts(run.info.run_id, "gate/partitions.csv"))
    # One row per partition present in the held-out rows (a tiny store may have none there).
    assert {f"s{i:02d}" for i in range(STORES)} <= set(gate_table["partition"])
    assert gate_table["champion"].isna().all() and not gate_table["judged"].any()


def test_a_run_that_makes_partitions_worse_keeps_the_champion(first_run, tmp_path):
    """Heavily regularised per-store models lose on most stores: partitions_regressed fails."""
    from airflow_ml_provider.cli.local_run import run_pipeline_file

    path, _ = first_run
    worse = path.with_name("e2e_stores_worse.yaml")
    # The same pipeline edited (a model belongs to the one pipeline that registers it).
    worse.write_text(path.read_text().replace("{C: 1.0}", "{C: 0.0005}"))
    result = run_pipeline_file(worse)
    rules = {rule["rule"]: rule for rule in result["decision"]["rules"]}
    assert rules["partitions_regressed"]["passed"] is False, rules
    assert rules["partitions_regressed"]["value"] > 0.1
    assert result["promoted"] is False
    assert result["model"]["aliases"]["champion"] == 1
    assert result["summary"]["partitions"].startswith("50 trained, 2 skipped, 0 failed; ")
    assert "judged partitions regressed" in result["summary"]["partitions"]


def test_reproduce_says_it_does_not_rebuild_partitioned_models(first_run):
    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.ml.reproduce import ReproduceError, reproduce

    _, result = first_run
    with pytest.raises(ReproduceError, match="is a partitioned model \\(one model per 'store'\\)"):
        reproduce(result["mlflow_run_id"], MlflowHook().tracking_uri)


def test_the_gate_scores_the_answers_recorded_in_training(first_run):
    """assemble_model logs the router's held-out answers and hands the gate where they are;
    the gate scores them without loading the challenger (a challenger URI that names no
    model still scores), with the metrics of loading and asking it. Answers recorded for
    other rows (another snapshot hash) are not used."""
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.ml.data.dataset import data_section
    from airflow_ml_provider.ml.evaluation.evaluate import score_models
    from airflow_ml_provider.ml.partitions.answers import recorded_answers

    _, result = first_run
    with create_session() as session:
        run_id = session.scalars(
            select(DagRun.run_id).where(DagRun.dag_id == "e2e_stores").order_by(DagRun.id.desc())
        ).first()
        row = session.scalars(
            XComModel.get_many(
                run_id=run_id, dag_ids="e2e_stores", task_ids="assemble_model", key="return_value"
            )
        ).first()
        training = XComModel.deserialize_value(row)
    entry = training["heldout_answers"]
    assert entry["rows"] == training["rows_test"] and entry["classes"] == [0, 1]
    client = MlflowHook().get_conn()
    split = {"test_size": 0.25, "seed": 3, "stratify": True}
    data = data_section(result["snapshot"], "label", None, split, "store")
    metrics = ["roc_auc", "accuracy"]

    loaded = score_models(
        data, "classification", metrics, training["model_uri"], None, importance=False
    )
    reused = score_models(
        data,
        "classification",
        metrics,
        "models:/no_such_model/1",
        None,
        importance=False,
        challenger_answers=recorded_answers(client, training, data),
    )
    assert reused["challenger"] == pytest.approx(loaded["challenger"])
    assert reused["partitions"] == loaded["partitions"]
    other = {**data, "sha256": "0" * 64}
    assert recorded_answers(client, training, other) is None

"""monitoring: the <pipeline>__monitor DAG through dag.test() (real Airflow, MLflow, GX,
scikit-learn): recent data like the champion's training data asks for nothing; shifted
data updates the retrain Asset, and Airflow's scheduler query then finds the training DAG
due (its schedule includes that Asset)."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers.paths import EXAMPLE_CSV
from helpers.pipelines import edit, run, write_pipeline

MONITORING = """\
monitoring:
  source: data/recent.csv
  schedule: "@hourly"
  drift: {method: psi, threshold: 0.2}
  labels: {source: data/labels.csv, join_on: id, max_drop: 0.05, min_rows: 100}
"""


def retrain_events(pipeline: str) -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == f"x-mlretrain://{pipeline}")
        ).all()
        return [dict(row.extra or {}) for row in rows]


def training_dag_due(dag_id: str) -> bool:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        _, triggered = DagModel.dags_needing_dagruns(session)
        return dag_id in triggered


def run_monitor(path):
    from airflow_ml_provider.cli.airflow_compat import serialize_dag
    from airflow_ml_provider.cli.local_run import run_dag
    from airflow_ml_provider.factory.builder import build_monitor_dag
    from airflow_ml_provider.pipeline_spec.loader import load_pipeline

    dag = build_monitor_dag(load_pipeline(path))
    serialize_dag(dag)
    dag_run = run_dag(dag)
    return {ti.task_id: ti.state for ti in dag_run.get_task_instances()}


def test_drift_or_a_live_metric_drop_triggers_retraining_and_neither_does_not(tmp_path, airflow_db):
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    path = write_pipeline(tmp_path, "monitored")
    edit(path, "alerts:\n", MONITORING + "alerts:\n")
    data = pd.read_csv(EXAMPLE_CSV).reset_index(names="id")
    recent = data.drop(columns=["target"])  # scoring data: no labels
    truth = data[["id", "target"]]
    recent.to_csv(tmp_path / "data" / "recent.csv", index=False)
    truth.to_csv(tmp_path / "data" / "labels.csv", index=False)
    first = run(path)  # the champion, trained on the example data
    assert first["promoted"] is True
    with create_session() as session:
        session.get(DagModel, "monitored").is_paused = False

    # Same distribution, true labels: nothing to do.
    states = run_monitor(path)
    assert states == {
        "snapshot_recent_data": "success",
        "snapshot_labels": "success",
        "check_drift": "success",
        "check_live_metrics": "success",
        "request_retraining": "skipped",
    }
    assert retrain_events("monitored") == []
    assert not training_dag_due("monitored")

    # The labels that arrive contradict the model on 40 % of the rows: its live roc_auc drops.
    wrong = truth.assign(target=truth["target"].where(truth["id"] % 5 >= 2, 1 - truth["target"]))
    wrong.to_csv(tmp_path / "data" / "labels.csv", index=False)
    assert run_monitor(path)["request_retraining"] == "success"
    (event,) = retrain_events("monitored")
    assert event["reason"].startswith("live roc_auc of version 1: ")
    assert "on 569 labelled rows vs 0.99" in event["reason"]
    assert training_dag_due("monitored")

    # Shifted recent data (labels true again): drift asks for retraining.
    truth.to_csv(tmp_path / "data" / "labels.csv", index=False)
    shifted = recent.assign(**{"mean radius": recent["mean radius"] * 1.6})
    shifted = shifted.assign(**{"worst area": shifted["worst area"] * 2.5})
    shifted.to_csv(tmp_path / "data" / "recent.csv", index=False)
    assert run_monitor(path)["request_retraining"] == "success"
    reason = retrain_events("monitored")[-1]["reason"]
    assert reason.startswith("drift: drift in 2 of 30 columns: ")
    assert "mean radius (psi " in reason and "worst area (psi " in reason


def test_the_drift_watcher_fires_from_the_triggerer_without_a_monitor_dag(tmp_path, airflow_db):
    """monitoring.mode watcher: no monitor DAG; the training DAG's retrain Asset carries an
    AssetWatcher whose DriftEventTrigger Airflow registers when the DAG is serialized. The
    trigger's own run() — what the triggerer executes — yields nothing while the data is
    like the champion's training data, and an event once it drifted."""
    import asyncio

    from airflow.models.asset import AssetModel, AssetWatcherModel
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_ml_provider.cli.airflow_compat import serialize_dag
    from airflow_ml_provider.factory import load_dags
    from airflow_ml_provider.triggers.drift import DriftEventTrigger

    path = write_pipeline(tmp_path, "watched")
    edit(
        path,
        "alerts:\n",
        "monitoring: {source: data/recent.csv, mode: watcher, poll_interval: 1s}\nalerts:\n",
    )
    recent = pd.read_csv(EXAMPLE_CSV).drop(columns=["target"])
    recent.to_csv(tmp_path / "data" / "recent.csv", index=False)
    assert run(path)["promoted"] is True  # the champion
    dags = load_dags(tmp_path)
    assert sorted(dags) == ["watched"]  # no __monitor DAG in this mode
    with create_session() as session:  # Airflow keeps watchers of active DAGs' assets only
        session.get(DagModel, "watched").is_paused = False
    serialize_dag(dags["watched"])

    with create_session() as session:
        watcher = session.scalars(
            select(AssetWatcherModel)
            .join(AssetModel, AssetWatcherModel.asset_id == AssetModel.id)
            .where(AssetModel.uri == "x-mlretrain://watched")
        ).one()
        assert watcher.name == "watched-drift"
        assert watcher.trigger.classpath == "airflow_ml_provider.triggers.drift.DriftEventTrigger"
        kwargs = watcher.trigger.kwargs

    async def first_event(seconds: float):
        events = DriftEventTrigger(**kwargs).run()
        try:
            return await asyncio.wait_for(anext(events), seconds)
        finally:
            await events.aclose()

    with pytest.raises(TimeoutError):  # three polls of unchanged data: no event
        asyncio.run(first_event(3.5))
    shifted = recent.assign(**{"mean radius": recent["mean radius"] * 1.6})
    shifted.to_csv(tmp_path / "data" / "recent.csv", index=False)
    event = asyncio.run(first_event(30))
    assert event.payload["reason"].startswith("drift: drift in 1 of 30 columns: mean radius")
    assert len(event.payload["data_sha256"]) == 64

"""schedule: asset conditions from YAML through Airflow's own asset logic (real metadata DB):
producer DAGs run with dag.test() emit asset events, Airflow queues them for the training DAG
(AssetDagRunQueue), and the scheduler's own query (DagModel.dags_needing_dagruns, which
evaluates the serialized DAG's asset condition) decides whether the training DAG is due."""

from __future__ import annotations

import datetime as dt

import pytest

from helpers.spec_files import GOOD, errors_of, write

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def produce(dag_id: str, uri: str) -> None:
    """An upstream ETL DAG whose one task updates the asset ``uri``."""
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG, Asset

    from airflow_ml_provider.cli.airflow_compat import serialize_dag

    with DAG(dag_id, schedule=None, start_date=START) as dag:
        EmptyOperator(task_id="load", outlets=[Asset(uri)])
    serialize_dag(dag)
    assert dag.test().state == "success"


def due_for_assets(dag_id: str) -> bool:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        _, triggered = DagModel.dags_needing_dagruns(session)
        return dag_id in triggered


def test_the_training_dag_runs_when_its_asset_condition_is_met(tmp_path, airflow_db):
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    from airflow_ml_provider.cli.airflow_compat import serialize_dag
    from airflow_ml_provider.factory.builder import build_dag
    from airflow_ml_provider.pipeline_spec import load_pipeline

    text = GOOD.replace("pipeline: churn_ct", "pipeline: churn_on_assets").replace(
        'schedule: "@daily"\n',
        "schedule:\n  assets: gs://etl/orders & (gs://etl/customers | source)\n",
    )
    loaded = load_pipeline(write(tmp_path, text))
    dag = build_dag(loaded)
    serialize_dag(dag)
    with create_session() as session:
        session.get(DagModel, "churn_on_assets").is_paused = False

    produce("etl_orders", "gs://etl/orders")
    assert not due_for_assets("churn_on_assets")  # orders alone do not meet the condition
    produce("etl_training_data", loaded.source_uri)  # the pipeline's own data source
    assert due_for_assets("churn_on_assets")


def test_asset_or_time_and_lists_build_airflow_schedules(tmp_path):
    from airflow.sdk import Asset, AssetAll, AssetAny, AssetOrTimeSchedule

    from airflow_ml_provider.factory.builder import build_dag
    from airflow_ml_provider.pipeline_spec import load_pipeline

    both = GOOD.replace(
        'schedule: "@daily"\n',
        'schedule: {assets: "gs://etl/a | gs://etl/b", cron: "0 3 * * *"}\n',
    )
    timetable = build_dag(load_pipeline(write(tmp_path, both))).timetable
    assert isinstance(timetable, AssetOrTimeSchedule)
    assert timetable.timetable.expression == "0 3 * * *"
    assert isinstance(timetable.asset_condition, AssetAny)
    assert list(timetable.asset_condition.objects) == [Asset("gs://etl/a"), Asset("gs://etl/b")]
    listed = GOOD.replace('schedule: "@daily"\n', "schedule: [gs://etl/a, source]\n")
    loaded = load_pipeline(write(tmp_path, listed, name="listed.yaml"))
    condition = build_dag(loaded).timetable.asset_condition
    assert isinstance(condition, AssetAll)
    assert list(condition.objects) == [Asset("gs://etl/a"), Asset(loaded.source_uri)]


BAD = {
    "unbalanced parenthesis": (
        "schedule: {assets: 'gs://a & (gs://b | gs://c'}\n",
        ":4:20: schedule.assets: the '(' at character 10 is never closed",
    ),
    "eval-looking text": (
        "schedule: {assets: '__import__(\"os\")'}\n",
        "is not an asset URI (scheme://...) or the word 'source'",
    ),
    "dangling operator": (
        "schedule: {assets: 'gs://a &'}\n",
        "expected an asset URI or '(' at character 9 (end of text)",
    ),
    "source of a SQL pipeline": (
        "schedule: [source]\n",
        "'source' names the data source as an asset, which needs a files source",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_asset_schedules_are_refused(tmp_path, case):
    schedule, expected = BAD[case]
    text = GOOD.replace('schedule: "@daily"\n', schedule)
    if case == "source of a SQL pipeline":
        text = text.replace(
            "  source: data/churn.csv\n",
            "  source: {kind: sql, conn_id: warehouse, query: select * from churn}\n",
        )
    path = write(tmp_path, text)
    message = errors_of(path)
    assert expected in message, message
    assert str(path) in message


def test_monitoring_adds_a_monitor_dag_and_its_asset_to_the_training_schedule(tmp_path):
    from airflow.sdk import Asset, AssetOrTimeSchedule

    from airflow_ml_provider.factory import load_dags

    text = GOOD.replace(
        "alerts:\n",
        "monitoring:\n  source: data/recent/*.parquet\n  schedule: '@hourly'\nalerts:\n",
    )
    write(tmp_path, text)
    dags = load_dags(tmp_path)
    assert sorted(dags) == ["churn_ct", "churn_ct__monitor"]
    timetable = dags["churn_ct"].timetable
    assert isinstance(timetable, AssetOrTimeSchedule)  # "@daily" or the monitor's request
    assert timetable.asset_condition == Asset("x-mlretrain://churn_ct")
    monitor = dags["churn_ct__monitor"]
    assert [t.task_id for t in monitor.topological_sort()] == [
        "snapshot_recent_data",
        "check_drift",
        "request_retraining",
    ]
    assert monitor.get_task("request_retraining").outlets == [Asset("x-mlretrain://churn_ct")]
    assert monitor.get_task("snapshot_recent_data").source["uri"] == (
        (tmp_path / "data" / "recent" / "*.parquet").as_uri().replace("%2A", "*")
    )

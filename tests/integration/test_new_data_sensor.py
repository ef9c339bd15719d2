"""NewDataSensor and NewDataTrigger on real parts: local files, a real GCS endpoint
(gcp-storage-emulator), a real SQLite database behind an Airflow connection, and the
deferrable path through dag.test() (which runs the trigger in line) on the real Airflow DB."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from helpers.gcs_emulator import gcs  # noqa: F401  (fixture)

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def sensor(source, store: Path | str, **kwargs):
    from airflow_ml_provider.sensors.data import NewDataSensor

    kwargs.setdefault("task_id", "wait_for_data")
    return NewDataSensor(
        source=source,
        pipeline="p",
        artifact_store=store if isinstance(store, str) else store.as_uri(),
        **kwargs,
    )


def snapshot(source, store: Path | str) -> dict:
    from airflow_ml_provider.operators.snapshot import SnapshotDataOperator

    operator = SnapshotDataOperator(
        task_id="snapshot_data",
        source=source,
        pipeline="p",
        artifact_store=store if isinstance(store, str) else store.as_uri(),
    )
    return operator.execute(context={})


def touch(path: Path, text: str, mtime: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (mtime, mtime))


def first_event(trigger):
    async def run():
        return await anext(trigger.run(), None)

    return asyncio.run(run())


def test_poke_compares_with_the_last_snapshot_and_since(tmp_path):
    source = {"uri": f"file://{tmp_path}/in/*.csv"}
    store = tmp_path / "store"
    check = sensor(source, store, deferrable=False)
    assert not check.poke({})  # no file yet: no data
    touch(tmp_path / "in" / "a.csv", "", 1_700_000_000)
    assert not check.poke({})  # an empty file is not data
    touch(tmp_path / "in" / "a.csv", "x\n1\n", 1_700_000_000)
    assert check.poke({}).xcom_value == 1_700_000_000  # no snapshot yet: any data will do
    snapshot(source, store)
    assert check.baseline() == 1_700_000_000
    assert not check.poke({})  # nothing newer than the snapshot
    touch(tmp_path / "in" / "b.csv", "x\n2\n", 1_700_000_100)
    done = check.poke({})
    assert done.is_done and done.xcom_value == 1_700_000_100
    since = sensor(source, store, deferrable=False, since="2023-11-14T22:15:00+00:00")
    assert since.baseline() == 1_700_000_100 and not since.poke({})


def test_trigger_events_end_the_task_as_success_failure_or_skip(tmp_path):
    from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout, AirflowSkipException

    source = {"uri": f"file://{tmp_path}/*.csv"}
    strict, lenient = sensor(source, tmp_path, timeout=5), sensor(source, tmp_path, soft_fail=True)
    success = {"status": "success", "source": "s", "changed_at": 12.5}
    assert strict.execute_complete({}, success) == 12.5
    timeout = {"status": "timeout", "source": "s", "changed_at": None, "checks": 3}
    with pytest.raises(AirflowSensorTimeout, match="no new data in s within 5s"):
        strict.execute_complete({}, timeout)
    with pytest.raises(AirflowSkipException):
        lenient.execute_complete({}, timeout)
    with pytest.raises(AirflowException, match="checking s failed: OSError: boom"):
        strict.execute_complete({}, {"status": "error", "source": "s", "message": "OSError: boom"})


def test_sql_sensor_uses_the_change_query(tmp_path, monkeypatch):
    db = tmp_path / "warehouse.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE events (id INTEGER, updated_at TEXT)")
        conn.execute("INSERT INTO events VALUES (1, '2026-01-01 00:00:00')")
    conn.close()
    monkeypatch.setenv(
        "AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(db)})
    )
    source = {
        "kind": "sql",
        "conn_id": "warehouse",
        "query": "SELECT * FROM events",
        "change_query": "SELECT max(updated_at) FROM events",
    }
    with pytest.raises(ValueError, match="needs change_query"):
        sensor({**source, "change_query": None}, tmp_path)
    check = sensor(source, tmp_path, deferrable=False)
    assert snapshot(source, tmp_path)["source_changed_at"] == START.timestamp()
    assert not check.poke({})
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO events VALUES (2, '2026-01-01 06:00:00')")
    conn.close()
    assert check.poke({}).xcom_value == START.timestamp() + 6 * 3600


def test_trigger_polls_gcs_until_a_new_object_lands(gcs):  # noqa: F811
    """The trigger's loop on its own: a thread uploads while it polls the emulator."""
    from airflow_ml_provider.triggers.data import NewDataTrigger

    old = gcs.upload("poll/a.csv", "x\n1\n")
    source = {"uri": gcs.uri("poll/"), "format": "csv", "conn_id": gcs.conn_id}
    baseline = old.updated.timestamp()
    uploaded = []
    uploader = threading.Timer(1.0, lambda: uploaded.append(gcs.upload("poll/b.csv", "x\n2\n")))
    uploader.start()
    started = time.monotonic()
    try:
        event = first_event(NewDataTrigger(source, baseline, 0.2, end_at=time.time() + 30))
    finally:
        uploader.join()
    assert 0.9 < time.monotonic() - started < 10
    assert event.payload == {
        "status": "success",
        "source": gcs.uri("poll/"),
        "changed_at": uploaded[0].updated.timestamp(),
    }
    late = NewDataTrigger(source, uploaded[0].updated.timestamp(), 0.1, end_at=time.time() + 0.3)
    assert first_event(late).payload["status"] == "timeout"
    missing = {"kind": "sql", "conn_id": "nope", "query": "x", "change_query": "SELECT 1"}
    broken = NewDataTrigger(missing, None, 0.1, end_at=time.time() + 30)
    event = first_event(broken)
    assert event.payload["status"] == "error" and "nope" in event.payload["message"]
    assert NewDataTrigger(source, 1.0, 0.2, 5.0).serialize() == (
        "airflow_ml_provider.triggers.data.NewDataTrigger",
        {"source": source, "baseline": 1.0, "poke_interval": 0.2, "end_at": 5.0},
    )


def run_sensor_dag(dag_id: str, **sensor_kwargs):
    """Build a one-sensor DAG, dag.test() it; return (task state, XCom return value)."""
    from airflow.models.xcom import XComModel
    from airflow.sdk import DAG
    from airflow.utils.session import create_session

    from airflow_ml_provider.cli.airflow_compat import serialize_dag

    with DAG(dag_id=dag_id, schedule=None, start_date=START, catchup=False) as dag:
        sensor(**sensor_kwargs)
    serialize_dag(dag)
    dag_run = dag.test()
    with create_session() as session:
        (ti,) = dag_run.get_task_instances(session=session)
        rows = session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_id)).all()
        values = {r.key: XComModel.deserialize_value(r) for r in rows}
        state = ti.state.value if hasattr(ti.state, "value") else ti.state
    return state, values.get("return_value")


def test_deferrable_sensor_through_dag_test_on_gcs(tmp_path, airflow_db, gcs):  # noqa: F811
    """deferrable=True: dag.test() runs NewDataTrigger in line against the GCS emulator."""
    source = {"uri": gcs.uri("daily/*.csv"), "conn_id": gcs.conn_id}
    store = tmp_path / "store"
    gcs.upload("daily/2026-01-01.csv", "x\n1\n")
    first = snapshot(source, store)
    newer = gcs.upload("daily/2026-01-02.csv", "x\n2\n")
    assert newer.updated.timestamp() > first["source_changed_at"]

    state, value = run_sensor_dag(
        "new_data_gcs", source=source, store=store, poke_interval=0.2, timeout=30
    )
    assert (state, value) == ("success", newer.updated.timestamp())

    snapshot(source, store)  # now nothing is newer than the last snapshot
    started = time.monotonic()
    state, value = run_sensor_dag(
        "no_new_data_gcs",
        source=source,
        store=store,
        poke_interval=0.2,
        timeout=1,
        soft_fail=True,
    )
    assert (state, value) == ("skipped", None)
    assert time.monotonic() - started < 30

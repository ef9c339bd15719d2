"""data.wait puts a deferrable NewDataSensor in front of snapshot_data: a pipeline runs when its
source changed after the last snapshot and skips (soft_fail) when it did not. Whole runs through
dag.test() with real Airflow (SQLite), MLflow, Great Expectations and scikit-learn."""

from __future__ import annotations

import os
import time

from helpers.paths import EXAMPLE_CSV
from helpers.pipelines import edit, run, versions_of, write_pipeline


def test_runs_on_new_data_and_skips_without_it(tmp_path, airflow_db):
    path = write_pipeline(tmp_path, "e2e_wait")
    edit(
        path,
        "  format: csv\n",
        "  format: csv\n  wait: {timeout: 4s, poke_interval: 1s, soft_fail: true}\n",
    )

    first = run(path)  # no snapshot yet: the existing file counts as new data
    assert first["state"] == "success", first
    assert first["tasks"]["wait_for_data"] == "success"
    assert list(first["tasks"])[0] == "wait_for_data"
    assert versions_of("e2e_wait_model") == [1]

    unchanged = run(path)  # same file, same mtime: the sensor times out and skips the run
    assert unchanged["tasks"]["wait_for_data"] == "skipped"
    assert unchanged["tasks"]["snapshot_data"] == "skipped"
    assert unchanged["tasks"]["register_model"] == "skipped"
    assert versions_of("e2e_wait_model") == [1]

    data = tmp_path / "data" / EXAMPLE_CSV.name
    later = time.time() + 5
    os.utime(data, (later, later))  # new data landed
    third = run(path)
    assert third["state"] == "success", third
    assert third["tasks"]["wait_for_data"] == "success"
    assert third["snapshot"]["source_changed_at"] == later

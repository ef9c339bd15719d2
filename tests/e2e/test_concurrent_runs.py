"""Two local runs of one pipeline started at the same moment (two real `airflow-ml run`
processes on one AIRFLOW_HOME: real Airflow, MLflow, Great Expectations, scikit-learn): the
second waits for the first, is judged against the champion the first left, and every move
of `champion` starts from the version the moving run was judged against — one decision, one
promotion."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers.pipelines import write_pipeline


def test_two_concurrent_runs_promote_one_decision_each(tmp_path, airflow_db):
    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.ml.registry.aliases import history

    path = write_pipeline(tmp_path, "e2e_concurrent")
    # --retrain: the same data twice would otherwise be "nothing new" for the second run.
    command = [sys.executable, "-m", "airflow_ml_provider.cli", "run", str(path), "--json"]
    command += ["--retrain"]
    runs = [
        subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _, err in outputs]
    waited = [err for _, err in outputs if "another local run of e2e_concurrent is running" in err]
    assert len(waited) == 1  # exactly one of them found the other holding the lock

    results = sorted((json.loads(out) for out, _ in outputs), key=lambda r: r["model"]["version"])
    first, second = results
    assert first["metrics"]["champion"] is None and first["promoted"] is True
    # The second was judged against the first's model, not against "no champion".
    assert second["metrics"]["champion"] == first["metrics"]["challenger"]

    moves = [
        row
        for row in history(MlflowHook().get_conn(), "e2e_concurrent_model")
        if row["alias"] == "champion"
    ]
    assert moves[0]["from"] is None and moves[0]["to"] == str(first["model"]["version"])
    for before, after in zip(moves, moves[1:], strict=False):
        assert after["from"] == before["to"]  # no move skipped a champion it never met
    assert len(moves) == 1 + int(second["promoted"])

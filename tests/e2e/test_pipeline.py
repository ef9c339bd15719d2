"""Whole pipelines through dag.test(): real Airflow (SQLite), real MLflow (SQLite store),
real Great Expectations, real scikit-learn models, the local training runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.paths import EXAMPLE_CSV
from helpers.pipelines import (
    champion_asset_events,
    clear_and_rerun,
    mail_parts,
    mlflow_runs_of,
    run,
    tracking_tags,
    versions_of,
    write_pipeline,
)


def test_first_run_promotes_then_a_worse_model_is_not_deployed(
    tmp_path, airflow_db, smtp_server, monkeypatch
):
    # Where the team serves the embedded store's UI: the links and the mail point there.
    monkeypatch.setenv("AIRFLOW__ML_PROVIDER__MLFLOW_UI_URL", "https://mlflow.example.com/")
    first = run(write_pipeline(tmp_path, "e2e_gate", smtp_conn_id="smtp_test"))
    assert first["state"] == "success", first
    assert set(first["tasks"].values()) == {"success"}
    assert first["validation"]["success"] is True
    assert first["promoted"] is True
    assert first["metrics"]["champion"] is None
    assert first["metrics"]["challenger"]["roc_auc"] > 0.9
    assert first["model"]["version"] == 1
    assert first["model"]["aliases"] == {"challenger": 1, "champion": 1}
    assert first["snapshot"]["reused"] is False
    assert first["snapshot"]["sha256"] in tracking_tags(first["mlflow_run_id"]).values()
    assert tracking_tags(first["mlflow_run_id"])["airflow_ml.trigger"] == "manual"
    assert first["summary"]["trigger"] == "manual"  # why it ran, also in the summary
    assert first["links"]["model_version"] == (
        "https://mlflow.example.com/#/models/e2e_gate_model/versions/1"
    )
    assert first["links"]["mlflow_run"].endswith(f"/runs/{first['mlflow_run_id']}")

    worse = write_pipeline(
        tmp_path,
        "e2e_gate",
        estimator="sklearn.dummy.DummyClassifier",
        params="{}",
        smtp_conn_id="smtp_test",
    )
    second = run(worse)
    assert second["state"] == "success", second
    assert second["tasks"]["deploy_model"] == "skipped"
    assert second["tasks"]["notify"] == "success"
    assert second["promoted"] is False
    assert second["snapshot"] == {**first["snapshot"], "reused": True}  # same data, same path
    assert second["model"]["version"] == 2
    assert second["model"]["aliases"] == {"challenger": 2, "champion": 1}
    rules = {r["rule"]: r for r in second["decision"]["rules"]}
    assert rules["beats_champion"]["passed"] is False
    assert rules["beats_champion"]["bound"] == pytest.approx(
        first["metrics"]["challenger"]["roc_auc"]
    )
    assert second["metrics"]["champion"]["roc_auc"] == pytest.approx(
        first["metrics"]["challenger"]["roc_auc"]
    )
    assert versions_of("e2e_gate_model") == [1, 2]
    # A new champion was deployed once: one event of its Asset (the skipped deploy made none).
    assert champion_asset_events("e2e_gate_model") == [first["run_id"]]
    # The event says which model: a downstream DAG reads it from triggering_asset_events.
    ((_, extra),) = champion_asset_events("e2e_gate_model", extra=True)
    assert (extra["model"], extra["version"]) == ("e2e_gate_model", 1)
    assert extra["run_id"] == first["mlflow_run_id"]
    assert extra["metrics"]["roc_auc"] == pytest.approx(first["metrics"]["challenger"]["roc_auc"])

    # alerts.on defaults to [failure, promotion]: the real SMTP server got the promotion
    # mail of the first run and nothing for the second (no event it subscribes to).
    (mail,) = smtp_server.messages
    assert (
        mail["Subject"] == "[airflow-ml] e2e_gate: version 1 of e2e_gate_model is the new champion"
    )
    assert mail["To"] == "ml-oncall@example.com"
    html, text = mail_parts(mail)
    roc_auc = first["metrics"]["challenger"]["roc_auc"]
    assert (
        f'<td style="padding:2px 8px">roc_auc</td><td style="padding:2px 8px">{roc_auc:.4f}</td>'
        in html
    )
    assert "threshold_min" in html and ">pass<" in html
    assert first["snapshot"]["sha256"] in html
    assert f'href="{first["links"]["model_version"]}"' in html
    assert f'href="{first["links"]["mlflow_run"]}"' in html
    assert f"roc_auc      challenger {roc_auc:.4f}   (no champion)" in text
    assert second["summary"]["mailed"] == []


def test_corrupted_data_fails_validation_and_registers_nothing(tmp_path, airflow_db):
    import pandas as pd

    path = write_pipeline(tmp_path, "e2e_corrupt")
    frame = pd.read_csv(EXAMPLE_CSV)
    frame.loc[0:9, "mean radius"] = None
    frame.loc[10:14, "mean radius"] = 400.0
    frame.to_csv(tmp_path / "data" / EXAMPLE_CSV.name, index=False)

    result = run(path)
    assert result["state"] == "failed"
    assert result["tasks"]["snapshot_data"] == "success"
    assert result["tasks"]["validate_data"] == "failed"
    assert result["error"]["task"] == "validate_data"  # the cause, not the skipped steps
    message = result["error"]["message"]
    assert "\n" not in message
    # What the UI, --json and the mail show names each failed expectation and its column.
    assert message.startswith("data validation failed (2 problem(s)): ")
    assert "expect_column_values_to_not_be_null on column 'mean radius' failed" in message
    assert "expect_column_values_to_be_between on column 'mean radius' failed" in message
    for task in ("train_model", "evaluate_model", "register_model", "deploy_model"):
        assert result["tasks"][task] == "upstream_failed"
    failed = {f["expectation"]: f for f in result["validation"]["failed_expectations"]}
    assert failed["expect_column_values_to_not_be_null"]["unexpected_count"] == 10
    assert failed["expect_column_values_to_be_between"]["unexpected_count"] == 5
    assert 400.0 in failed["expect_column_values_to_be_between"]["examples"]
    assert result["model"]["aliases"] == {}
    assert versions_of("e2e_corrupt_model") == []


@pytest.mark.parametrize("training", ["in_process", "subprocess"])
def test_a_training_error_is_the_runs_error_in_one_line(
    tmp_path, airflow_db, monkeypatch, capsys, training
):
    """A model that cannot be fitted (a penalty its solver does not support: only fit
    finds out): the run's error names train_model and scikit-learn's own message, the same
    whether training ran in the task's process or in a subprocess; the summary prints it."""
    from airflow_ml_provider.cli.run_report import print_summary

    monkeypatch.setenv("AIRFLOW__ML_PROVIDER__LOCAL_TRAINING", training)
    path = write_pipeline(
        tmp_path,
        f"e2e_unfittable_{training}",
        estimator="sklearn.linear_model.LogisticRegression",
        params="{penalty: l1, solver: lbfgs}",
    )
    result = run(path)
    assert result["state"] == "failed"
    error = result["error"]
    assert error["task"] == "train_model"
    assert error["message"].startswith("training failed: ValueError: Solver lbfgs supports only")
    print_summary(result)
    assert f"failed: train_model: {error['message']}" in capsys.readouterr().out


def test_rerunning_register_model_in_the_same_run_creates_no_second_version(tmp_path, airflow_db):
    from airflow.dag_processing.dagbag import DagBag  # noqa: F401  (Airflow is configured)

    from airflow_ml_provider.cli.local_run import collect_result, run_dag
    from airflow_ml_provider.factory.builder import build_dag
    from airflow_ml_provider.pipeline_spec.loader import load_pipeline

    loaded = load_pipeline(write_pipeline(tmp_path, "e2e_rerun"))
    dag = build_dag(loaded)
    first = run_dag(dag)
    assert first.state == "success"
    assert versions_of("e2e_rerun_model") == [1]

    # Clear register_model in the same DAG run and run it again, the way dag.test() runs a
    # scheduled task instance (Airflow's own in-process runner); upstream results stay.
    again = clear_and_rerun(dag, first.run_id, "register_model")
    assert again.run_id == first.run_id
    result = collect_result(dag, again, "e2e_rerun_model", "mlflow_default")
    assert result["tasks"]["register_model"] == "success"
    assert again.get_task_instance("register_model").try_number == 2  # it really ran again
    assert versions_of("e2e_rerun_model") == [1]
    assert result["model"]["aliases"] == {"challenger": 1, "champion": 1}

    # The alias history has no repeated moves, and re-deploying changes nothing either.
    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.ml.registry.aliases import history

    client = MlflowHook().get_conn()
    moves = [(r["alias"], r["to"]) for r in history(client, "e2e_rerun_model")]
    assert moves == [("challenger", "1"), ("champion", "1")]
    again = clear_and_rerun(dag, first.run_id, "deploy_model")
    result = collect_result(dag, again, "e2e_rerun_model", "mlflow_default")
    assert result["tasks"]["deploy_model"] == "success"
    assert again.get_task_instance("deploy_model").try_number == 2
    assert result["model"]["aliases"] == {"challenger": 1, "champion": 1}
    assert len(history(client, "e2e_rerun_model")) == 2

    # The steps before are safe to re-run too: the same data is the same snapshot file,
    # validation stores no second schema version, training returns its finished run, the
    # gate decides the same again.
    before = collect_result(dag, first, "e2e_rerun_model", "mlflow_default")
    from airflow_ml_provider import settings

    schemas = Path(settings.artifact_store().removeprefix("file://")) / "schemas" / "e2e_rerun"
    for task in ("snapshot_data", "validate_data", "train_model", "evaluate_model"):
        again = clear_and_rerun(dag, first.run_id, task)
        assert again.get_task_instance(task).try_number == 2
        result = collect_result(dag, again, "e2e_rerun_model", "mlflow_default")
        assert result["tasks"][task] == "success"
    assert result["snapshot"] == {**before["snapshot"], "reused": True}
    assert result["validation"]["success"] is True
    assert sorted(p.name for p in schemas.iterdir()) == ["schema-v1.json"]
    assert result["decision"] == before["decision"]
    assert versions_of("e2e_rerun_model") == [1]
    # train_model found its own finished run of this DAG run, config and data: no new run.
    assert result["mlflow_run_id"] == before["mlflow_run_id"]
    assert len(mlflow_runs_of(first.run_id)) == 1
